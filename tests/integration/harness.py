"""tests/integration/harness.py — what the server's integration tests share: the pass/fail
tally, a free loopback port, and `strata run` as the oracle for the server's answers."""
import os
import socket
import subprocess

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = {"passed": 0, "failed": 0}


def check(cond, what):
    if cond:
        RESULTS["passed"] += 1
    else:
        RESULTS["failed"] += 1
        print("FAIL:", what, flush=True)
    return cond


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def strata_run_reference(strata, tmp, x):
    """Outputs of `strata run` on the digits CNN for x (the oracle for the server's answers)."""
    xp = os.path.join(tmp, "x.npy")
    np.save(xp, x)
    out = os.path.join(tmp, "ref")
    subprocess.run([strata, "run", os.path.join(ROOT, "models", "digits_cnn.onnx"), "-i", "input=" + xp, "-o", out],
                   check=True, stdout=subprocess.DEVNULL)
    return np.load(os.path.join(out, "logits.npy"))
