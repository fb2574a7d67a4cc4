#!/usr/bin/python3
"""Make the repository's demo model: a small CNN trained on scikit-learn's digits.

Run with Debian's python (python3-torch, python3-onnx, python3-sklearn):
    /usr/bin/python3 models/make_demo.py
Writes, beside this script:
    digits_cnn.onnx     opset 17, input "input" [batch,1,8,8] f32, output "logits" [batch,10]
    digits_test_x.npy   float32 [N,1,8,8], pixel values /16 (the test split)
    digits_test_y.npy   int64 [N]
and prints the test accuracy torch measures. Deterministic (seed 0, one thread).
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 0
EPOCHS = 60
OPSET = 17


class DigitsCNN(nn.Module):
    """conv3x3(16)+relu, conv3x3(32)+relu, maxpool 2, fc 512->64 + relu, fc 64->10."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc1 = nn.Linear(32 * 4 * 4, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):  # x [B,1,8,8]
        x = F.relu(self.c1(x))
        x = F.max_pool2d(F.relu(self.c2(x)), 2)  # [B,32,4,4]
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


def load_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None, :, :]  # [N,1,8,8] in 0..1
    y = d.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)


def train(xtr, ytr):
    torch.manual_seed(SEED)
    m = DigitsCNN()
    # Plain Adam, no weight decay: decayed never-updated weights (border pixels are always 0)
    # would end up subnormal, which makes every runtime slow for the wrong reason.
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    g = torch.Generator().manual_seed(SEED)
    xt, yt = torch.from_numpy(xtr), torch.from_numpy(ytr)
    m.train()
    for _ in range(EPOCHS):
        perm = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), 32):
            idx = perm[i:i + 32]
            opt.zero_grad()
            F.cross_entropy(m(xt[idx]), yt[idx]).backward()
            opt.step()
    return m.eval()


def main():
    import onnx
    torch.set_num_threads(1)
    xtr, xte, ytr, yte = load_split()
    m = train(xtr, ytr)
    with torch.no_grad():
        acc = float((m(torch.from_numpy(xte)).argmax(1).numpy() == yte).mean())
        tiny = sum(int(((p != 0) & (p.abs() < 1e-12)).sum()) for p in m.parameters())
    if tiny:
        print(f"WARNING: {tiny} nonzero weights below 1e-12", file=sys.stderr)

    np.save(os.path.join(HERE, "digits_test_x.npy"), xte)
    np.save(os.path.join(HERE, "digits_test_y.npy"), yte)
    path = os.path.join(HERE, "digits_cnn.onnx")
    with torch.no_grad():
        torch.onnx.export(m, (torch.from_numpy(xte[:1]),), path, opset_version=OPSET,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
                          do_constant_folding=True)
    onnx.checker.check_model(path)
    print(f"digits_cnn: torch test accuracy {acc:.4f} on {len(xte)} test images "
          f"({len(xtr)} train); wrote {path} ({os.path.getsize(path)} bytes)")
    if acc <= 0.95:
        print(f"WARNING: accuracy {acc:.4f} <= 0.95", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
