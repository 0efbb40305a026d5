"""Time the training nodes against a minimal reference loop, in one process.

Usage: ``make bench`` (or ``python benchmarks/bench_training.py [--repeats N]``).
Needs the flattened tables from ``kedro run --pipelines ingestion``.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from fashion_mnist.pipelines.training.nodes import train_concise, train_scratch
from fashion_mnist.softmax import to_features
from fashion_mnist.tables import table_to_arrays

ROOT = Path(__file__).resolve().parents[1]
PRIMARY = ROOT / "data" / "03_primary"
PARAMS = {
    "seed": 0,
    "device": "cpu",
    "batch_size": 256,
    "lr": 0.1,
    "num_epochs": 10,
    "init_std": 0.01,
    "weight_decay": 0.0,
}


def reference_loop(X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The plain loop: randperm batches, X @ W + b, F.cross_entropy, manual SGD."""
    g = torch.Generator().manual_seed(0)
    W = (torch.randn(784, 10, generator=g) * 0.01).requires_grad_()
    b = torch.zeros(10, requires_grad=True)
    n = len(y)
    for _ in range(PARAMS["num_epochs"]):
        order = torch.randperm(n, generator=g)
        for start in range(0, n, PARAMS["batch_size"]):
            idx = order[start : start + PARAMS["batch_size"]]
            loss = F.cross_entropy(X[idx] @ W + b, y[idx])
            loss.backward()
            with torch.no_grad():
                W -= PARAMS["lr"] * W.grad
                b -= PARAMS["lr"] * b.grad
                W.grad = None
                b.grad = None
    return W


def best_of(repeats: int, fn) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def peak_rss_of_training_run() -> float:
    """Peak RSS in MiB of `kedro run --pipelines training`, read from the child's rusage."""
    subprocess.run(
        [sys.executable, "-m", "kedro", "run", "--pipelines", "training"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-rss", action="store_true", help="skip the kedro run")
    args = parser.parse_args()

    paths = [PRIMARY / f"fashion_mnist_{s}.parquet" for s in ("train", "test")]
    if not all(p.is_file() for p in paths):
        sys.exit("No tables yet: run `kedro run --pipelines ingestion` first.")
    train, test = (pd.read_parquet(p) for p in paths)
    X_raw, y_raw = table_to_arrays(train)
    X, y = to_features(X_raw), torch.as_tensor(y_raw)
    params = {**PARAMS, "scratch": {}, "concise": {}}

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")  # noqa: T201
    reference = best_of(args.repeats, lambda: reference_loop(X, y))
    rows = [("reference loop", reference)]
    rows.append(
        (
            "train_scratch",
            best_of(args.repeats, lambda: train_scratch(train, test, params)),
        )
    )
    rows.append(
        (
            "train_concise",
            best_of(args.repeats, lambda: train_concise(train, test, params)),
        )
    )
    for name, seconds in rows:
        print(  # noqa: T201
            f"{name:<16} {seconds:6.2f} s / {PARAMS['num_epochs']} epochs   "
            f"{seconds / reference:5.2f}x reference"
        )
    if not args.no_rss:
        rss = peak_rss_of_training_run()
        print(f"peak RSS of `kedro run --pipelines training`: {rss:.0f} MiB")  # noqa: T201


if __name__ == "__main__":
    main()
