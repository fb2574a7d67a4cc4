# Strata — plain Make build. `make` builds the library, the CLI and the tests; `make test` runs
# the quick tier (unit tests, conformance against the baseline, layer check).
CC      ?= cc
BUILD   ?= build
OPT     ?= -O2
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
           -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN    += -Werror
endif
CFLAGS  += -std=c11 $(OPT) -g -fPIC -fvisibility=hidden -D_DEFAULT_SOURCE $(WARN) -Iinclude -Isrc -Itests \
           -I$(BUILD)/gen
LDLIBS  += -lcjson -lmicrohttpd -lgrpc -lgpr -lprotobuf-c -ldnnl -lgomp -lm -lpthread

SRC     := $(sort $(wildcard src/core/*.c src/kernels/*.c src/kernels/ref/*.c src/kernels/x86/*.c src/kernels/dnnl/*.c \
                             src/ir/*.c src/serialize/*.c src/optimize/*.c src/compile/*.c \
                             src/runtime/*.c src/server/*.c))
OBJ     := $(SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/grpc_service.pb-c.o
TOOLSRC := $(sort $(wildcard tools/*.c))
TESTSRC := $(sort $(wildcard tests/*.c tests/unit/*.c tests/kernels/*.c))
FUZZSRC := $(sort $(wildcard tests/fuzz/*.c))
DEPS    := $(OBJ:.o=.d) $(TOOLSRC:%.c=$(BUILD)/%.d) $(TESTSRC:%.c=$(BUILD)/%.d) $(FUZZSRC:%.c=$(BUILD)/%.d)

# Fuzz targets (tests/fuzz/fuzz_<name>.c): `make fuzz` builds them with clang, libFuzzer and
# ASan/UBSan into build-fuzz/; `all` builds plain replay programs for their regression inputs.
FUZZ    := onnx plan safetensors npy tensor config
SAN     ?=
CFLAGS  += $(SAN)

all: $(BUILD)/strata $(BUILD)/strata-test $(FUZZ:%=$(BUILD)/fuzz/replay_%)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(call isa_flags,$<) -MMD -MP -c $< -o $@

# gRPC messages: C code generated from proto/ by protoc-c (not committed).
$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(dir $@)
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<
$(BUILD)/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/src/server/kserve_grpc.o $(BUILD)/tools/cmd_perf.o: $(BUILD)/gen/grpc_service.pb-c.h

# The content hash runs over whole plan files at open: -O3 lets the compiler vectorise it.
$(BUILD)/src/core/hash.o: OPT := -O3

# ISA flags come from the file name's suffix only (kernels/x86/<op>_<dtype>_<isa>.c), so no
# other file is built with them and the library runs on any x86-64 (dispatch is at run time).
ISA_avx2       := -mavx2 -mfma -mf16c
ISA_avx512     := -mavx512f -mavx512bw -mavx512dq -mavx512vl -mfma -mf16c
ISA_avx512vnni := $(ISA_avx512) -mavx512vnni
ISA_avx512bf16 := $(ISA_avx512) -mavx512bf16
ISA_amx        := $(ISA_avx512) -mamx-tile -mamx-int8 -mamx-bf16
isa_flags = $(if $(findstring /x86/,$(1)),$(ISA_$(lastword $(subst _, ,$(basename $(notdir $(1)))))))

$(BUILD)/libstrata.a: $(OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/strata: $(TOOLSRC:%.c=$(BUILD)/%.o) $(BUILD)/libstrata.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/strata-test: $(TESTSRC:%.c=$(BUILD)/%.o) $(BUILD)/libstrata.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fuzz/replay_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay.o $(BUILD)/libstrata.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/libstrata.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-targets: $(FUZZ:%=$(BUILD)/fuzz/fuzz_%)

fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang OPT=-O1 \
	    SAN="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	    fuzz-targets

# The replay programs under ASan and UBSan (gcc, no clang needed): `make test` replays the fuzz
# regression inputs with them, so an out-of-bounds read that a plain build survives still fails.
replay-asan:
	$(MAKE) BUILD=build-asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	    $(FUZZ:%=build-asan/fuzz/replay_%)

# The quick tier: unit tests, the conformance suite against its baseline, the layer rule.
test: all
	@bash tests/run_all.sh

check-layers:
	@bash tools/check_layers.sh

clean:
	rm -rf $(BUILD)

.PHONY: all test clean check-layers fuzz fuzz-targets replay-asan
-include $(DEPS)
