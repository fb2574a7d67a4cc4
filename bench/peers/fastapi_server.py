#!/usr/bin/python3
"""bench/peers/fastapi_server.py — the "FastAPI + model()" peer for bench/serve_bench.sh: a
FastAPI app under uvicorn (Debian python3-fastapi, python3-uvicorn, python3-torch) serving one
PyTorch model with the KServe v2 routes `strata perf` uses (model metadata, infer with JSON tensors
or the binary tensor data extension). One request, one model() call: no batching, no queue.

Models: digits  -> models/make_demo.py's DigitsCNN with the weights read from the ONNX initializers
                   (so its outputs equal Strata's on the same file);
        resnet50 -> torchvision resnet50 (random init, seed 0, eval), the twin of
                   bench/models/resnet50.onnx (same architecture; the weights do not change the cost).
usage: /usr/bin/python3 bench/peers/fastapi_server.py --model digits|resnet50 [--port 8090]
                                                      [--threads N] [--check]"""
import argparse
import json
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load_digits():
    import onnx
    from onnx import numpy_helper
    sys.path.insert(0, os.path.join(ROOT, "models"))
    from make_demo import DigitsCNN
    m = DigitsCNN()
    init = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
            for t in onnx.load(os.path.join(ROOT, "models", "digits_cnn.onnx")).graph.initializer}
    m.load_state_dict(init)
    return m.eval(), "input", "logits", [1, 8, 8]


def load_resnet50():
    import torchvision
    torch.manual_seed(0)
    return torchvision.models.resnet50(weights=None).eval(), "input", "output", [3, 224, 224]


def make_app(name, model, in_name, out_name, dims):
    from fastapi import FastAPI, Request, Response
    from fastapi.responses import JSONResponse
    app = FastAPI()
    meta = {"name": name, "versions": ["1"], "platform": "pytorch_libtorch",
            "inputs": [{"name": in_name, "datatype": "FP32", "shape": [-1] + dims}],
            "outputs": [{"name": out_name, "datatype": "FP32", "shape": [-1, -1]}]}

    @app.get("/v2/health/ready")
    def ready():
        return {"ready": True}

    @app.get("/v2/models/" + name)
    def metadata():
        return meta

    @app.post("/v2/models/" + name + "/infer")
    async def infer(request: Request):
        body = await request.body()
        hlen = request.headers.get("inference-header-content-length")
        n = int(hlen) if hlen is not None else len(body)
        head = json.loads(body[:n])
        t = head["inputs"][0]
        shape = t["shape"]
        if t.get("parameters", {}).get("binary_data_size") is not None:
            x = np.frombuffer(body[n:n + t["parameters"]["binary_data_size"]], dtype=np.float32).reshape(shape)
        else:
            x = np.asarray(t["data"], dtype=np.float32).reshape(shape)
        with torch.no_grad():
            y = model(torch.from_numpy(x.copy())).numpy()
        binary = head.get("parameters", {}).get("binary_data_output", False) or any(
            o.get("parameters", {}).get("binary_data") for o in head.get("outputs", []))
        out = {"name": out_name, "datatype": "FP32", "shape": list(y.shape)}
        res = {"model_name": name, "model_version": "1", "outputs": [out]}
        if "id" in head:
            res["id"] = head["id"]
        if binary:
            raw = y.astype(np.float32).tobytes()
            out["parameters"] = {"binary_data_size": len(raw)}
            h = json.dumps(res).encode()
            return Response(content=h + raw, media_type="application/octet-stream",
                            headers={"Inference-Header-Content-Length": str(len(h))})
        out["data"] = y.flatten().tolist()
        return JSONResponse(res)

    return app


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=["digits", "resnet50"], default="digits")
    ap.add_argument("--port", type=int, default=8090)
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--check", action="store_true", help="print the digits outputs of the test split and exit")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    model, in_name, out_name, dims = load_digits() if a.model == "digits" else load_resnet50()
    if a.check:
        x = np.load(os.path.join(ROOT, "models", "digits_test_x.npy")).astype(np.float32)
        with torch.no_grad():
            np.save(sys.stdout.buffer, model(torch.from_numpy(x)).numpy())
        return 0
    import uvicorn
    uvicorn.run(make_app(a.model, model, in_name, out_name, dims), host="127.0.0.1", port=a.port,
                log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
