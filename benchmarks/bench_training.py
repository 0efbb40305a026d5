"""Time the project against bare torch, side by side in one table.

Usage: ``make bench`` (or ``python benchmarks/bench_training.py [--repeats N]
[--runs N]``). Needs the flattened tables from ``kedro run --pipelines ingestion``.

1. ``kedro run --pipelines training`` and the full ``kedro run`` against
   ``plain_training.py`` (the same two trainings as a bare torch script), each
   a fresh process, run alternately; medians, and each one's peak RSS.
2. ``kedro registry list``: how long the command line takes to answer.
3. The cost of logging one model to MLflow in a fresh process, inside a run
   started as kedro-mlflow starts it (the first log of a run, then the second).
4. Each training loop against a minimal reference loop, in this process.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def reference_loop(X, y):
    """The plain loop: randperm batches, X @ W + b, F.cross_entropy, manual SGD."""
    import torch
    import torch.nn.functional as F

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


def wall_and_rss(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall time (s) and peak RSS (MiB) of a child process."""
    start = time.perf_counter()
    pid = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).pid  # fmt: skip
    _, status, usage = os.wait4(pid, 0)
    if status:
        sys.exit(f"{' '.join(command)} failed (status {status})")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def runs_against_plain_script(repeats: int) -> list[tuple[str, float, float]]:
    """Medians of the Kedro runs, the plain script and `kedro registry list`, alternated."""
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    with tempfile.TemporaryDirectory() as out:
        commands = {
            "plain torch script": [sys.executable, str(ROOT / "benchmarks/plain_training.py"), str(PRIMARY), out],
            "kedro run --pipelines training": [sys.executable, "-m", "kedro", "run", "--pipelines", "training"],
            "kedro run (every pipeline)": [sys.executable, "-m", "kedro", "run"],
            "kedro registry list": [sys.executable, "-m", "kedro", "registry", "list"],
        }  # fmt: skip
        samples = {name: [] for name in commands}
        for _ in range(repeats):
            for name, command in commands.items():
                samples[name].append(wall_and_rss(command, env))
    return [
        (
            name,
            statistics.median(t for t, _ in runs),
            max(rss for _, rss in runs),
        )
        for name, runs in samples.items()
    ]


_LOG_TWO_MODELS = """
import sys, tempfile, time, torch, mlflow
from fashion_mnist.tracking import run as tracking
from fashion_mnist.datasets import MlflowSoftmaxModelDataset
folder = tempfile.mkdtemp()
uri = f"sqlite:///{folder}/mlflow.db"
mlflow.set_tracking_uri(uri)
# As a kedro run does: kedro-mlflow starts the run, the project binds it.
run = mlflow.start_run(experiment_id=mlflow.set_experiment("bench").experiment_id)
tracking.bind(run.info.run_id, uri, frozenset())
model = {"weight": torch.zeros(10, 784), "bias": torch.zeros(10)}
for name in ["scratch", "concise"]:
    dataset = MlflowSoftmaxModelDataset(filepath=f"{folder}/{name}.safetensors", name=name)
    start = time.perf_counter()
    dataset.save(model)
    print(time.perf_counter() - start)
"""


def model_logging_seconds() -> list[float]:
    """Seconds to save and log each of two models, in a fresh process."""
    result = subprocess.run(
        [sys.executable, "-c", _LOG_TWO_MODELS],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return [float(line) for line in result.stdout.split()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5, help="loop timings (best)")
    parser.add_argument(
        "--runs", type=int, default=3, help="alternated fresh processes (median)"
    )
    parser.add_argument("--loops-only", action="store_true", help="skip the runs")
    args = parser.parse_args()

    paths = [PRIMARY / f"fashion_mnist_{s}.parquet" for s in ("train", "test")]
    if not all(p.is_file() for p in paths):
        sys.exit("No tables yet: run `kedro run --pipelines ingestion` first.")
    rows: list[tuple[str, str, str, str]] = []
    if not args.loops_only:
        # First, while this process is small: a child's peak RSS counts what it forked.
        runs_table = runs_against_plain_script(args.runs)
        first, second = model_logging_seconds()
        plain = runs_table[0][1]
        for name, seconds, rss in runs_table:
            ratio = "" if name == "kedro registry list" else f"{seconds / plain:.2f}x"
            rows.append((name, f"{seconds:.2f} s", ratio, f"{rss:.0f} MiB"))
        rows.append(("logging a model to MLflow", f"{first:.2f} s", "first", ""))
        rows.append(("logging a model to MLflow", f"{second:.2f} s", "second", ""))

    # Imported only now, for the same reason.
    import pandas as pd
    import torch

    from fashion_mnist.params import Hyperparameters
    from fashion_mnist.schemas import table_to_arrays
    from fashion_mnist.softmax import to_features, train_concise, train_scratch

    train, test = (pd.read_parquet(p) for p in paths)
    X_raw, y_raw = table_to_arrays(train)
    X, y = to_features(X_raw), torch.as_tensor(y_raw)
    params = Hyperparameters(**PARAMS)
    reference = best_of(args.repeats, lambda: reference_loop(X, y))
    epochs = PARAMS["num_epochs"]
    rows.append((f"reference loop, {epochs} epochs", f"{reference:.2f} s", "1.00x", ""))
    for name, train_fn in (
        ("train_scratch", train_scratch),
        ("train_concise", train_concise),
    ):
        seconds = best_of(args.repeats, lambda f=train_fn: f(train, test, params))
        rows.append((f"{name}, {epochs} epochs", f"{seconds:.2f} s", f"{seconds / reference:.2f}x", ""))  # fmt: skip

    print(  # noqa: T201
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{os.cpu_count()} CPUs; runs: median of {args.runs}, loops: best of {args.repeats}"
    )
    header = ("what", "time", "vs plain / ref", "peak RSS")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))  # noqa: T201


if __name__ == "__main__":
    main()
