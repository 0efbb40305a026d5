"""The same two trainings as `kedro run --pipelines training`, as a bare torch script.

What `make bench` compares the Kedro run against: read the two tables, train
the hand-written and the torch.nn softmax regression (batch 256, lr 0.1, 10
epochs, test accuracy after each epoch), save both weights. No tracking, no
checks, no reports.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

primary = Path(sys.argv[1])
out = Path(sys.argv[2])
train = pd.read_parquet(primary / "fashion_mnist_train.parquet")
test = pd.read_parquet(primary / "fashion_mnist_test.parquet")
# Row-major copies: pandas hands out column-major pixels, slow to gather rows from.
X = torch.from_numpy(np.ascontiguousarray(train.iloc[:, 1:].to_numpy())).float() / 255
y = torch.from_numpy(train["label"].to_numpy())
X_test = (
    torch.from_numpy(np.ascontiguousarray(test.iloc[:, 1:].to_numpy())).float() / 255
)
y_test = torch.from_numpy(test["label"].to_numpy())


def fit(step, predict, g):
    for _ in range(10):
        order = torch.randperm(len(y), generator=g)
        for start in range(0, len(y), 256):
            idx = order[start : start + 256]
            step(X[idx], y[idx])
        with torch.no_grad():
            (predict(X_test).argmax(1) == y_test).float().mean().item()


g = torch.Generator().manual_seed(0)
W, b = torch.randn(10, 784, generator=g) * 0.01, torch.zeros(10)


def scratch_step(Xb, yb):
    p = torch.softmax(torch.addmm(b, Xb, W.T), 1)
    p[torch.arange(len(yb)), yb] -= 1
    p /= len(yb)
    W.sub_(0.1 * p.T @ Xb)
    b.sub_(0.1 * p.sum(0))


fit(scratch_step, lambda Z: torch.addmm(b, Z, W.T), g)
g = torch.Generator().manual_seed(0)
net = nn.Linear(784, 10)
with torch.no_grad():
    net.weight.copy_(torch.randn(10, 784, generator=g) * 0.01)
    net.bias.zero_()
opt = torch.optim.SGD(net.parameters(), lr=0.1)


def concise_step(Xb, yb):
    loss = F.cross_entropy(net(Xb), yb)
    opt.zero_grad()
    loss.backward()
    opt.step()


fit(concise_step, net, g)
out.mkdir(parents=True, exist_ok=True)
torch.save({"weight": W, "bias": b}, out / "scratch.pt")
torch.save(net.state_dict(), out / "concise.pt")
