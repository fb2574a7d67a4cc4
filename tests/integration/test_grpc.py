#!/usr/bin/python3
"""tests/integration/test_grpc.py — `strata serve` over KServe v2 gRPC with a real client: Python stubs
generated from proto/grpc_service.proto (grpc_tools.protoc) and python3-grpcio. Covers every RPC
(health, metadata, infer with typed contents and raw_input_contents, config, statistics, repository
index/load/unload), outputs against `strata run`, concurrent calls from threads (each answered once
and correctly, counters equal the client's), 25+ bad requests (right status code and a message,
server still serving), an oversized message, SIGTERM with a call in flight (answered, exit 0), and
`strata perf --protocol grpc` against the server (PERF lines, no errors, server counters grew).
Prints "N passed, N failed".
usage: /usr/bin/python3 tests/integration/test_grpc.py [BUILD_DIR]   (default: build)"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np

from harness import RESULTS, check, free_port, strata_run_reference  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("STRATA_BUILD", "build")
STRATA = os.path.join(ROOT, BUILD, "strata") if not os.path.isabs(BUILD) else os.path.join(BUILD, "strata")
grpc = pb = pbg = None  # imported once the stubs exist




def make_stubs(tmp):
    """Python stubs from the project's .proto, into tmp/stubs (imported from there)."""
    global grpc, pb, pbg
    out = os.path.join(tmp, "stubs")
    os.makedirs(out)
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I" + os.path.join(ROOT, "proto"), "--python_out=" + out,
                    "--grpc_python_out=" + out, os.path.join(ROOT, "proto", "grpc_service.proto")], check=True)
    sys.path.insert(0, out)
    import grpc as grpc_mod
    import grpc_service_pb2
    import grpc_service_pb2_grpc
    grpc, pb, pbg = grpc_mod, grpc_service_pb2, grpc_service_pb2_grpc


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def make_int_model(path):
    """ya = a + a (INT8), yb = b * b (INT64): exercises int_contents / int64_contents."""
    import onnx
    from onnx import TensorProto, helper
    g = helper.make_graph(
        [helper.make_node("Add", ["a", "a"], ["ya"]), helper.make_node("Mul", ["b", "b"], ["yb"])], "ints",
        [helper.make_tensor_value_info("a", TensorProto.INT8, ["N", 4]),
         helper.make_tensor_value_info("b", TensorProto.INT64, ["N", 4])],
        [helper.make_tensor_value_info("ya", TensorProto.INT8, ["N", 4]),
         helper.make_tensor_value_info("yb", TensorProto.INT64, ["N", 4])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)


def make_repository(tmp):
    repo = os.path.join(tmp, "repo")
    shutil.copytree(os.path.join(ROOT, "models", "repository"), repo)
    onnx_path = os.path.join(ROOT, "models", "digits_cnn.onnx")
    for v in ("1", "3"):  # two versions served (policy all), the latest by default
        os.makedirs(os.path.join(repo, "digits_v", v))
        shutil.copy(onnx_path, os.path.join(repo, "digits_v", v, "model.onnx"))
    write(os.path.join(repo, "digits_v", "config.pbtxt"), 'max_batch_size: 8\nversion_policy: { all: { } }\ndynamic_batching { }\n')
    # a long batching delay: one request waits ~0.4 s in the queue (SIGTERM while in flight)
    os.makedirs(os.path.join(repo, "digits_slow", "1"))
    shutil.copy(onnx_path, os.path.join(repo, "digits_slow", "1", "model.onnx"))
    write(os.path.join(repo, "digits_slow", "config.pbtxt"), """
max_batch_size: 64
dynamic_batching { preferred_batch_size: [ 64 ] max_queue_delay_microseconds: 400000 }
""")
    os.makedirs(os.path.join(repo, "ints", "1"))
    make_int_model(os.path.join(repo, "ints", "1", "model.onnx"))
    write(os.path.join(repo, "ints", "config.pbtxt"), "max_batch_size: 8\n")
    return repo




class Server:
    def __init__(self, tmp, repo, cache, *extra):
        self.port, self.gport, self.mport = free_port(), free_port(), free_port()
        self.log = open(os.path.join(tmp, "serve-%d.log" % self.gport), "w")
        self.proc = subprocess.Popen([STRATA, "serve", "--model-repository", repo, "--http-port", str(self.port),
                                      "--grpc-port", str(self.gport), "--metrics-port", str(self.mport),
                                      "--plan-cache", cache, "--host", "127.0.0.1"] + list(extra),
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.channel = grpc.insecure_channel("127.0.0.1:%d" % self.gport,
                                             options=[("grpc.max_receive_message_length", 128 << 20),
                                                      ("grpc.max_send_message_length", 128 << 20)])
        self.stub = pbg.GRPCInferenceServiceStub(self.channel)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if self.stub.ServerLive(pb.ServerLiveRequest(), timeout=1).live:
                    return
            except grpc.RpcError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("server did not start (see %s)" % self.log.name)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None
        finally:
            self.channel.close()


def infer_request(x, model="digits", raw=False, **kw):
    req = pb.ModelInferRequest(model_name=model, **kw)
    t = req.inputs.add()
    t.name, t.datatype = "input", "FP32"
    t.shape.extend(x.shape)
    if raw:
        req.raw_input_contents.append(x.astype(np.float32).tobytes())
    else:
        t.contents.fp32_contents.extend(x.astype(np.float32).flatten().tolist())
    return req


def output(resp, i=0, dtype=np.float32):
    o = resp.outputs[i]
    return np.frombuffer(resp.raw_output_contents[i], dtype=dtype).reshape(list(o.shape))


def call(fn, req, timeout=20):
    """(code, details, response) of one call."""
    try:
        return grpc.StatusCode.OK, "", fn(req, timeout=timeout)
    except grpc.RpcError as e:
        return e.code(), e.details() or "", None


# ---- every RPC ---------------------------------------------------------------------------------


def test_rpcs(srv, x, ref):
    s = srv.stub
    check(s.ServerLive(pb.ServerLiveRequest()).live, "ServerLive")
    check(s.ServerReady(pb.ServerReadyRequest()).ready, "ServerReady")
    m = s.ServerMetadata(pb.ServerMetadataRequest())
    check(m.name == "strata" and m.version and "model_repository" in m.extensions, "ServerMetadata: %s" % m)
    m = s.ModelMetadata(pb.ModelMetadataRequest(name="digits"))
    check(m.name == "digits" and list(m.versions) == ["1"] and m.inputs[0].name == "input"
          and m.inputs[0].datatype == "FP32" and list(m.inputs[0].shape) == [-1, 1, 8, 8]
          and list(m.outputs[0].shape) == [-1, 10], "ModelMetadata: %s" % m)
    m = s.ModelMetadata(pb.ModelMetadataRequest(name="digits_v", version="1"))
    check(sorted(m.versions) == ["1", "3"], "ModelMetadata versions: %s" % list(m.versions))
    check(s.ModelReady(pb.ModelReadyRequest(name="digits")).ready, "ModelReady")
    check(s.ModelReady(pb.ModelReadyRequest(name="digits", version="1")).ready, "ModelReady version 1")
    check(not s.ModelReady(pb.ModelReadyRequest(name="digits", version="2")).ready, "ModelReady of a missing version")
    check(not s.ModelReady(pb.ModelReadyRequest(name="nope")).ready, "ModelReady of an unknown model")
    c = s.ModelConfig(pb.ModelConfigRequest(name="digits")).config
    check(c.name == "digits" and c.max_batch_size == 64 and list(c.dynamic_batching.preferred_batch_size) == [16, 32, 64]
          and c.input[0].data_type == pb.TYPE_FP32 and list(c.input[0].dims) == [1, 8, 8]
          and c.output[0].name == "logits" and c.instance_group[0].count == 2
          and c.instance_group[0].kind == pb.ModelInstanceGroup.KIND_CPU
          and c.dynamic_batching.default_queue_policy.max_queue_size == 1024
          and c.version_policy.latest.num_versions == 1, "ModelConfig: %s" % c)
    c = s.ModelConfig(pb.ModelConfigRequest(name="digits_v")).config
    check(c.version_policy.WhichOneof("policy_choice") == "all" and c.max_batch_size == 8, "ModelConfig policy all")
    c = s.ModelConfig(pb.ModelConfigRequest(name="ints")).config
    check([i.data_type for i in c.input] == [pb.TYPE_INT8, pb.TYPE_INT64], "ModelConfig int types: %s" % c.input)

    # infer: typed contents, raw contents, request id, explicit outputs, versions
    r = s.ModelInfer(infer_request(x[:5], id="req-1"))
    check(r.model_name == "digits" and r.model_version == "1" and r.id == "req-1" and r.outputs[0].name == "logits"
          and r.outputs[0].datatype == "FP32" and list(r.outputs[0].shape) == [5, 10]
          and np.allclose(output(r), ref[:5], atol=1e-4), "ModelInfer fp32_contents = strata run")
    r = s.ModelInfer(infer_request(x[5:12], raw=True))
    check(np.allclose(output(r), ref[5:12], atol=1e-4), "ModelInfer raw_input_contents = strata run")
    req = infer_request(x[:1], raw=True)
    req.outputs.add().name = "logits"
    r = s.ModelInfer(req)
    check(len(r.outputs) == 1 and np.allclose(output(r), ref[:1], atol=1e-4), "ModelInfer with requested output")
    check(s.ModelInfer(infer_request(x[:2], model="digits_v")).model_version == "3", "default version is the latest")
    r = s.ModelInfer(infer_request(x[:2], model="digits_v", model_version="1"))
    check(r.model_version == "1" and np.allclose(output(r), ref[:2], atol=1e-4), "explicit version")
    req = infer_request(x[:3], raw=True)
    req.parameters["priority"].int64_param = 1
    req.parameters["timeout"].int64_param = 5000000
    req.parameters["custom"].string_param = "ignored"
    check(np.allclose(output(s.ModelInfer(req)), ref[:3], atol=1e-4), "ModelInfer with parameters")
    # integer types: typed and raw
    a = np.array([[1, -2, 3, 60], [-64, 0, 5, 7]], dtype=np.int8)
    b = np.array([[1, -2, 3, 3000000000], [9, 0, -5, 7]], dtype=np.int64)
    req = pb.ModelInferRequest(model_name="ints")
    ta, tb = req.inputs.add(), req.inputs.add()
    ta.name, ta.datatype, tb.name, tb.datatype = "a", "INT8", "b", "INT64"
    ta.shape.extend(a.shape)
    tb.shape.extend(b.shape)
    ta.contents.int_contents.extend(a.flatten().tolist())
    tb.contents.int64_contents.extend(b.flatten().tolist())
    r = s.ModelInfer(req)
    names = [o.name for o in r.outputs]
    ok = names == ["ya", "yb"] and r.outputs[0].datatype == "INT8" and r.outputs[1].datatype == "INT64"
    check(ok and np.array_equal(output(r, 0, np.int8), a + a) and np.array_equal(output(r, 1, np.int64), b * b),
          "ModelInfer int_contents / int64_contents")
    del ta.contents.int_contents[:]
    del tb.contents.int64_contents[:]
    req.raw_input_contents.extend([a.tobytes(), b.tobytes()])
    r = s.ModelInfer(req)
    check(np.array_equal(output(r, 0, np.int8), a + a) and np.array_equal(output(r, 1, np.int64), b * b),
          "ModelInfer raw INT8 / INT64")

    # statistics
    st = s.ModelStatistics(pb.ModelStatisticsRequest(name="digits")).model_stats
    check(len(st) == 1 and st[0].name == "digits" and st[0].version == "1" and st[0].inference_count >= 16
          and st[0].execution_count >= 1 and st[0].inference_stats.success.count >= 4 and st[0].last_inference > 0
          and len(st[0].batch_stats) >= 1, "ModelStatistics: %s" % (st[0] if st else None))
    st = s.ModelStatistics(pb.ModelStatisticsRequest()).model_stats
    check({(e.name, e.version) for e in st} >= {("digits", "1"), ("digits_v", "1"), ("digits_v", "3"), ("ints", "1")},
          "ModelStatistics of every model")
    st = s.ModelStatistics(pb.ModelStatisticsRequest(name="digits_v", version="3")).model_stats
    check(len(st) == 1 and st[0].version == "3", "ModelStatistics of one version")
    # repository index
    idx = s.RepositoryIndex(pb.RepositoryIndexRequest()).models
    entries = {(e.name, e.version) for e in idx}
    check({("digits", "1"), ("digits_v", "1"), ("digits_v", "3"), ("ints", "1")} <= entries
          and all(e.state == "READY" for e in idx), "RepositoryIndex: %s" % idx)
    check(len(s.RepositoryIndex(pb.RepositoryIndexRequest(ready=True)).models) == len(idx), "RepositoryIndex ready")
    # load / unload are refused in model control mode none (with a message)
    for fn, req in ((s.RepositoryModelLoad, pb.RepositoryModelLoadRequest(model_name="digits")),
                    (s.RepositoryModelUnload, pb.RepositoryModelUnloadRequest(model_name="digits"))):
        code, msg, _ = call(fn, req)
        check(code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.UNAVAILABLE) and "not allowed" in msg,
              "repository load/unload in mode none: %s %s" % (code, msg))
    check(s.ModelReady(pb.ModelReadyRequest(name="digits")).ready, "digits still ready after the refused unload")


# ---- concurrency ---------------------------------------------------------------------------------


def test_concurrency(srv, x, ref):
    s = srv.stub
    before = s.ModelStatistics(pb.ModelStatisticsRequest(name="digits")).model_stats[0]
    n_threads, per_thread = 16, 8
    answers, errors = {}, []
    lock = threading.Lock()
    rows_sent = [0]

    def client(tid):
        rng = np.random.default_rng(tid)
        for k in range(per_thread):
            n = int(rng.integers(1, 4))
            start = int(rng.integers(0, len(x) - n))
            rid = "t%d-%d" % (tid, k)
            try:
                r = s.ModelInfer(infer_request(x[start:start + n], raw=bool(k % 2), id=rid), timeout=30)
                got = output(r)
                with lock:
                    answers.setdefault(rid, []).append(r.id == rid and np.allclose(got, ref[start:start + n], atol=1e-4))
                    rows_sent[0] += n
            except grpc.RpcError as e:
                with lock:
                    errors.append("%s: %s %s" % (rid, e.code(), e.details()))

    threads = [threading.Thread(target=client, args=(t,)) for t in range(n_threads)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.time() - t0
    total = n_threads * per_thread
    check(not errors, "concurrent calls: errors %s" % errors[:5])
    check(len(answers) == total and all(len(v) == 1 for v in answers.values()), "each call answered exactly once")
    check(all(v[0] for v in answers.values()), "every concurrent answer is the right output for its input and id")
    after = s.ModelStatistics(pb.ModelStatisticsRequest(name="digits")).model_stats[0]
    check(after.inference_stats.success.count - before.inference_stats.success.count == total
          and after.inference_count - before.inference_count == rows_sent[0],
          "server counters equal the client's (%d requests, %d rows)" % (total, rows_sent[0]))
    print("concurrency: %d calls from %d threads in %.2f s, %d executions" %
          (total, n_threads, dt, after.execution_count - before.execution_count), flush=True)


# ---- bad requests --------------------------------------------------------------------------------


def test_bad_requests(srv, x):
    s = srv.stub
    I, NF, UN, RE = (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNIMPLEMENTED,
                     grpc.StatusCode.RESOURCE_EXHAUSTED)
    x1 = x[:1]

    def req(mutate=None, model="digits", raw=False, **kw):
        r = infer_request(x1, model=model, raw=raw, **kw)
        if mutate:
            mutate(r)
        return r

    def set_shape(shape):
        def f(r):
            del r.inputs[0].shape[:]
            r.inputs[0].shape.extend(shape)
        return f

    def add_inputs(n):
        def f(r):
            for i in range(n):
                t = r.inputs.add()
                t.name, t.datatype = "extra%d" % i, "FP32"
                t.shape.append(1)
                t.contents.fp32_contents.append(0.0)
        return f

    def int_req(a_vals, dtype="INT8"):
        r = pb.ModelInferRequest(model_name="ints")
        ta, tb = r.inputs.add(), r.inputs.add()
        ta.name, ta.datatype, tb.name, tb.datatype = "a", dtype, "b", "INT64"
        ta.shape.extend([1, 4])
        tb.shape.extend([1, 4])
        ta.contents.int_contents.extend(a_vals)
        tb.contents.int64_contents.extend([1, 2, 3, 4])
        return r

    def set_attr(attr, value):
        return lambda r: setattr(r.inputs[0], attr, value)

    def wrong_field(r):
        del r.inputs[0].contents.fp32_contents[:]
        r.inputs[0].contents.int64_contents.extend([0] * 64)

    def fp64(r):
        r.inputs[0].datatype = "FP64"
        del r.inputs[0].contents.fp32_contents[:]
        r.inputs[0].contents.fp64_contents.extend([0.0] * 64)

    def fp16(r):
        r.inputs[0].datatype = "FP16"
        del r.inputs[0].contents.fp32_contents[:]

    def raw_and_contents(r):
        r.raw_input_contents.append(x1.tobytes())

    def two_raw(r):
        r.raw_input_contents.append(b"\0" * 4)

    def raw_short(r):
        r.raw_input_contents[0] = r.raw_input_contents[0][:-4]

    def raw_long(r):
        r.raw_input_contents[0] = r.raw_input_contents[0] + b"\0\0\0\0"

    def dup_input(r):
        r.inputs.append(r.inputs[0])

    def unknown_output(r):
        r.outputs.add().name = "nope"

    def dup_output(r):
        r.outputs.add().name = "logits"
        r.outputs.add().name = "logits"

    def many_outputs(r):
        for _ in range(65):
            r.outputs.add().name = "logits"

    def classification(r):
        o = r.outputs.add()
        o.name = "logits"
        o.parameters["classification"].int64_param = 3

    def bad_priority(r):
        r.parameters["priority"].string_param = "high"

    def negative_timeout(r):
        r.parameters["timeout"].int64_param = -5

    def no_inputs(r):
        del r.inputs[:]

    def no_data(r):
        del r.inputs[0].contents.fp32_contents[:]

    cases = [
        ("unknown model", req(model="nope"), NF),
        ("unknown version", req(model_version="7"), NF),
        ("version abc", req(model_version="abc"), I),
        ("version -1", req(model_version="-1"), I),
        ("model name ../x", req(model="../x"), I),
        ("empty model name", req(model=""), I),
        ("wrong dtype (FP64 for FP32)", req(fp64), I),
        ("unknown datatype FLOAT", req(set_attr("datatype", "FLOAT")), I),
        ("BYTES input", req(set_attr("datatype", "BYTES")), I),
        ("FP16 in typed contents", req(fp16), I),
        ("values in the wrong contents field", req(wrong_field), I),
        ("shape/data mismatch (2 rows, 1 row of data)", req(set_shape([2, 1, 8, 8])), I),
        ("no contents at all", req(no_data), I),
        ("wrong fixed dim", req(set_shape([1, 1, 8, 9])), I),
        ("negative dim", req(set_shape([-1, 1, 8, 8])), I),
        ("dims that overflow", req(set_shape([1 << 40, 1 << 40, 8, 8])), I),
        ("rank 9", req(set_shape([1] * 9)), I),
        ("batch 65 > max_batch_size", req(set_shape([65, 1, 8, 8])), I),
        ("raw contents 4 bytes short", req(raw_short, raw=True), I),
        ("raw contents 4 bytes long", req(raw_long, raw=True), I),
        ("two raw entries for one input", req(two_raw, raw=True), I),
        ("raw and typed contents together", req(raw_and_contents), I),
        ("65 inputs", req(add_inputs(64)), I),
        ("no inputs", req(no_inputs), I),
        ("unknown input name", req(set_attr("name", "nope")), I),
        ("empty input name", req(set_attr("name", "")), I),
        ("duplicate input", req(dup_input), I),
        ("unknown output", req(unknown_output), I),
        ("duplicate output", req(dup_output), I),
        ("65 outputs", req(many_outputs), I),
        ("classification output", req(classification), I),
        ("priority as string", req(bad_priority), I),
        ("negative timeout", req(negative_timeout), I),
        ("id of 300 bytes", req(id="i" * 300), I),
        ("INT8 value 300 out of range", int_req([1, 2, 300, 4]), I),
        ("INT8 value -129 out of range", int_req([1, 2, -129, 4]), I),
        ("INT8 input with 3 of 4 values", int_req([1, 2, 3]), I),
    ]
    for what, r, want in cases:
        code, msg, _ = call(s.ModelInfer, r)
        check(code == want and msg, "%s: got %s '%s', want %s" % (what, code, msg, want))
        check(s.ServerLive(pb.ServerLiveRequest()).live, "live after '%s'" % what)
    # the other RPCs' bad requests
    others = [
        ("ModelMetadata of an unknown model", s.ModelMetadata, pb.ModelMetadataRequest(name="nope"), NF),
        ("ModelMetadata version abc", s.ModelMetadata, pb.ModelMetadataRequest(name="digits", version="abc"), I),
        ("ModelConfig of an unknown model", s.ModelConfig, pb.ModelConfigRequest(name="nope"), NF),
        ("ModelStatistics of an unknown model", s.ModelStatistics, pb.ModelStatisticsRequest(name="nope"), NF),
        ("ModelStatistics name ../x", s.ModelStatistics, pb.ModelStatisticsRequest(name="../x"), I),
        ("RepositoryModelLoad name ../x", s.RepositoryModelLoad, pb.RepositoryModelLoadRequest(model_name="../x"), I),
    ]
    for what, fn, r, want in others:
        code, msg, _ = call(fn, r)
        check(code == want and msg, "%s: got %s '%s', want %s" % (what, code, msg, want))
    # bytes that are not the message, and a method the service does not have
    garbage = srv.channel.unary_unary("/inference.GRPCInferenceService/ModelInfer",
                                      request_serializer=lambda b: b, response_deserializer=lambda b: b)
    for what, data in (("truncated varint", b"\x0a\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"),
                       ("length past the end", b"\x2a\x7f\x0a"), ("wrong wire type", b"\x0d\x01\x02\x03\x04")):
        code, msg, _ = call(garbage, data)
        check(code == I and msg, "%s: got %s '%s'" % (what, code, msg))
    nomethod = srv.channel.unary_unary("/inference.GRPCInferenceService/ModelStreamInferX",
                                       request_serializer=lambda b: b, response_deserializer=lambda b: b)
    code, msg, _ = call(nomethod, b"")
    check(code == UN and msg, "unknown method: got %s '%s'" % (code, msg))
    # a message over 64 MiB is refused by the channel's limit
    big = pb.ModelInferRequest(model_name="digits")
    t = big.inputs.add()
    t.name, t.datatype = "input", "FP32"
    t.shape.extend([1, 1, 8, 8])
    big.raw_input_contents.append(b"\0" * ((64 << 20) + 16))
    t0 = time.time()
    code, msg, _ = call(s.ModelInfer, big, timeout=30)
    check(code == RE and msg, "message over 64 MiB: got %s '%s' in %.2f s" % (code, msg[:100], time.time() - t0))
    # still serving, and correctly
    r = s.ModelInfer(infer_request(x[:2], raw=True))
    check(list(output(r).shape) == [2, 10], "still serving after the bad requests")
    check(s.ServerReady(pb.ServerReadyRequest()).ready, "still ready after the bad requests")
    print("bad requests: %d infer cases, %d other-RPC cases, 3 undecodable, 1 unknown method, 1 oversized" %
          (len(cases), len(others)), flush=True)


# ---- strata perf --protocol grpc ----------------------------------------------------------------------


def test_perf(srv):
    """`strata perf --protocol grpc`: a PERF line per level, no errors, the server counted every completion."""
    def success():
        st = srv.stub.ModelStatistics(pb.ModelStatisticsRequest(name="digits")).model_stats
        return sum(e.inference_stats.success.count for e in st)
    before = success()
    p = subprocess.run([STRATA, "perf", "--url", "127.0.0.1:%d" % srv.gport, "--model", "digits", "--protocol", "grpc",
                        "--concurrency", "1,4", "--duration", "2"], capture_output=True, text=True, timeout=120)
    after = success()
    lines = [dict(kv.split("=", 1) for kv in l.split()[1:]) for l in p.stdout.splitlines() if l.startswith("PERF ")]
    check(p.returncode == 0 and [l.get("concurrency") for l in lines] == ["1", "4"],
          "perf grpc: rc %d, lines %s, stderr %s" % (p.returncode, lines, p.stderr[-300:]))
    completed = sum(int(l.get("ok", 0)) for l in lines)
    for l in lines:
        check(float(l["throughput"]) > 0 and l["errors"] == "0" and l["transport_errors"] == "0" and l["server"] == "yes",
              "perf grpc line: %s" % l)
    # warmup and edge-of-window calls count on the server too: it grew by at least the completed count
    check(completed > 0 and after - before >= completed, "perf grpc: server success %d -> %d, perf completed %d" %
          (before, after, completed))
    # nothing listening: an error exit with a message, quickly, no hang
    t0 = time.time()
    p = subprocess.run([STRATA, "perf", "--url", "127.0.0.1:%d" % free_port(), "--model", "digits", "--protocol", "grpc",
                        "--concurrency", "1", "--duration", "1", "--timeout", "5"], capture_output=True, text=True, timeout=60)
    check(p.returncode == 1 and "gRPC status" in p.stderr and time.time() - t0 < 10,
          "perf grpc, connection refused: rc %d, stderr %s" % (p.returncode, p.stderr[-300:]))


# ---- explicit model control ------------------------------------------------------------------------


def test_explicit(tmp, repo, cache, x, ref):
    srv = Server(tmp, repo, cache, "--model-control-mode", "explicit", "--load-model", "digits")
    try:
        s = srv.stub
        check(s.ModelReady(pb.ModelReadyRequest(name="digits")).ready, "explicit: digits loaded at start")
        check(not s.ModelReady(pb.ModelReadyRequest(name="ints")).ready, "explicit: ints not loaded at start")
        code, msg, _ = call(s.RepositoryModelLoad, pb.RepositoryModelLoadRequest(model_name="ints"), timeout=60)
        check(code == grpc.StatusCode.OK, "explicit: RepositoryModelLoad ints: %s %s" % (code, msg))
        check(s.ModelReady(pb.ModelReadyRequest(name="ints")).ready, "explicit: ints ready after load")
        code, msg, _ = call(s.RepositoryModelUnload, pb.RepositoryModelUnloadRequest(model_name="digits"))
        check(code == grpc.StatusCode.OK, "explicit: RepositoryModelUnload digits: %s %s" % (code, msg))
        deadline = time.time() + 10
        while s.ModelReady(pb.ModelReadyRequest(name="digits")).ready and time.time() < deadline:
            time.sleep(0.05)
        check(not s.ModelReady(pb.ModelReadyRequest(name="digits")).ready, "explicit: digits not ready after unload")
        code, msg, _ = call(s.ModelInfer, infer_request(x[:1]))
        check(code in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE) and msg,
              "explicit: infer on an unloaded model: %s %s" % (code, msg))
        idx = {e.name: e.state for e in s.RepositoryIndex(pb.RepositoryIndexRequest()).models}
        check(idx.get("digits") not in (None, "READY") and idx.get("ints") == "READY", "explicit: index %s" % idx)
        code, msg, _ = call(s.RepositoryModelLoad, pb.RepositoryModelLoadRequest(model_name="digits"), timeout=60)
        check(code == grpc.StatusCode.OK, "explicit: load digits again: %s %s" % (code, msg))
        r = s.ModelInfer(infer_request(x[:4], raw=True))
        check(np.allclose(output(r), ref[:4], atol=1e-4), "explicit: infer after reload = strata run")
        code, msg, _ = call(s.RepositoryModelLoad, pb.RepositoryModelLoadRequest(model_name="no_such_model"))
        check(code == grpc.StatusCode.INVALID_ARGUMENT and msg, "explicit: load of a missing model: %s %s" % (code, msg))
        req = pb.RepositoryModelLoadRequest(model_name="digits")
        req.parameters["config"].string_param = "{}"
        code, msg, _ = call(s.RepositoryModelLoad, req)
        check(code == grpc.StatusCode.INVALID_ARGUMENT and "config" in msg, "explicit: load with a config override: %s" % code)
    finally:
        rc = srv.stop()
        check(rc == 0, "explicit: SIGTERM exit %s" % rc)


def main():
    if not os.path.exists(STRATA):
        print("no %s: build first" % STRATA)
        return 2
    x = np.load(os.path.join(ROOT, "models", "digits_test_x.npy")).astype(np.float32)
    tmp = tempfile.mkdtemp(prefix="strata-grpc-test-")
    srv = None
    t_start = time.time()
    try:
        make_stubs(tmp)
        repo = make_repository(tmp)
        cache = os.path.join(tmp, "plan-cache")
        ref = strata_run_reference(STRATA, tmp, x)
        t0 = time.time()
        srv = Server(tmp, repo, cache)
        print("server up in %.2f s" % (time.time() - t0), flush=True)
        test_rpcs(srv, x, ref)
        test_concurrency(srv, x, ref)
        test_bad_requests(srv, x)
        test_perf(srv)
        # SIGTERM with a call in flight (0.4 s batching delay): it is answered, then exit 0
        results = []

        def slow():
            code, msg, r = call(srv.stub.ModelInfer, infer_request(x[:1], model="digits_slow", raw=True))
            results.append(code == grpc.StatusCode.OK and np.allclose(output(r), ref[:1], atol=1e-4))
        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.15)
        t0 = time.time()
        rc = srv.stop()
        th.join()
        srv = None
        check(rc == 0 and results == [True], "SIGTERM drains: in-flight call answered %s, exit %s (%.2f s)" %
              (results, rc, time.time() - t0))
        test_explicit(tmp, repo, cache, x, ref)
    finally:
        if srv:
            srv.proc.kill()
        if RESULTS["failed"]:
            for name in sorted(os.listdir(tmp)):
                if name.startswith("serve-"):
                    print("---- %s (last 30 lines) ----\n%s" % (name, "".join(open(os.path.join(tmp, name)).readlines()[-30:])))
        shutil.rmtree(tmp, ignore_errors=True)
    print("total %.1f s" % (time.time() - t_start))
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
