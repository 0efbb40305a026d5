"""Shared fixtures: telemetry off, headless plots, and a throw-away project copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("KEDRO_DISABLE_TELEMETRY", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

PROJECT_ROOT = Path(__file__).resolve().parents[1]
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

    def kedro(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run `kedro ARGS` in the copy and return the finished process."""
        env = {**os.environ, "KEDRO_DISABLE_TELEMETRY": "1", "COLUMNS": "200"}
        env.pop("MLFLOW_TRACKING_URI", None)
        result = subprocess.run(
            [sys.executable, "-m", "kedro", *args],
            check=False,
            cwd=self.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
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


@pytest.fixture(scope="session")
def real_project(tmp_path_factory) -> ProjectCopy:
    """A project copy whose ingestion pipeline ran on the real Fashion-MNIST files.

    The files come from where a user's run would find them ($FASHION_MNIST_DIR,
    Debian's dataset-fashion-mnist, or the mirrors); a missing data set fails
    loudly with the dataset's own listing error.
    """
    project = make_project_copy(tmp_path_factory.mktemp("real") / "project")
    project.kedro("run", "--pipelines", "ingestion")
    return project


@pytest.fixture(scope="session")
def real_run(real_project) -> ProjectCopy:
    """The same project copy after a full default `kedro run` on the real data."""
    project = real_project
    project.last_run = project.kedro("run")
    return project
