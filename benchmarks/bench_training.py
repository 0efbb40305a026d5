"""Time the project against bare torch: the loops, the training run, model logging.

Usage: ``make bench`` (or ``python benchmarks/bench_training.py [--repeats N]``).
Needs the flattened tables from ``kedro run --pipelines ingestion``.

1. Each training node against a minimal reference loop, in this process.
2. ``kedro run --pipelines training`` against ``plain_training.py`` (the same
   two trainings as a bare script), each a fresh process, run alternately.
3. The cost of logging one model to MLflow in a fresh process (the first log
   of a run, the one a run pays).
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


def training_run_against_plain_script(repeats: int) -> list[tuple[str, float, float]]:
    """Medians of `kedro run --pipelines training` and the plain script, alternated."""
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    with tempfile.TemporaryDirectory() as out:
        commands = {
            "plain torch script": [sys.executable, str(ROOT / "benchmarks/plain_training.py"), str(PRIMARY), out],
            "kedro run --pipelines training": [sys.executable, "-m", "kedro", "run", "--pipelines", "training"],
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
from fashion_mnist import tracking
from fashion_mnist.datasets import MlflowSoftmaxModelDataset
folder = tempfile.mkdtemp()
uri = f"sqlite:///{folder}/mlflow.db"
mlflow.set_tracking_uri(uri)
run = mlflow.MlflowClient().create_run(mlflow.set_experiment("bench").experiment_id)
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
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--runs", type=int, default=3, help="paired kedro/plain runs (median)"
    )
    parser.add_argument("--loops-only", action="store_true", help="skip the runs")
    args = parser.parse_args()

    paths = [PRIMARY / f"fashion_mnist_{s}.parquet" for s in ("train", "test")]
    if not all(p.is_file() for p in paths):
        sys.exit("No tables yet: run `kedro run --pipelines ingestion` first.")
    if not args.loops_only:
        # First, while this process is small: a child's peak RSS counts what it forked.
        runs_table = training_run_against_plain_script(args.runs)
        logging_seconds = model_logging_seconds()

    # Imported only now, for the same reason.
    import pandas as pd
    import torch

    from fashion_mnist.pipelines.training.nodes import train_concise, train_scratch
    from fashion_mnist.softmax import to_features
    from fashion_mnist.tables import table_to_arrays

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
    if args.loops_only:
        return
    first, second = logging_seconds
    print(  # noqa: T201
        f"logging a model to MLflow: {first:.2f} s (first of the run), "
        f"{second:.2f} s (second)"
    )
    plain = runs_table[0][1]
    for name, seconds, rss in runs_table:
        print(  # noqa: T201
            f"{name:<32} {seconds:6.2f} s  {seconds / plain:5.2f}x plain script   "
            f"peak RSS {rss:5.0f} MiB"
        )


if __name__ == "__main__":
    main()
