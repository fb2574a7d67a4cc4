/* tests/unit/test_server.c — the server layer's pure parts: config.pbtxt parsing (fields, errors
 * with line:column, bounds), model name rules, and the dynamic batcher's decisions. */
#include <stdlib.h>
#include <string.h>

#include "server/internal.h"
#include "test.h"

static strata_status parse(const char *text, model_config *c)
{
    model_config_init(c, "m");
    return model_config_parse(text, strlen(text), "config.pbtxt", c);
}

TEST(test_model_config_parses_triton_fields)
{
    model_config *c = malloc(sizeof *c);
    const char *text =
        "name: \"m\"  # a comment\n"
        "platform: 'onnxruntime_onnx'\n"
        "max_batch_size: 64\n"
        "input [ { name: \"input\" data_type: TYPE_FP32 dims: [ 1, 8, 8 ] reshape: { shape: [ 64 ] } } ]\n"
        "output { name: \"logits\", data_type: TYPE_FP32, dims: [ 10 ] }\n"
        "dynamic_batching { preferred_batch_size: [ 16, 32 ] max_queue_delay_microseconds: 500\n"
        "  default_queue_policy { max_queue_size: 8 default_timeout_microseconds: 1000 timeout_action: DELAY } }\n"
        "instance_group [ { count: 2 kind: KIND_CPU }, { count: 1 } ]\n"
        "version_policy: { specific: { versions: [ 1, 3 ] } }\n"
        "model_warmup [ { name: \"w\" batch_size: 1 } ]\n";
    EXPECT_OK(parse(text, c));
    EXPECT_EQ(c->max_batch_size, 64);
    EXPECT(strcmp(c->platform, "onnxruntime_onnx") == 0);
    EXPECT_EQ(c->n_inputs, 1);
    EXPECT_EQ(c->inputs[0].dtype, STRATA_DTYPE_F32);
    EXPECT_EQ(c->inputs[0].rank, 3);
    EXPECT_EQ(c->inputs[0].reshape_rank, 1);
    EXPECT_EQ(c->inputs[0].reshape[0], 64);
    EXPECT_EQ(c->n_outputs, 1);
    EXPECT_EQ(c->outputs[0].dims[0], 10);
    EXPECT(c->dynamic_batching);
    EXPECT_EQ(c->n_preferred, 2);
    EXPECT_EQ(c->preferred[1], 32);
    EXPECT_EQ(c->max_queue_delay_us, 500);
    EXPECT_EQ(c->max_queue_size, 8);
    EXPECT_EQ(c->default_timeout_us, 1000);
    EXPECT(c->timeout_delay);
    EXPECT_EQ(c->instance_count, 3);
    EXPECT_EQ(c->policy, POLICY_SPECIFIC);
    EXPECT_EQ(c->n_policy_versions, 2);
    EXPECT_EQ(c->policy_versions[1], 3);
    cJSON *j = model_config_to_json(c);
    char *s = cJSON_PrintUnformatted(j);
    EXPECT_STR_CONTAINS(s, "\"max_batch_size\":64");
    EXPECT_STR_CONTAINS(s, "\"data_type\":\"TYPE_FP32\"");
    cJSON_free(s);
    cJSON_Delete(j);
    free(c);
}

TEST(test_model_config_precision_parameter)
{
    model_config *c = malloc(sizeof *c);
    EXPECT_OK(parse("parameters { key: \"precision\" value { string_value: \"bf16\" } }\n"
                    "parameters { key: \"other\" value { string_value: \"x\" } }\n", c));
    EXPECT(strcmp(c->precision, "bf16") == 0);
    EXPECT_OK(parse("parameters [ { key: \"precision\" value: { string_value: \"fp32\" } } ]\n", c));
    EXPECT(strcmp(c->precision, "") == 0);
    EXPECT_EQ(parse("max_batch_size: 1\nparameters { key: \"precision\" value { string_value: \"fp16\" } }\n", c),
              STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "config.pbtxt:2:");
    EXPECT_STR_CONTAINS(strata_last_error(), "'fp16'");
    EXPECT_EQ(parse("parameters { key: \"precision\" value { int_value: 3 } }\n", c), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "int_value");
    free(c);
}

TEST(test_model_config_errors_name_line_and_column)
{
    model_config *c = malloc(sizeof *c);
    EXPECT_STATUS(parse("max_batch_size: 4\nbogus: 1\n", c), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "config.pbtxt:2:1: unknown field 'bogus'");
    EXPECT_STATUS(parse("max_batch_size: abc\n", c), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "config.pbtxt:1:1");
    EXPECT_STATUS(parse("max_batch_size: 99999999999999999999999\n", c), STRATA_INVALID_MODEL);
    EXPECT_STATUS(parse("input { name: \"x\" data_type: TYPE_FP128 dims: [1] }", c), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "TYPE_FP128");
    EXPECT_STATUS(parse("input { name: \"x\" data_type: TYPE_FP32 }", c), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "no dims");
    EXPECT_STATUS(parse("name: \"other\"", c), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "folder name");
    EXPECT_STATUS(parse("dynamic_batching { ", c), STRATA_INVALID_MODEL);
    EXPECT_STATUS(parse("name: \"m", c), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "unterminated string");
    EXPECT_STATUS(parse("max_batch_size: 4 dynamic_batching { preferred_batch_size: [ 8 ] }", c), STRATA_INVALID_MODEL);
    EXPECT_STATUS(parse("version_policy { latest { num_versions: 1 } all { } }", c), STRATA_INVALID_MODEL);
    EXPECT_STATUS(parse("instance_group { kind: KIND_GPU }", c), STRATA_INVALID_MODEL);
    EXPECT_STATUS(parse("sequence_batching { }", c), STRATA_INVALID_MODEL);
    /* nesting is bounded: 40 levels of messages */
    char deep[400] = "optimization ";
    for (int i = 0; i < 40; i++) strcat(deep, "{ a ");
    EXPECT_STATUS(parse(deep, c), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "deeper than 32");
    free(c);
}

TEST(test_model_config_name_rule)
{
    EXPECT(model_config_name_valid("digits"));
    EXPECT(model_config_name_valid("_a.b-c9"));
    EXPECT(!model_config_name_valid(""));
    EXPECT(!model_config_name_valid(".hidden"));
    EXPECT(!model_config_name_valid("-x"));
    EXPECT(!model_config_name_valid("../etc"));
    EXPECT(!model_config_name_valid("a%00b"));
    char longname[200];
    memset(longname, 'a', 129);
    longname[129] = 0;
    EXPECT(!model_config_name_valid(longname));
    longname[128] = 0;
    EXPECT(model_config_name_valid(longname));
}

TEST(test_batcher_decide)
{
    int64_t pref[] = {4, 8};
    batcher_policy p = {.max_batch_size = 8, .preferred = NULL, .n_preferred = 0, .max_delay_ns = 1000};
    int64_t rows[] = {1, 2, 3, 4, 1};
    uint64_t wait;
    EXPECT_EQ(batcher_decide(&p, rows, 0, 0, &wait), 0);
    /* not full, delay not reached: wait the rest of the delay */
    EXPECT_EQ(batcher_decide(&p, rows, 2, 400, &wait), 0);
    EXPECT_EQ(wait, 600);
    /* delay reached: take what is there */
    EXPECT_EQ(batcher_decide(&p, rows, 2, 1000, &wait), 2);
    /* 1+2+3 = 6 fit, +4 does not: the batch is full */
    EXPECT_EQ(batcher_decide(&p, rows, 5, 0, &wait), 3);
    /* preferred sizes: 1+2+3+... reaches 8 only by skipping; the longest prefix on a preferred size */
    p.preferred = pref;
    p.n_preferred = 2;
    int64_t rows2[] = {1, 3, 4};
    EXPECT_EQ(batcher_decide(&p, rows2, 3, 0, &wait), 3); /* 1+3+4 = 8 = max */
    int64_t rows3[] = {2, 2, 1};
    EXPECT_EQ(batcher_decide(&p, rows3, 3, 0, &wait), 0); /* 5 rows < largest preferred 8 */
    p.max_batch_size = 16;
    int64_t rows4[] = {2, 2, 3, 2, 1};
    EXPECT_EQ(batcher_decide(&p, rows4, 5, 0, &wait), 2); /* 10 >= 8: the prefix on 4 (8 is skipped over) */
    /* no batching: one request at a time */
    p.max_batch_size = 0;
    EXPECT_EQ(batcher_decide(&p, rows, 5, 0, &wait), 1);
}

TEST(test_model_config_model_warmup)
{
    model_config *c = malloc(sizeof *c);
    const char *text =
        "max_batch_size: 8\n"
        "model_warmup [ { name: \"zeros\" batch_size: 4 count: 3\n"
        "  inputs { key: \"x\" value { data_type: TYPE_FP32 dims: [ 4, 5 ] zero_data: true } } },\n"
        "  { name: \"rand\" inputs [ { key: \"x\", value: { data_type: TYPE_FP32, dims: [4, 5], random_data: true } } ] } ]\n"
        "dynamic_batching { priority_levels: 3 default_priority_level: 2 }\n";
    EXPECT_OK(parse(text, c));
    EXPECT_EQ(c->n_warmup, 2);
    EXPECT(strcmp(c->warmup[0].name, "zeros") == 0);
    EXPECT_EQ(c->warmup[0].batch_size, 4);
    EXPECT_EQ(c->warmup[0].count, 3);
    EXPECT_EQ(c->warmup[0].n_inputs, 1);
    EXPECT(strcmp(c->warmup[0].inputs[0].name, "x") == 0);
    EXPECT_EQ(c->warmup[0].inputs[0].dtype, STRATA_DTYPE_F32);
    EXPECT_EQ(c->warmup[0].inputs[0].rank, 2);
    EXPECT_EQ(c->warmup[0].inputs[0].dims[1], 5);
    EXPECT(!c->warmup[0].inputs[0].random);
    EXPECT_EQ(c->warmup[1].batch_size, 1);
    EXPECT_EQ(c->warmup[1].count, 1);
    EXPECT(c->warmup[1].inputs[0].random);
    EXPECT_EQ(c->priority_levels, 3);
    EXPECT_EQ(c->default_priority_level, 2);
    free(c);
}

TEST(test_model_config_model_warmup_errors)
{
    model_config *c = malloc(sizeof *c);
    EXPECT_STATUS(parse("max_batch_size: 2\nmodel_warmup { name: \"w\"\n  batch_size: 4 }", c), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "config.pbtxt:3:3: model_warmup 'w': batch_size 4 is larger than max_batch_size 2");
    EXPECT_STATUS(parse("model_warmup { name: \"w\" batch_size: 2 }", c), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "config.pbtxt:1:26: model_warmup 'w': batch_size 2 is larger than 1");
    EXPECT_STATUS(parse("model_warmup { name: \"w\" inputs { key: \"x\" value { data_type: TYPE_FP32 dims: [1]\n"
                        " input_data_file: \"raw\" } } }", c), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "config.pbtxt:2:2: model_warmup 'w': input_data_file is not supported");
    EXPECT_STATUS(parse("model_warmup { name: \"w\" inputs { key: \"x\" value { data_type: TYPE_FP32 dims: [1] } } }", c),
                  STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "exactly one of zero_data, random_data");
    EXPECT_STATUS(parse("model_warmup { inputs { key: \"x\" value { data_type: TYPE_FP32 dims: [-1] zero_data: true } } }", c),
                  STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "'dims' is -1");
    EXPECT_STATUS(parse("model_warmup { bogus: 1 }", c), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "config.pbtxt:1:16: unknown field 'bogus' in model_warmup");
    EXPECT_STATUS(parse("model_warmup { count: -1 }", c), STRATA_INVALID_MODEL);
    EXPECT_STATUS(parse("dynamic_batching { priority_levels: 2 default_priority_level: 3 }", c), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "config.pbtxt:1:39: default_priority_level 3 is outside 1..priority_levels (2)");
    free(c);
}

/* Checks against the model (node/test_abs: x, y float [3, 4, 5]); max_batch_size 0. */
static strata_status complete_abs(const char *text, model_config *c)
{
    char path[512];
    snprintf(path, sizeof path, "%s/testdata/onnx-backend/node/test_abs/model.onnx", test_shared_dir());
    strata_model *m = NULL;
    strata_status st = parse(text, c);
    if (st == STRATA_OK) st = strata_model_load(path, &m);
    if (st == STRATA_OK) st = model_config_complete(c, m, false);
    strata_model_destroy(m);
    return st;
}

TEST(test_model_config_model_warmup_against_model)
{
    char path[512];
    snprintf(path, sizeof path, "%s/testdata/onnx-backend/node/test_abs/model.onnx", test_shared_dir());
    FILE *f = fopen(path, "rb");
    if (!f) SKIP("backend test data missing");
    fclose(f);
    model_config *c = malloc(sizeof *c);
    EXPECT_OK(complete_abs("model_warmup { name: \"ok\" inputs { key: \"x\" value { data_type: TYPE_FP32 dims: [3, 4, 5] random_data: true } } }", c));
    EXPECT_STATUS(complete_abs("model_warmup { name: \"w\"\n inputs { key: \"nope\" value { data_type: TYPE_FP32 dims: [3, 4, 5] zero_data: true } } }", c),
                  STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "config.pbtxt:2:2: model_warmup 'w': unknown input 'nope'");
    EXPECT_STATUS(complete_abs("model_warmup { name: \"w\"\n inputs { key: \"x\" value { data_type: TYPE_FP32 dims: [3, 4, 6] zero_data: true } } }", c),
                  STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "config.pbtxt:2:2: model_warmup 'w': input 'x' dims [3, 4, 6] do not match the model's [3, 4, 5]");
    EXPECT_STATUS(complete_abs("model_warmup { name: \"w\"\n inputs { key: \"x\" value { data_type: TYPE_INT64 dims: [3, 4, 5] zero_data: true } } }", c),
                  STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "input 'x' is TYPE_INT64, the model wants TYPE_FP32");
    EXPECT_STATUS(complete_abs("model_warmup { name: \"w\" }", c), STRATA_INVALID_MODEL);
    EXPECT_STR_CONTAINS(strata_last_error(), "config.pbtxt:1:1: model_warmup 'w' does not give input 'x'");
    free(c);
}
