#!/usr/bin/python3
"""tests/integration/test_server.py — `strata serve` with real clients (python3-requests and raw
sockets): every KServe v2 endpoint, outputs against `strata run`, dynamic batching under
concurrent clients (exactly one correct answer each, server counters equal the client's), queue
full and expired requests (503 at once), 40+ bad requests from reliability.md 3.2 (right 4xx, JSON
error, server still live), then SIGTERM and exit 0. Prints "N passed, N failed".
usage: /usr/bin/python3 tests/integration/test_server.py [BUILD_DIR]   (default: build)"""
import json
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
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("STRATA_BUILD", "build")
STRATA = os.path.join(ROOT, BUILD, "strata") if not os.path.isabs(BUILD) else os.path.join(BUILD, "strata")




def write_config(path, text):
    with open(path, "w") as f:
        f.write(text)


def make_repository(tmp):
    """The demo repository plus test models: derived config, tiny queue, queue timeout."""
    repo = os.path.join(tmp, "repo")
    shutil.copytree(os.path.join(ROOT, "models", "repository"), repo)
    onnx = os.path.join(ROOT, "models", "digits_cnn.onnx")
    # no config.pbtxt: derived from the model
    os.makedirs(os.path.join(repo, "digits_auto", "1"))
    shutil.copy(onnx, os.path.join(repo, "digits_auto", "1", "model.onnx"))
    # a queue of 2 and a long batching delay: the third waiting request is refused at once
    for name, policy in (("digits_q", "max_queue_size: 2"), ("digits_t", "default_timeout_microseconds: 20000")):
        os.makedirs(os.path.join(repo, name, "1"))
        shutil.copy(onnx, os.path.join(repo, name, "1", "model.onnx"))
        write_config(os.path.join(repo, name, "config.pbtxt"), """
name: "%s"
max_batch_size: 64
input [ { name: "input", data_type: TYPE_FP32, dims: [ 1, 8, 8 ] } ]
output [ { name: "logits", data_type: TYPE_FP32, dims: [ 10 ] } ]
dynamic_batching {
  preferred_batch_size: [ 64 ]
  max_queue_delay_microseconds: 400000
  default_queue_policy { %s }
}
instance_group [ { count: 1, kind: KIND_CPU } ]
""" % (name, policy))
    # two versions, policy "all": both served, the latest by default
    for v in ("1", "3"):
        os.makedirs(os.path.join(repo, "digits_v", v))
        shutil.copy(onnx, os.path.join(repo, "digits_v", v, "model.onnx"))
    write_config(os.path.join(repo, "digits_v", "config.pbtxt"),
                 'max_batch_size: 8\nversion_policy: { all: { } }\ndynamic_batching { }\n')
    # a plan shipped in the repository is used as is (inputs and outputs derived from it)
    os.makedirs(os.path.join(repo, "digits_plan", "1"))
    subprocess.run([STRATA, "compile", onnx, "-o", os.path.join(repo, "digits_plan", "1", "model.plan"),
                    "--profile", "input=1x1x8x8:4x1x8x8:8x1x8x8"], check=True, stdout=subprocess.DEVNULL)
    write_config(os.path.join(repo, "digits_plan", "config.pbtxt"), "max_batch_size: 8\ndynamic_batching { }\n")
    return repo




class Server:
    def __init__(self, repo, cache):
        self.port, self.mport = free_port(), free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log = open(os.path.join(os.path.dirname(cache), "serve.log"), "w")
        self.proc = subprocess.Popen([STRATA, "serve", "--model-repository", repo, "--http-port", str(self.port),
                                      "--metrics-port", str(self.mport), "--plan-cache", cache, "--host", "127.0.0.1",
                                      "--grpc-port", "0"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(self.url + "/v2/health/ready", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError("server did not become ready (see %s)" % self.log.name)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None


def infer_json(x, **extra):
    body = {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32", "data": x.flatten().tolist()}]}
    body.update(extra)
    return body


def infer_binary(x, out_binary=True):
    hdr = {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                       "parameters": {"binary_data_size": x.nbytes}}],
           "outputs": [{"name": "logits", "parameters": {"binary_data": out_binary}}]}
    h = json.dumps(hdr).encode()
    return h + x.astype(np.float32).tobytes(), {"Inference-Header-Content-Length": str(len(h)),
                                                 "Content-Type": "application/octet-stream"}


def decode_binary(r):
    n = int(r.headers["Inference-Header-Content-Length"])
    head = json.loads(r.content[:n])
    out = head["outputs"][0]
    return head, np.frombuffer(r.content[n:n + out["parameters"]["binary_data_size"]], dtype=np.float32).reshape(out["shape"])


def stats(srv, model):
    return requests.get(srv.url + "/v2/models/%s/stats" % model).json()["model_stats"][0]


def metric(text, name, model, extra=""):
    key = '%s{model="%s",version="1"%s} ' % (name, model, extra)
    for line in text.splitlines():
        if line.startswith(key):
            return float(line[len(key):])
    return None


# ---- endpoints ----------------------------------------------------------------------------------


def test_endpoints(srv, x, ref):
    u = srv.url
    r = requests.get(u + "/v2/health/live")
    check(r.status_code == 200 and r.json() == {"live": True}, "live")
    check(requests.get(u + "/v2/health/ready").status_code == 200, "ready")
    r = requests.get(u + "/v2").json()
    check(r["name"] == "strata" and "binary_tensor_data" in r["extensions"], "server metadata: %s" % r)
    r = requests.get(u + "/v2/models/digits").json()
    check(r["name"] == "digits" and r["versions"] == ["1"] and r["inputs"][0]["shape"] == [-1, 1, 8, 8]
          and r["inputs"][0]["datatype"] == "FP32" and r["outputs"][0]["shape"] == [-1, 10], "model metadata: %s" % r)
    check(requests.get(u + "/v2/models/digits/versions/1").json()["name"] == "digits", "model metadata by version")
    r = requests.get(u + "/v2/models/digits/ready")
    check(r.status_code == 200 and r.json()["ready"] is True, "model ready")
    check(requests.get(u + "/v2/models/digits/versions/1/ready").status_code == 200, "model version ready")
    check(requests.get(u + "/v2/models/digits/versions/2/ready").status_code == 404, "missing version not ready")
    c = requests.get(u + "/v2/models/digits/config").json()
    check(c["max_batch_size"] == 64 and c["dynamic_batching"]["preferred_batch_size"] == [16, 32, 64]
          and c["input"][0]["data_type"] == "TYPE_FP32" and c["instance_group"][0]["count"] == 2, "config: %s" % c)
    c = requests.get(u + "/v2/models/digits_auto/config").json()
    check(c["max_batch_size"] == 4 and c["input"][0]["dims"] == [1, 8, 8] and c["output"][0]["name"] == "logits",
          "derived config: %s" % c)
    idx = requests.post(u + "/v2/repository/index").json()
    names = sorted((e["name"], e.get("version")) for e in idx)
    check(("digits", "1") in names and ("digits_v", "3") in names and all(e["state"] == "READY" for e in idx),
          "repository index: %s" % idx)
    check(len(requests.post(u + "/v2/repository/index", json={"ready": True}).json()) == len(idx), "index ready")
    # versions: policy all serves 1 and 3, the default is the latest
    r = requests.get(u + "/v2/models/digits_v").json()
    check(sorted(r["versions"]) == ["1", "3"], "versions: %s" % r)
    r = requests.post(u + "/v2/models/digits_v/infer", json=infer_json(x[:2])).json()
    check(r["model_version"] == "3", "default version is the latest: %s" % r.get("model_version"))
    r = requests.post(u + "/v2/models/digits_v/versions/1/infer", json=infer_json(x[:2])).json()
    check(r["model_version"] == "1", "explicit version")

    # infer: flat JSON, nested JSON, binary in and out, mixed, raw binary
    r = requests.post(u + "/v2/models/digits/infer", json=infer_json(x[:5], id="req-1"))
    j = r.json()
    out = np.array(j["outputs"][0]["data"], dtype=np.float32).reshape(j["outputs"][0]["shape"])
    check(r.status_code == 200 and j["id"] == "req-1" and j["model_name"] == "digits" and out.shape == (5, 10)
          and np.allclose(out, ref[:5], atol=1e-4), "JSON infer vs strata run")
    nested = {"inputs": [{"name": "input", "shape": [3, 1, 8, 8], "datatype": "FP32", "data": x[:3].tolist()}]}
    j = requests.post(u + "/v2/models/digits/infer", json=nested).json()
    check(np.allclose(np.array(j["outputs"][0]["data"]).reshape(3, 10), ref[:3], atol=1e-4), "nested JSON infer")
    body, hdrs = infer_binary(x[:7])
    r = requests.post(u + "/v2/models/digits/infer", data=body, headers=hdrs)
    head, out = decode_binary(r)
    check(r.status_code == 200 and np.allclose(out, ref[:7], atol=1e-4)
          and head["outputs"][0]["parameters"]["binary_data_size"] == 280, "binary infer")
    body, hdrs = infer_binary(x[:2], out_binary=False)
    j = json.loads(requests.post(u + "/v2/models/digits/infer", data=body, headers=hdrs).content)
    check(np.allclose(np.array(j["outputs"][0]["data"]).reshape(2, 10), ref[:2], atol=1e-4), "binary in, JSON out")
    r = requests.post(u + "/v2/models/digits/infer", json=infer_json(x[:2], parameters={"binary_data_output": True}))
    check(r.status_code == 200 and np.allclose(decode_binary(r)[1], ref[:2], atol=1e-4), "binary_data_output")
    r = requests.post(u + "/v2/models/digits/infer", data=x[9].astype(np.float32).tobytes(),
                      headers={"Inference-Header-Content-Length": "0"})
    check(r.status_code == 200 and np.allclose(decode_binary(r)[1], ref[9:10], atol=1e-4), "raw binary request")
    r = requests.get(u + "/v2/models/digits_plan").json()
    check(r.get("platform") == "strata_plan" and r["inputs"][0]["shape"] == [-1, 1, 8, 8], "plan model metadata: %s" % r)
    r = requests.post(u + "/v2/models/digits_plan/infer", json=infer_json(x[:6]))
    check(r.status_code == 200 and np.allclose(np.array(r.json()["outputs"][0]["data"]).reshape(6, 10), ref[:6], atol=1e-4),
          "infer on a shipped model.plan: %s" % r.text[:200])
    r = requests.post(u + "/v2/models/digits/infer", json=infer_json(x[:1], outputs=[{"name": "logits"}]))
    check(r.status_code == 200 and len(r.json()["outputs"]) == 1, "requested output")

    # the whole test split, in batches of 64, against strata run and the labels
    preds = []
    for i in range(0, len(x), 64):
        body, hdrs = infer_binary(x[i:i + 64])
        preds.append(decode_binary(requests.post(u + "/v2/models/digits/infer", data=body, headers=hdrs))[1])
    preds = np.concatenate(preds)
    y = np.load(os.path.join(ROOT, "models", "digits_test_y.npy"))
    acc = float((preds.argmax(1) == y).mean())
    check(np.allclose(preds, ref, atol=1e-4) and (preds.argmax(1) == ref.argmax(1)).all(),
          "450 rows equal strata run (max diff %g)" % np.abs(preds - ref).max())
    check(acc >= 0.98, "accuracy %.4f" % acc)

    # stats and metrics
    s = stats(srv, "digits")
    check(s["name"] == "digits" and s["version"] == "1" and s["inference_stats"]["success"]["count"] > 0
          and s["execution_count"] > 0 and len(s["batch_stats"]) > 0, "stats JSON")
    check(requests.get(u + "/v2/models/stats").json()["model_stats"][0]["name"] == "digits", "all stats")
    check(requests.get(u + "/v2/models/nope/stats").status_code == 404, "stats of an unknown model")
    m = requests.get("http://127.0.0.1:%d/metrics" % srv.mport)
    text = m.text
    check(m.status_code == 200 and m.headers["Content-Type"].startswith("text/plain"), "metrics endpoint")
    for name in ("nv_inference_request_success", "nv_inference_count", "nv_inference_exec_count",
                 "nv_inference_request_duration_us", "nv_inference_queue_duration_us",
                 "nv_inference_compute_input_duration_us", "nv_inference_compute_infer_duration_us",
                 "nv_inference_compute_output_duration_us"):
        check(metric(text, name, "digits") is not None, "metric %s" % name)
    check(metric(text, "nv_inference_request_failure", "digits", ',reason="REJECTED"') is not None, "failure metric")
    check('strata_inference_request_latency_us_bucket{model="digits",version="1",le="+Inf"}' in text
          and "strata_inference_batch_size_bucket" in text and "process_resident_memory_bytes" in text
          and "nv_inference_pending_request_count" in text, "histograms, queue depth, RSS")
    check(metric(text, "nv_inference_request_success", "digits") == s["inference_stats"]["success"]["count"],
          "metrics equal stats")


# ---- batching under concurrency ------------------------------------------------------------------


def test_concurrency(srv, x, ref):
    before = stats(srv, "digits")
    n_threads, per_thread = 16, 25
    answers, errors = {}, []
    lock = threading.Lock()
    rows_sent = [0]

    def client(t):
        rng = np.random.default_rng(t)
        sess = requests.Session()
        for i in range(per_thread):
            k = int(rng.integers(1, 5))
            start = int(rng.integers(0, len(x) - k))
            rid = "%d-%d" % (t, i)
            if i % 2:
                body, hdrs = infer_binary(x[start:start + k])
                r = sess.post(srv.url + "/v2/models/digits/infer", data=body, headers=hdrs)
                out = decode_binary(r)[1] if r.status_code == 200 else None
                got_id = rid
            else:
                r = sess.post(srv.url + "/v2/models/digits/infer", json=infer_json(x[start:start + k], id=rid))
                j = r.json()
                got_id = j.get("id")
                out = np.array(j["outputs"][0]["data"], dtype=np.float32).reshape(k, 10) if r.status_code == 200 else None
            with lock:
                rows_sent[0] += k
                if out is None:
                    errors.append((rid, r.status_code, r.text[:200]))
                elif rid in answers or got_id != rid:
                    errors.append((rid, "duplicate or mismatched id", got_id))
                else:
                    answers[rid] = bool(np.allclose(out, ref[start:start + k], atol=1e-4))

    threads = [threading.Thread(target=client, args=(t,)) for t in range(n_threads)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    dt = time.time() - t0
    n = n_threads * per_thread
    check(not errors, "concurrent errors: %s" % errors[:3])
    check(len(answers) == n and all(answers.values()),
          "every request one correct answer (%d of %d correct)" % (sum(answers.values()), n))
    after = stats(srv, "digits")
    d_success = after["inference_stats"]["success"]["count"] - before["inference_stats"]["success"]["count"]
    d_rows = after["inference_count"] - before["inference_count"]
    d_exec = after["execution_count"] - before["execution_count"]
    check(d_success == n, "server success count %d == client's %d" % (d_success, n))
    check(d_rows == rows_sent[0], "server inference_count %d == rows sent %d" % (d_rows, rows_sent[0]))
    check(after["inference_stats"]["fail"]["count"] == before["inference_stats"]["fail"]["count"], "no failures")
    check(0 < d_exec < n, "dynamic batching formed batches: %d executions for %d requests" % (d_exec, n))
    print("concurrency: %d requests (%d rows) from %d threads in %.2f s, %d executions (avg batch %.1f rows)"
          % (n, rows_sent[0], n_threads, dt, d_exec, d_rows / max(d_exec, 1)), flush=True)


def test_queue_full_and_timeout(srv, x):
    codes, times = [], []
    lock = threading.Lock()

    def one(model, params=None):
        t0 = time.time()
        body = infer_json(x[:1])
        if params:
            body["parameters"] = params
        r = requests.post(srv.url + "/v2/models/%s/infer" % model, json=body)
        with lock:
            codes.append((r.status_code, r.json()))
            times.append(time.time() - t0)

    threads = [threading.Thread(target=one, args=("digits_q",)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [c for c, _ in codes if c == 200]
    full = [(c, j) for c, j in codes if c == 503]
    check(len(ok) == 2 and len(full) == 4 and all("full" in j["error"] for _, j in full),
          "max_queue_size 2: 2 served, 4 refused with 503: %s" % [c for c, _ in codes])
    check(sorted(times)[3] < 0.3, "queue-full answers come at once (%.3f s)" % sorted(times)[3])
    codes.clear(), times.clear()
    one("digits_t")
    check(codes[0][0] == 503 and "timed out" in codes[0][1]["error"] and times[0] < 0.3,
          "queue timeout 20 ms: 503 at once (%s, %.3f s)" % (codes[0], times[0]))
    codes.clear(), times.clear()
    one("digits_q", {"timeout": 10000})
    check(codes[0][0] == 503 and times[0] < 0.3, "per-request timeout: 503 at once (%.3f s)" % times[0])
    s = stats(srv, "digits_q")
    check(s["inference_stats"]["fail"]["count"] == 5 and s["inference_stats"]["success"]["count"] == 2,
          "failures counted: %s" % s["inference_stats"]["fail"])


# ---- bad requests ----------------------------------------------------------------------------------


def raw_http(port, data, read_timeout=5.0):
    """Sends raw bytes; returns the status code of the first response (0 if none)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        buf = b""
        while b"\r\n" not in buf:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
        parts = buf.split(b" ", 2)
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    except (socket.timeout, ConnectionResetError):
        return 0
    finally:
        s.close()


def test_bad_requests(srv, x):
    u = srv.url + "/v2/models/digits/infer"
    good_in = {"name": "input", "shape": [1, 1, 8, 8], "datatype": "FP32", "data": x[0].flatten().tolist()}

    def inp(**kw):
        d = dict(good_in)
        d.update(kw)
        return d

    def body(**kw):
        return json.dumps(dict({"inputs": [good_in]}, **kw))

    deep = lambda n: "[" * n + "1" + "]" * n
    cases = [
        # J1 malformed JSON
        ("truncated JSON", u, '{"inputs": [', {}, 400),
        ("trailing garbage", u, body() + "xyz", {}, 400),
        ("single quotes", u, "{'inputs': []}", {}, 400),
        ("empty body", u, "", {}, 400),
        # J2 nesting
        ("data nested 120 deep", u, '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":%s}]}' % deep(120), {}, 400),
        ("data nested 100000 deep", u, '{"inputs":[{"name":"input","shape":[1],"datatype":"FP32","data":%s}]}' % deep(100000), {}, 400),
        ("parameters nested 120 deep", u, '{"parameters":{"a":%s},"inputs":[]}' % deep(120), {}, 400),
        # J3 duplicates
        ("duplicate inputs key", u, '{"inputs":[],"inputs":[%s]}' % json.dumps(good_in), {}, 400),
        ("duplicate name key", u, '{"inputs":[{"name":"input","name":"x","shape":[1,1,8,8],"datatype":"FP32","data":%s}]}'
         % json.dumps(good_in["data"]), {}, 400),
        # J4 encoding
        ("invalid UTF-8", u, b'{"inputs":[{"name":"\xff\xfe","shape":[1],"datatype":"FP32","data":[1]}]}', {}, 400),
        ("lone surrogate", u, '{"inputs":[{"name":"\\ud800","shape":[1],"datatype":"FP32","data":[1]}]}', {}, 400),
        # J5 numbers
        ("1e999999", u, body(inputs=[inp(data=[1e300] * 63 + [0])]).replace("1e+300", "1e999999", 1), {}, 400),
        ("NaN token", u, body(inputs=[inp(data=[0] * 63)])[:-3] + ', NaN]}]}', {}, 400),
        # J6 structure
        ("inputs missing", u, "{}", {}, 400),
        ("inputs empty", u, '{"inputs":[]}', {}, 400),
        ("inputs not an array", u, '{"inputs":{}}', {}, 400),
        ("input without name", u, json.dumps({"inputs": [{k: v for k, v in good_in.items() if k != "name"}]}), {}, 400),
        ("input without shape", u, json.dumps({"inputs": [{k: v for k, v in good_in.items() if k != "shape"}]}), {}, 400),
        ("input without datatype", u, json.dumps({"inputs": [{k: v for k, v in good_in.items() if k != "datatype"}]}), {}, 400),
        # J7 datatypes
        ("datatype FP128", u, body(inputs=[inp(datatype="FP128")]), {}, 400),
        ("datatype fp32 (case)", u, body(inputs=[inp(datatype="fp32")]), {}, 400),
        ("wrong datatype INT32", u, body(inputs=[inp(datatype="INT32", data=[1] * 64)]), {}, 400),
        # J8 shapes
        ("negative dim", u, body(inputs=[inp(shape=[-1, 1, 8, 8])]), {}, 400),
        ("fractional dim", u, body(inputs=[inp(shape=[1.5, 1, 8, 8])]), {}, 400),
        ("string dim", u, body(inputs=[inp(shape=["1", 1, 8, 8])]), {}, 400),
        ("dim 2^63", u, body(inputs=[inp(shape=[2 ** 63, 1, 8, 8])]), {}, 400),
        ("rank 10000", u, body(inputs=[inp(shape=[1] * 10000)]), {}, 400),
        # J9 overflow
        ("element count overflow", u, body(inputs=[inp(shape=[16, 2 ** 60 + 2])]), {}, 400),
        ("byte size overflow", u, body(inputs=[inp(shape=[4, 2 ** 60 + 2])]), {}, 400),
        # J10 count
        ("fewer elements than shape", u, body(inputs=[inp(data=good_in["data"][:-1])]), {}, 400),
        ("more elements than shape", u, body(inputs=[inp(data=good_in["data"] + [0.0])]), {}, 400),
        # J11 / J12 element types
        ("string in FP32", u, body(inputs=[inp(data=["a"] * 64)]), {}, 400),
        ("jagged nested data", u, body(inputs=[inp(shape=[2, 2], data=[[1, 2, 3], [4]])]), {}, 400),
        ("object in data", u, body(inputs=[inp(data=[{}] * 64)]), {}, 400),
        # J13 inputs
        ("duplicate input names", u, body(inputs=[good_in, good_in]), {}, 400),
        ("unknown input", u, body(inputs=[inp(name="nope")]), {}, 400),
        # J14 outputs
        ("duplicate outputs", u, body(outputs=[{"name": "logits"}, {"name": "logits"}]), {}, 400),
        ("unknown output", u, body(outputs=[{"name": "nope"}]), {}, 400),
        ("100000 outputs", u, body(outputs=[{"name": "logits"}] * 100000), {}, 400),
        # J15 batch
        ("batch 65 > max_batch_size 64", u, body(inputs=[inp(shape=[65, 1, 8, 8], data=[0.0] * (65 * 64))]), {}, 400),
        ("fixed dim mismatch", u, body(inputs=[inp(shape=[1, 1, 8, 9], data=[0.0] * 72)]), {}, 400),
        # J16 parameters
        ("binary_data_size string", u, body(inputs=[inp(parameters={"binary_data_size": "256"})]), {}, 400),
        ("binary_data_size negative", u, body(inputs=[inp(parameters={"binary_data_size": -1})]), {}, 400),
        ("priority as string", u, body(parameters={"priority": "high"}), {}, 400),
        ("timeout negative", u, body(parameters={"timeout": -5}), {}, 400),
    ]
    # B1-B6 binary extension
    h = {"inputs": [{"name": "input", "shape": [1, 1, 8, 8], "datatype": "FP32", "parameters": {"binary_data_size": 256}}]}
    hj = json.dumps(h).encode()
    blob = x[0].astype(np.float32).tobytes()
    icl = lambda v: {"Inference-Header-Content-Length": v}
    cases += [
        ("ICL abc", u, hj + blob, icl("abc"), 400),
        ("ICL -5", u, hj + blob, icl("-5"), 400),
        ("ICL 99999999999", u, hj + blob, icl("99999999999"), 400),
        ("ICL larger than the body", u, hj + blob, icl(str(len(hj) + len(blob) + 1)), 400),
        ("ICL = body, binary_data_size declared", u, hj, icl(str(len(hj))), 400),
        ("binary bytes fewer than declared", u, hj + blob[:-4], icl(str(len(hj))), 400),
        ("binary bytes more than declared", u, hj + blob + b"1234", icl(str(len(hj))), 400),
        ("binary_data_size != shape x dtype", u,
         json.dumps({"inputs": [dict(h["inputs"][0], parameters={"binary_data_size": 252})]}).encode() + blob[:-4],
         icl(str(len(json.dumps({"inputs": [dict(h["inputs"][0], parameters={"binary_data_size": 252})]})))), 400),
        ("data and binary_data_size", u,
         json.dumps({"inputs": [dict(good_in, parameters={"binary_data_size": 256})]}).encode() + blob,
         icl(str(len(json.dumps({"inputs": [dict(good_in, parameters={"binary_data_size": 256})]})))), 400),
        ("raw binary of the wrong size", u, blob[:-4], icl("0"), 400),
    ]
    # R1-R3, R9 routing
    p = srv.url + "/v2/models/"
    cases += [
        ("unknown model", p + "nope/infer", body(), {}, 404),
        ("version abc", p + "digits/versions/abc/infer", body(), {}, 400),
        ("version -1", p + "digits/versions/-1/infer", body(), {}, 400),
        ("version 01", p + "digits/versions/01/infer", body(), {}, 400),
        ("version 2^67", p + "digits/versions/99999999999999999999/infer", body(), {}, 400),
        ("version not served", p + "digits/versions/2/infer", body(), {}, 404),
        ("name %2e%2e%2f", p + "%2e%2e%2fetc/infer", body(), {}, 400),
        ("name a%00b", p + "a%00b/infer", body(), {}, 400),
        ("10 KiB model name", p + "a" * 10240 + "/infer", body(), {}, 414),
        ("index with deep ready", srv.url + "/v2/repository/index", '{"ready":%s}' % deep(250000), {}, 400),
        ("index ready not bool", srv.url + "/v2/repository/index", '{"ready":1}', {}, 400),
    ]
    for what, url, data, hdrs, want in cases:
        r = requests.post(url, data=data if isinstance(data, bytes) else data.encode(), headers=hdrs)
        try:
            err = r.json().get("error")
        except ValueError:
            err = None
        check(r.status_code == want and isinstance(err, str) and err, "%s: got %d %s, want %d" % (what, r.status_code, r.text[:160], want))
        check(requests.get(srv.url + "/v2/health/live").status_code == 200, "live after '%s'" % what)
    # H16 methods
    for what, method, url, want in (("POST on health/live", "POST", srv.url + "/v2/health/live", 405),
                                    ("GET on infer", "GET", u, 405),
                                    ("unknown path", "GET", srv.url + "/v3/models", 404),
                                    ("DELETE on a model", "DELETE", p + "digits", 405)):
        r = requests.request(method, url)
        check(r.status_code == want and "error" in r.json(), "%s: got %d" % (what, r.status_code))
    # HTTP framing with raw bytes (H1-H15)
    port = srv.port
    req = lambda head, body=b"": head.encode() + b"\r\n\r\n" + body
    big = 64 * 1024 * 1024 + 1
    framing = [
        ("unknown method BREW", req("BREW /v2 HTTP/1.1\r\nHost: x"), (400, 501)),
        ("garbage request line", b"\x00\x01garbage\r\n\r\n", (400, 0)),  # libmicrohttpd closes without a status
        ("HTTP/9.9", req("GET /v2 HTTP/9.9\r\nHost: x"), (400, 505)),
        ("URL of 16 KiB", req("GET /v2/" + "a" * 16384 + " HTTP/1.1\r\nHost: x"), (414, 431)),
        ("header of 16 KiB", req("GET /v2 HTTP/1.1\r\nHost: x\r\nX-Big: " + "a" * 16384), (431, 400)),
        ("200 headers", req("GET /v2 HTTP/1.1\r\nHost: x\r\n" + "\r\n".join("X-H%d: v" % i for i in range(200))), (431,)),
        ("1 MiB of headers", req("GET /v2 HTTP/1.1\r\nHost: x\r\n" + "\r\n".join("X-H%d: %s" % (i, "v" * 8000) for i in range(130))), (431, 400, 0)),
        ("Content-Length and Transfer-Encoding", req("POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked", b"0\r\n\r\n"), (400,)),
        ("two Content-Lengths", req("POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3", b"{}"), (400,)),
        ("Content-Length +5", req("POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nContent-Length: +5", b"{}   "), (400,)),
        ("Content-Length 0x10", req("POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10", b"{}"), (400,)),
        ("Content-Length -1", req("POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nContent-Length: -1", b"{}"), (400,)),
        ("Content-Length 2^64", req("POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616", b"{}"), (400, 413)),
        ("Transfer-Encoding gzip, chunked", req("POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked", b"0\r\n\r\n"), (400, 501)),
        ("Content-Length 64 GiB", req("POST /v2/models/digits/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 68719476736"), (413,)),
        ("Expect 100-continue, oversized", req("POST /v2/models/digits/infer HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d" % big), (413, 417)),
        ("gzip Content-Encoding", req("POST /v2/models/digits/infer HTTP/1.1\r\nHost: x\r\nContent-Encoding: gzip\r\nContent-Length: 2", b"{}"), (415, 400)),
        ("non-hex chunk size", req("POST /v2/repository/index HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked", b"zz\r\n{}\r\n0\r\n\r\n"), (400,)),
    ]
    for what, data, want in framing:
        code = raw_http(port, data)
        check(code in want, "%s: got %d, want %s" % (what, code, want))
        check(requests.get(srv.url + "/v2/health/live").status_code == 200, "live after '%s'" % what)
    # H11 with a real oversized body: refused before it is read
    t0 = time.time()
    code = raw_http(port, req("POST /v2/models/digits/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d" % big, b"{" * 65536))
    check(code == 413 and time.time() - t0 < 2, "oversized body: 413 at once (got %d)" % code)
    # chunked body past 64 MiB
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"POST /v2/models/digits/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n" % (1 << 20) + b" " * (1 << 20) + b"\r\n"
    try:
        for _ in range(66):
            s.sendall(chunk)
        s.sendall(b"0\r\n\r\n")
        line = s.recv(4096).split(b" ")
        code = int(line[1]) if len(line) > 1 else 0
    except (BrokenPipeError, ConnectionResetError, socket.timeout):
        code = -1
    s.close()
    check(code in (413, -1), "chunked body past 64 MiB: 413 (got %d)" % code)
    check(requests.get(srv.url + "/v2/health/live").status_code == 200, "live after the oversized chunked body")
    # the server still answers correctly after all of it
    r = requests.post(u, json=infer_json(x[:1]))
    check(r.status_code == 200, "still serving after the bad requests")
    print("bad requests: %d JSON/binary/routing cases, %d framing cases" % (len(cases), len(framing) + 2), flush=True)


def test_model_warmup(tmp, x, ref):
    """model_warmup: a good sample loads and serves; a bad one leaves the model unavailable with the
    reason (file:line:col, the sample's name) in the repository index."""
    repo = os.path.join(tmp, "repo-warmup")
    onnx = os.path.join(ROOT, "models", "digits_cnn.onnx")
    samples = {
        "digits_warm": 'name: "zeros" batch_size: 4 count: 2 inputs { key: "input" value { data_type: TYPE_FP32 '
                       'dims: [ 1, 8, 8 ] zero_data: true } } }, { name: "rand" batch_size: 8 inputs { key: "input" '
                       'value { data_type: TYPE_FP32 dims: [ 1, 8, 8 ] random_data: true } }',
        "digits_badwarm": 'name: "bad" batch_size: 2 inputs { key: "input" value { data_type: TYPE_FP32 '
                          'dims: [ 1, 8, 9 ] zero_data: true } }',
    }
    for name, sample in samples.items():
        os.makedirs(os.path.join(repo, name, "1"))
        shutil.copy(onnx, os.path.join(repo, name, "1", "model.onnx"))
        write_config(os.path.join(repo, name, "config.pbtxt"), """
max_batch_size: 8
dynamic_batching { priority_levels: 2 default_priority_level: 1 }
model_warmup [ { %s } ]
""" % sample)
    port, mport = free_port(), free_port()
    url = "http://127.0.0.1:%d" % port
    log = open(os.path.join(tmp, "serve-warmup.log"), "w")
    proc = subprocess.Popen([STRATA, "serve", "--model-repository", repo, "--http-port", str(port),
                             "--metrics-port", str(mport), "--plan-cache", os.path.join(tmp, "plan-cache-warmup"),
                             "--host", "127.0.0.1", "--grpc-port", "0"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 30
        live = False
        while time.time() < deadline and proc.poll() is None and not live:
            try:
                live = requests.get(url + "/v2/health/live", timeout=1).status_code == 200
            except requests.ConnectionError:
                time.sleep(0.05)
        check(live, "warmup: server live")
        if not live:
            return
        idx = {e["name"]: e for e in requests.post(url + "/v2/repository/index").json()}
        check(idx.get("digits_warm", {}).get("state") == "READY", "warmup: good model_warmup ready: %s" % idx)
        bad = idx.get("digits_badwarm", {})
        check(bad.get("state") == "UNAVAILABLE" and "model_warmup 'bad'" in bad.get("reason", "")
              and "config.pbtxt:4:" in bad.get("reason", "") and "[1, 8, 9]" in bad.get("reason", ""),
              "warmup: bad model_warmup not ready, reason in the index: %s" % bad)
        check(requests.get(url + "/v2/models/digits_badwarm/ready").status_code != 200, "warmup: bad model not ready")
        r = requests.post(url + "/v2/models/digits_warm/infer", json=infer_json(x[:3]))
        check(r.status_code == 200 and np.allclose(np.array(r.json()["outputs"][0]["data"]).reshape(3, 10), ref[:3], atol=1e-4),
              "warmup: model with model_warmup serves (default priority level)")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def main():
    if not os.path.exists(STRATA):
        print("no %s: build first" % STRATA)
        return 2
    x = np.load(os.path.join(ROOT, "models", "digits_test_x.npy")).astype(np.float32)
    tmp = tempfile.mkdtemp(prefix="strata-server-test-")
    srv = None
    t_start = time.time()
    try:
        repo = make_repository(tmp)
        cache = os.path.join(tmp, "plan-cache")
        ref = strata_run_reference(STRATA, tmp, x)
        t0 = time.time()
        srv = Server(repo, cache)
        print("server ready in %.2f s (compiling plans)" % (time.time() - t0), flush=True)
        test_endpoints(srv, x, ref)
        test_concurrency(srv, x, ref)
        test_queue_full_and_timeout(srv, x)
        test_bad_requests(srv, x)
        rc = srv.stop()
        srv = None
        check(rc == 0, "SIGTERM: exit code %s" % rc)
        # a restart loads the cached plans
        n_plans = len(os.listdir(cache))
        t0 = time.time()
        srv = Server(repo, cache)
        warm = time.time() - t0
        log = open(os.path.join(tmp, "serve.log")).read()
        check("cached plan" in log and len(os.listdir(cache)) == n_plans, "restart uses the plan cache")
        r = requests.post(srv.url + "/v2/models/digits/infer", json=infer_json(x[:3]))
        check(r.status_code == 200 and np.allclose(np.array(r.json()["outputs"][0]["data"]).reshape(3, 10), ref[:3], atol=1e-4),
              "infer after restart")
        # SIGTERM while requests are in flight: they are answered, then exit 0
        results = []

        def slow():
            r2 = requests.post(srv.url + "/v2/models/digits_q/infer", json=infer_json(x[:1]))
            results.append(r2.status_code)
        th = threading.Thread(target=slow)
        th.start()
        time.sleep(0.1)
        rc = srv.stop()
        th.join()
        srv = None
        check(rc == 0 and results == [200], "drain on SIGTERM: in-flight answered %s, exit %s" % (results, rc))
        print("restart with cached plans: ready in %.2f s" % warm, flush=True)
        test_model_warmup(tmp, x, ref)
    finally:
        if srv:
            srv.proc.kill()
        log = os.path.join(tmp, "serve.log")
        if RESULTS["failed"] and os.path.exists(log):
            print("---- server log (last 40 lines) ----\n" + "".join(open(log).readlines()[-40:]))
        shutil.rmtree(tmp, ignore_errors=True)
    print("total %.1f s" % (time.time() - t_start))
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
