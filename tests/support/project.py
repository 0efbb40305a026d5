"""Throw-away copies of the project, run with kedro, on real or synthetic data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support.synthetic import idx_bytes, make_images, training_params, write_gz

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DATA_LAYERS = [
    "01_raw",
    "02_intermediate",
    "03_primary",
    "04_feature",
    "05_model_input",
    "06_models",
    "07_model_output",
    "08_reporting",
]


@dataclass
class ProjectCopy:
    """A copy of the project's configuration in a temporary folder, run with kedro."""

    path: Path
    last_run: subprocess.CompletedProcess | None = None
    first_outputs: Path | None = None

    @staticmethod
    def environment() -> dict[str, str]:
        """This process's environment, less its MLflow store, with telemetry off."""
        env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "COLUMNS": "200"}
        env.pop("MLFLOW_TRACKING_URI", None)
        return env

    def kedro(
        self,
        *args: str,
        check: bool = True,
        env: dict[str, str] | None = None,
        timeout: float = 1200,
    ) -> subprocess.CompletedProcess:
        """Run `kedro ARGS` in the copy and return the finished process.

        MLflow tracks into the copy's own `mlflow.db` unless `env` sets
        MLFLOW_TRACKING_URI.
        """
        env = {**self.environment(), **(env or {})}
        result = subprocess.run(
            [sys.executable, "-m", "kedro", *args],
            check=False,
            cwd=self.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kedro {' '.join(args)} exited {result.returncode}\n"
                f"--- stdout\n{result.stdout[-6000:]}\n--- stderr\n{result.stderr[-6000:]}"
            )
        return result


def make_project_copy(target: Path) -> ProjectCopy:
    """Copy the project's configuration into `target`, with empty data layers."""
    target.mkdir(parents=True, exist_ok=True)
    for name in ["pyproject.toml", ".telemetry"]:
        shutil.copy2(PROJECT_ROOT / name, target / name)
    shutil.copytree(PROJECT_ROOT / "conf" / "base", target / "conf" / "base")
    shutil.copytree(
        PROJECT_ROOT / "src",
        target / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    (target / "conf" / "local").mkdir(parents=True)
    for layer in DATA_LAYERS:
        (target / "data" / layer).mkdir(parents=True)
    return ProjectCopy(target)


# Ten epochs, so that MLflow metric histories have ten steps per model.
SYNTHETIC_TRAINING = training_params(batch_size=32, num_epochs=10)


def make_synthetic_project(target: Path) -> ProjectCopy:
    """A project copy whose four IDX files are small synthetic look-alikes.

    `conf/local` points the four raw datasets at the synthetic files (with their
    own MD5s, no env var, no mirrors) and sets training values that suit them.
    """
    project = make_project_copy(target)
    source = target / "synthetic_idx"
    catalog = {}
    for split, prefix, n_per_class in [("train", "train", 40), ("test", "t10k", 10)]:
        images, labels = make_images(n_per_class, seed=len(split))
        for kind, array, dims in [("images", images, 3), ("labels", labels, 1)]:
            file = f"{prefix}-{kind}-idx{dims}-ubyte.gz"
            catalog[f"{split}_{kind}_idx"] = {
                "type": "fashion_mnist.datasets.VerifiedIDXDataset",
                "file": file,
                "md5": write_gz(source / file, idx_bytes(array)),
                "path": "data/01_raw",
                "env_var": None,
                "local_dirs": [str(source)],
                "mirrors": [],
            }
    local = target / "conf" / "local"
    (local / "catalog.yml").write_text(yaml.safe_dump(catalog))
    (local / "parameters_training.yml").write_text(
        yaml.safe_dump({"training": SYNTHETIC_TRAINING})
    )
    return project
