#!/usr/bin/python3
"""tests/integration/test_lifecycle.py — the server's model lifecycle with real clients: poll mode
(new version folder, changed model file, failing reload keeps the old version, version policy),
explicit mode (load/unload endpoints, --load-model, unload drains in-flight requests), priorities,
and the "nothing lost" soak (64 clients, reloads every few seconds, exact outputs, the server's
counters and a real Prometheus's equal the client's ledger). Prints "N passed, N failed".
usage: /usr/bin/python3 tests/integration/test_lifecycle.py [BUILD_DIR] [--soak-secs 60] [--skip-soak]"""
import argparse
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
import urllib.parse

import numpy as np

from harness import RESULTS, check, free_port, strata_run_reference  # noqa: E402
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ONNX = os.path.join(ROOT, "models", "digits_cnn.onnx")




def write_atomic(path, data):
    """Writes a file the way a deploy should: a temporary beside it, then rename."""
    tmp = path + ".tmp"
    with open(tmp, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)
    os.replace(tmp, path)


def wait_until(fn, timeout, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if fn():
                return True
        except (requests.RequestException, KeyError, ValueError, IndexError):
            pass
        time.sleep(step)
    return False


DIGITS_CONFIG = """
max_batch_size: 8
input [ { name: "input", data_type: TYPE_FP32, dims: [ 1, 8, 8 ] } ]
output [ { name: "logits", data_type: TYPE_FP32, dims: [ 10 ] } ]
dynamic_batching { max_queue_delay_microseconds: %d %s }
instance_group [ { count: %d, kind: KIND_CPU } ]
version_policy: { %s }
"""


def make_config(delay_us=500, extra="", instances=1, policy="latest: { num_versions: 1 }"):
    return DIGITS_CONFIG % (delay_us, extra, instances, policy)


def add_model(repo, name, versions, config, model_bytes):
    for v in versions:
        os.makedirs(os.path.join(repo, name, str(v)), exist_ok=True)
        write_atomic(os.path.join(repo, name, str(v), "model.onnx"), model_bytes)
    if config is not None:
        write_atomic(os.path.join(repo, name, "config.pbtxt"), config)


def variant_b(tmp):
    """The digits CNN with the last layer's bias shifted by 1: a different, checkable output."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(ONNX)
    last = [n for n in m.graph.node if n.op_type in ("Gemm", "Add", "MatMul")][-1]
    names = set(last.input)
    for i, t in enumerate(m.graph.initializer):
        if t.name in names and len(t.dims) == 1 and t.dims[0] == 10:
            m.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t) + 1.0, t.name))
            break
    else:
        raise RuntimeError("no 10-element bias on the last layer")
    path = os.path.join(tmp, "digits_b.onnx")
    onnx.save(m, path)
    return path


def strata_run(strata, tmp, onnx, x, tag):
    xp = os.path.join(tmp, "x.npy")
    np.save(xp, x)
    out = os.path.join(tmp, "ref-" + tag)
    subprocess.run([strata, "run", onnx, "-i", "input=" + xp, "-o", out], check=True, stdout=subprocess.DEVNULL)
    return np.load(os.path.join(out, "logits.npy"))


class Server:
    def __init__(self, strata, repo, tmp, tag, extra):
        self.port, self.mport = free_port(), free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(tmp, "serve-%s.log" % tag)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen([strata, "serve", "--model-repository", repo, "--http-port", str(self.port),
                                      "--metrics-port", str(self.mport), "--plan-cache", os.path.join(tmp, "cache"),
                                      "--host", "127.0.0.1", "--grpc-port", "0"] + extra, stdout=self.log, stderr=subprocess.STDOUT)
        ok = wait_until(lambda: requests.get(self.url + "/v2/health/live", timeout=1).status_code == 200, 60, 0.05)
        if not ok or self.proc.poll() is not None:
            raise RuntimeError("server did not start (see %s)" % self.log_path)

    def log_text(self):
        self.log.flush()
        return open(self.log_path).read()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return None


def infer(url, model, x, version=None, binary=False, rid=None, priority=None, session=requests):
    path = "%s/v2/models/%s%s/infer" % (url, model, "/versions/%s" % version if version else "")
    params = {}
    if priority is not None:
        params["priority"] = priority
    if binary:
        hdr = {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32",
                           "parameters": {"binary_data_size": x.nbytes}}],
               "outputs": [{"name": "logits", "parameters": {"binary_data": True}}]}
        if rid:
            hdr["id"] = rid
        if params:
            hdr["parameters"] = params
        h = json.dumps(hdr).encode()
        r = session.post(path, data=h + x.astype(np.float32).tobytes(),
                         headers={"Inference-Header-Content-Length": str(len(h))})
        if r.status_code != 200:
            return r, None, None
        n = int(r.headers["Inference-Header-Content-Length"])
        head = json.loads(r.content[:n])
        out = np.frombuffer(r.content[n:], dtype=np.float32).reshape(head["outputs"][0]["shape"])
        return r, head, out
    body = {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32", "data": x.flatten().tolist()}]}
    if rid:
        body["id"] = rid
    if params:
        body["parameters"] = params
    r = session.post(path, json=body)
    if r.status_code != 200:
        return r, None, None
    j = r.json()
    return r, j, np.array(j["outputs"][0]["data"], dtype=np.float32).reshape(j["outputs"][0]["shape"])


def versions(srv, model):
    r = requests.get(srv.url + "/v2/models/" + model)
    return sorted(r.json()["versions"]) if r.status_code == 200 else None


def close(a, b):
    return a is not None and a.shape == b.shape and np.allclose(a, b, atol=1e-4)


# ---- poll mode ------------------------------------------------------------------------------------


def test_poll(strata, tmp, x, ref_a, ref_b, b_bytes, a_bytes):
    repo = os.path.join(tmp, "repo-poll")
    add_model(repo, "digits_p", [1], make_config(), a_bytes)
    srv = Server(strata, repo, tmp, "poll", ["--model-control-mode", "poll", "--repository-poll-secs", "1"])
    try:
        check(requests.get(srv.url + "/v2/health/ready").status_code == 200, "poll: ready")
        r, j, out = infer(srv.url, "digits_p", x[:3])
        check(close(out, ref_a[:3]) and j["model_version"] == "1", "poll: version 1 serves A")
        # a new version folder appears (latest 1: version 2 replaces 1)
        add_model(repo, "digits_p", [2], None, b_bytes)
        check(wait_until(lambda: versions(srv, "digits_p") == ["2"], 20), "poll: picks up version 2: %s" % versions(srv, "digits_p"))
        r, j, out = infer(srv.url, "digits_p", x[:3])
        check(j is not None and j["model_version"] == "2" and close(out, ref_b[:3]), "poll: version 2 serves B")
        check(wait_until(lambda: "released model 'digits_p' version 1 (drained)" in srv.log_text(), 10),
              "poll: version 1 drained and released")
        check(infer(srv.url, "digits_p", x[:1], version="1")[0].status_code == 404, "poll: version 1 no longer served")
        # the model file of version 2 changes (A again)
        write_atomic(os.path.join(repo, "digits_p", "2", "model.onnx"), a_bytes)
        check(wait_until(lambda: close(infer(srv.url, "digits_p", x[:3])[2], ref_a[:3]), 20), "poll: changed model file reloaded")
        # a reload that fails keeps the previous load serving
        write_atomic(os.path.join(repo, "digits_p", "2", "model.onnx"), b"this is not an ONNX model")
        check(wait_until(lambda: "reload failed" in srv.log_text(), 20), "poll: failing reload logged")
        r, j, out = infer(srv.url, "digits_p", x[:3])
        check(r.status_code == 200 and j["model_version"] == "2" and close(out, ref_a[:3]),
              "poll: failed reload keeps the old version serving (%s)" % r.status_code)
        idx = requests.post(srv.url + "/v2/repository/index").json()
        e = [e for e in idx if e["name"] == "digits_p"]
        check(len(e) == 1 and e[0]["state"] == "READY" and "reload failed" in e[0]["reason"], "poll: index shows the failure: %s" % e)
        check(requests.get(srv.url + "/v2/health/ready").status_code == 200, "poll: still ready")
        # a good file again, then the version policy: all, then specific [1]
        write_atomic(os.path.join(repo, "digits_p", "2", "model.onnx"), b_bytes)
        check(wait_until(lambda: close(infer(srv.url, "digits_p", x[:3])[2], ref_b[:3]), 20), "poll: recovers after a good file")
        write_atomic(os.path.join(repo, "digits_p", "config.pbtxt"), make_config(policy="all: { }"))
        check(wait_until(lambda: versions(srv, "digits_p") == ["1", "2"], 20), "poll: policy all serves 1 and 2")
        r, j, out = infer(srv.url, "digits_p", x[:2], version="1")
        check(close(out, ref_a[:2]) and j["model_version"] == "1", "poll: version 1 (A) by number")
        r, j, out = infer(srv.url, "digits_p", x[:2])
        check(close(out, ref_b[:2]) and j["model_version"] == "2", "poll: default is the latest (B)")
        write_atomic(os.path.join(repo, "digits_p", "config.pbtxt"), make_config(policy="specific: { versions: [ 1 ] }"))
        check(wait_until(lambda: versions(srv, "digits_p") == ["1"], 20), "poll: policy specific [1]")
        check(close(infer(srv.url, "digits_p", x[:2])[2], ref_a[:2]), "poll: specific serves version 1")
        # a bad config keeps the model serving; a new model folder is loaded
        write_atomic(os.path.join(repo, "digits_p", "config.pbtxt"), "max_batch_size: [[[ nonsense")
        check(wait_until(lambda: srv.log_text().count("reload of model 'digits_p' failed") >= 1, 20), "poll: bad config logged")
        check(infer(srv.url, "digits_p", x[:1])[0].status_code == 200, "poll: bad config keeps serving")
        add_model(repo, "digits_new", [1], make_config(), a_bytes)
        check(wait_until(lambda: close(infer(srv.url, "digits_new", x[:2])[2], ref_a[:2]), 20), "poll: new model folder loaded")
        r = requests.post(srv.url + "/v2/repository/models/digits_p/unload")
        check(r.status_code == 400 and "not allowed" in r.json()["error"], "poll: load/unload API refused: %s" % r.text)
        check(srv.stop() == 0, "poll: SIGTERM exit 0")
        srv = None
    finally:
        if srv:
            srv.proc.kill()


# ---- explicit mode --------------------------------------------------------------------------------


def test_explicit(strata, tmp, x, ref_a, a_bytes):
    repo = os.path.join(tmp, "repo-explicit")
    add_model(repo, "digits_e", [1], make_config(), a_bytes)
    add_model(repo, "digits_slow", [1], make_config(delay_us=400000), a_bytes)
    add_model(repo, "digits_other", [1], make_config(), a_bytes)
    srv = Server(strata, repo, tmp, "explicit", ["--model-control-mode", "explicit", "--load-model", "digits_e",
                                                 "--load-model", "digits_slow"])
    u = srv.url
    try:
        idx = {e["name"]: e for e in requests.post(u + "/v2/repository/index").json()}
        check(idx["digits_e"]["state"] == "READY" and idx["digits_other"]["state"] == "UNAVAILABLE"
              and idx["digits_other"]["reason"] == "unloaded", "explicit: --load-model loads only those: %s" % idx)
        check(requests.get(u + "/v2/health/ready").status_code == 200, "explicit: ready with unloaded models")
        check(infer(u, "digits_other", x[:1])[0].status_code in (400, 503), "explicit: unloaded model refuses infer")
        r = requests.post(u + "/v2/repository/models/digits_other/load")
        check(r.status_code == 200, "explicit: load: %s" % r.text)
        check(close(infer(u, "digits_other", x[:4])[2], ref_a[:4]), "explicit: loaded model serves")
        check(requests.get(u + "/v2/models/digits_other/ready").status_code == 200, "explicit: model ready after load")
        r = requests.post(u + "/v2/repository/models/digits_other/unload", json={"parameters": {"unload_dependents": False}})
        check(r.status_code == 200, "explicit: unload: %s" % r.text)
        check(requests.get(u + "/v2/models/digits_other/ready").status_code != 200, "explicit: not ready after unload")
        check(infer(u, "digits_other", x[:1])[0].status_code != 200, "explicit: no infer after unload")
        r = requests.post(u + "/v2/repository/models/nope/load")
        check(r.status_code == 400 and "error" in r.json(), "explicit: load of an unknown model is 400")
        r = requests.post(u + "/v2/repository/models/digits_e/load", json={"parameters": {"config": "{}"}})
        check(r.status_code == 400 and "not supported" in r.json()["error"], "explicit: load with a config override refused")
        check(requests.get(u + "/v2/repository/models/digits_e/load").status_code == 405, "explicit: GET load is 405")
        # unload while a request waits in the queue: it is answered, then the version is released
        res = []
        th = threading.Thread(target=lambda: res.append(infer(u, "digits_slow", x[:1])))
        th.start()
        time.sleep(0.1)
        r = requests.post(u + "/v2/repository/models/digits_slow/unload")
        th.join()
        check(r.status_code == 200 and res and res[0][0].status_code == 200 and close(res[0][2], ref_a[:1]),
              "explicit: in-flight request answered across unload")
        check(wait_until(lambda: "released model 'digits_slow' version 1 (drained)" in srv.log_text(), 10),
              "explicit: unloaded version released after the drain")
        # a reload (load of a loaded model) that fails keeps the old version
        write_atomic(os.path.join(repo, "digits_e", "1", "model.onnx"), b"\x08\x07garbage")
        r = requests.post(u + "/v2/repository/models/digits_e/load")
        check(r.status_code == 400 and "digits_e" in r.json()["error"], "explicit: failed reload is 400: %s" % r.text[:200])
        r, j, out = infer(u, "digits_e", x[:3])
        check(r.status_code == 200 and close(out, ref_a[:3]), "explicit: failed reload keeps the old version serving")
        write_atomic(os.path.join(repo, "digits_e", "1", "model.onnx"), a_bytes)
        check(requests.post(u + "/v2/repository/models/digits_e/load").status_code == 200, "explicit: reload after the fix")
        check(srv.stop() == 0, "explicit: SIGTERM exit 0")
        srv = None
    finally:
        if srv:
            srv.proc.kill()


# ---- priorities ---------------------------------------------------------------------------------


def test_priority(strata, tmp, x, ref_a, a_bytes):
    repo = os.path.join(tmp, "repo-priority")
    # batches of at most 4 rows wait up to 600 ms to fill; two priority levels, one instance
    add_model(repo, "digits_pri", [1], make_config(delay_us=600000, extra="priority_levels: 2", instances=1).replace(
        "max_batch_size: 8", "max_batch_size: 4"), a_bytes)
    srv = Server(strata, repo, tmp, "priority", [])
    try:
        done = {}
        lock = threading.Lock()
        t0 = time.time()

        def one(tag, rows, prio, start):
            r, j, out = infer(srv.url, "digits_pri", x[start:start + rows], priority=prio)
            with lock:
                done[tag] = (time.time() - t0, r.status_code, close(out, ref_a[start:start + rows]))
        threads = []
        for i, tag in enumerate(("L1", "L2", "L3")):
            th = threading.Thread(target=one, args=(tag, 1, 2, i))
            th.start()
            threads.append(th)
            time.sleep(0.04)
        t_high = time.time() - t0
        th = threading.Thread(target=one, args=("H", 2, 1, 10))
        th.start()
        threads.append(th)
        for th in threads:
            th.join()
        check(all(v[1] == 200 and v[2] for v in done.values()), "priority: all answered correctly: %s" % done)
        # FIFO would run L1-L3 at once (H does not fit) and leave H waiting 600 ms; with levels H
        # goes first, takes L1 and L2 along, and L3 waits for its delay
        check(done["H"][0] - t_high < 0.3 and done["L3"][0] > done["H"][0] + 0.2,
              "priority: high overtakes queued low (H after %.3f s, L3 at %.3f s)" % (done["H"][0] - t_high, done["L3"][0]))
        check(srv.stop() == 0, "priority: exit 0")
        srv = None
    finally:
        if srv:
            srv.proc.kill()


# ---- nothing lost ----------------------------------------------------------------------------------


def start_prometheus(tmp, mport):
    if not shutil.which("prometheus"):
        return None, None
    port = free_port()
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: strata\n"
                "    static_configs:\n      - targets: ['127.0.0.1:%d']\n" % mport)
    log = open(os.path.join(tmp, "prometheus.log"), "w")
    p = subprocess.Popen(["prometheus", "--config.file=" + cfg, "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
                          "--web.listen-address=127.0.0.1:%d" % port], stdout=log, stderr=subprocess.STDOUT)
    url = "http://127.0.0.1:%d" % port
    if not wait_until(lambda: requests.get(url + "/-/ready", timeout=1).status_code == 200, 30):
        p.kill()
        return None, None
    return p, url


def prom_value(url, query):
    r = requests.get(url + "/api/v1/query?query=" + urllib.parse.quote(query)).json()
    res = r["data"]["result"]
    return float(res[0]["value"][1]) if res else None


def test_soak(strata, tmp, x, ref_a, a_bytes, secs):
    repo = os.path.join(tmp, "repo-soak")
    add_model(repo, "digits_s", [1], make_config(delay_us=1000, instances=2).replace("max_batch_size: 8", "max_batch_size: 16"),
              a_bytes)
    srv = Server(strata, repo, tmp, "soak", ["--model-control-mode", "explicit", "--load-model", "digits_s"])
    prom, purl = start_prometheus(tmp, srv.mport)
    check(prom is not None, "soak: prometheus started")
    n_clients = 64
    stop_at = time.time() + secs
    lock = threading.Lock()
    ledger = {"sent": 0, "ok": 0, "err_explicit": 0, "err_transport": 0, "rejected": 0, "mismatched": 0,
              "duplicates": 0, "rows": 0}
    seen = set()
    problems = []
    reloads = [0, 0]

    def client(t):
        rng = np.random.default_rng(1000 + t)
        sess = requests.Session()
        i = 0
        while time.time() < stop_at:
            k = int(rng.integers(1, 5))
            start = int(rng.integers(0, len(x) - k))
            rid = "%d-%d" % (t, i)
            i += 1
            try:
                r, j, out = infer(srv.url, "digits_s", x[start:start + k], binary=bool(i % 2), rid=rid, session=sess)
                code = r.status_code
            except requests.RequestException as e:
                with lock:
                    ledger["sent"] += 1
                    ledger["err_transport"] += 1
                    problems.append((rid, repr(e)[:200]))
                sess = requests.Session()
                continue
            with lock:
                ledger["sent"] += 1
                if code == 200:
                    if j.get("id") != rid or rid in seen:
                        ledger["duplicates"] += 1
                        problems.append((rid, "id", j.get("id")))
                    seen.add(rid)
                    ledger["ok"] += 1
                    ledger["rows"] += k
                    if not close(out, ref_a[start:start + k]):
                        ledger["mismatched"] += 1
                        problems.append((rid, "mismatch"))
                elif code == 503:
                    ledger["rejected"] += 1
                    problems.append((rid, code, r.text[:200]))
                else:
                    ledger["err_explicit"] += 1
                    problems.append((rid, code, r.text[:200]))

    def reloader():
        # a reload every 2-3 s: alternately the load API (forced reload) and a touched file + load
        n = 0
        while time.time() < stop_at - 1:
            time.sleep(2.0 + 0.5 * (n % 3))
            if n % 2:
                os.utime(os.path.join(repo, "digits_s", "1", "model.onnx"))
            r = requests.post(srv.url + "/v2/repository/models/digits_s/load")
            reloads[0 if r.status_code == 200 else 1] += 1
            n += 1

    try:
        before = requests.get(srv.url + "/v2/models/digits_s/stats").json()["model_stats"][0]
        threads = [threading.Thread(target=client, args=(t,)) for t in range(n_clients)] + [threading.Thread(target=reloader)]
        t0 = time.time()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        dt = time.time() - t0
        L = ledger
        print("soak: %d s, %d clients, %d reloads (%d failed): sent %d / ok %d / err_explicit %d / err_transport %d / "
              "rejected %d / mismatched %d / duplicates %d / lost %d (%.0f req/s)"
              % (secs, n_clients, reloads[0] + reloads[1], reloads[1], L["sent"], L["ok"], L["err_explicit"],
                 L["err_transport"], L["rejected"], L["mismatched"], L["duplicates"],
                 L["sent"] - L["ok"] - L["err_explicit"] - L["err_transport"] - L["rejected"], L["sent"] / dt), flush=True)
        check(reloads[0] >= max(3, secs // 4) and reloads[1] == 0, "soak: reloads happened (%s)" % reloads)
        check(L["ok"] == L["sent"] and not problems, "soak: every request answered OK: %s" % problems[:5])
        check(L["mismatched"] == 0 and L["duplicates"] == 0, "soak: outputs right, ids unique")
        # the server's ledger, once the retired versions have drained and folded their counters
        wait_until(lambda: requests.get(srv.url + "/v2/models/digits_s/stats").json()["model_stats"][0]
                   ["inference_stats"]["success"]["count"] - before["inference_stats"]["success"]["count"] == L["ok"], 5)
        after = requests.get(srv.url + "/v2/models/digits_s/stats").json()["model_stats"][0]
        d_ok = after["inference_stats"]["success"]["count"] - before["inference_stats"]["success"]["count"]
        d_fail = after["inference_stats"]["fail"]["count"] - before["inference_stats"]["fail"]["count"]
        d_rows = after["inference_count"] - before["inference_count"]
        check(d_ok == L["ok"] and d_fail == 0 and d_rows == L["rows"],
              "soak: stats equal the client (success %d vs %d, fail %d, rows %d vs %d)" % (d_ok, L["ok"], d_fail, d_rows, L["rows"]))
        text = requests.get("http://127.0.0.1:%d/metrics" % srv.mport).text
        key = 'nv_inference_request_success{model="digits_s",version="1"} '
        m_ok = [float(line[len(key):]) for line in text.splitlines() if line.startswith(key)]
        check(m_ok == [after["inference_stats"]["success"]["count"]], "soak: /metrics equals stats (%s)" % m_ok)
        check('nv_inference_pending_request_count{model="digits_s",version="1"} 0' in text, "soak: queue empty at quiesce")
        if prom:
            want = after["inference_stats"]["success"]["count"]
            q = 'nv_inference_request_success{model="digits_s",version="1"}'
            ok = wait_until(lambda: prom_value(purl, q) == want, 15, 0.5)
            check(ok, "soak: Prometheus reads back the counter (%s vs %s)" % (prom_value(purl, q), want))
            print("soak: Prometheus scraped nv_inference_request_success = %s" % prom_value(purl, q), flush=True)
        check(srv.stop() == 0, "soak: SIGTERM exit 0")
        srv = None
    finally:
        if srv:
            srv.proc.kill()
        if prom:
            prom.terminate()
            prom.wait(timeout=20)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build", nargs="?", default=os.environ.get("STRATA_BUILD", "build"))
    ap.add_argument("--soak-secs", type=int, default=int(os.environ.get("STRATA_SOAK_SECS", "60")))
    ap.add_argument("--skip-soak", action="store_true")
    ap.add_argument("--only", default="", help="comma-separated: poll,explicit,priority,soak")
    a = ap.parse_args()
    strata = os.path.join(a.build if os.path.isabs(a.build) else os.path.join(ROOT, a.build), "strata")
    if not os.path.exists(strata):
        print("no %s: build first" % strata)
        return 2
    only = set(a.only.split(",")) if a.only else {"poll", "explicit", "priority", "soak"}
    if a.skip_soak:
        only.discard("soak")
    x = np.load(os.path.join(ROOT, "models", "digits_test_x.npy")).astype(np.float32)
    tmp = tempfile.mkdtemp(prefix="strata-lifecycle-test-")
    t_start = time.time()
    try:
        b_path = variant_b(tmp)
        ref_a = strata_run(strata, tmp, ONNX, x, "a")
        ref_b = strata_run(strata, tmp, b_path, x, "b")
        check(not np.allclose(ref_a, ref_b, atol=1e-3), "variant B differs from A")
        a_bytes, b_bytes = open(ONNX, "rb").read(), open(b_path, "rb").read()
        for name, fn in (("poll", lambda: test_poll(strata, tmp, x, ref_a, ref_b, b_bytes, a_bytes)),
                         ("explicit", lambda: test_explicit(strata, tmp, x, ref_a, a_bytes)),
                         ("priority", lambda: test_priority(strata, tmp, x, ref_a, a_bytes)),
                         ("soak", lambda: test_soak(strata, tmp, x, ref_a, a_bytes, a.soak_secs))):
            if name in only:
                t0 = time.time()
                fn()
                print("%s: %.1f s" % (name, time.time() - t0), flush=True)
    finally:
        if RESULTS["failed"]:
            for f in sorted(os.listdir(tmp)):
                if f.startswith("serve-"):
                    print("---- %s (last 30 lines) ----\n%s" % (f, "".join(open(os.path.join(tmp, f)).readlines()[-30:])))
        shutil.rmtree(tmp, ignore_errors=True)
    print("total %.1f s" % (time.time() - t_start))
    print("%d passed, %d failed" % (RESULTS["passed"], RESULTS["failed"]))
    return 1 if RESULTS["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
