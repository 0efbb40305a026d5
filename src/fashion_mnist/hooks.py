"""Project hooks: tag each MLflow run with what it takes to reproduce it."""

from __future__ import annotations

import logging
import platform
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl

from fashion_mnist.datasets import VerifiedIDXDataset
from fashion_mnist.softmax import resolve_device

logger = logging.getLogger(__name__)


def _git(project_path: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=project_path, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip()


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {
            k: v
            for key, item in value.items()
            for k, v in _flatten(
                f"{prefix}.{key}" if prefix else str(key), item
            ).items()
        }
    return {prefix: value}


def run_name(
    pipeline_names: list[str] | None, runtime_params: dict[str, Any] | None
) -> str:
    """A run name that says what ran: the pipelines, then the overridden parameters.

    Args:
        pipeline_names: ``kedro run --pipelines``; empty means ``__default__``.
        runtime_params: ``kedro run --params``, possibly nested.

    Returns:
        For example ``"__default__ training.lr=0.05"`` or ``"training defaults"``.
    """
    pipelines = "+".join(pipeline_names or ["__default__"])
    overrides = " ".join(
        f"{k}={v}" for k, v in sorted(_flatten("", runtime_params or {}).items())
    )
    return f"{pipelines} {overrides or 'defaults'}"


class ReproducibilityTagsHook:
    """Tag the run kedro-mlflow started: code, data, library versions, device, seed."""

    @hook_impl
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline, catalog
    ) -> None:
        if mlflow.active_run() is None:  # tracking disabled for this pipeline
            return
        project_path = Path(run_params.get("project_path") or ".")
        commit = _git(project_path, "rev-parse", "HEAD")
        status = _git(project_path, "status", "--porcelain")
        training = (
            catalog.load("params:training") if "params:training" in catalog else {}
        )
        try:
            device = str(resolve_device(training.get("device", "auto")))
        except ValueError:  # the training node reports it, naming the parameter
            device = f"invalid: {training.get('device')!r}"
        tags = {
            "mlflow.runName": run_name(
                run_params.get("pipeline_names"), run_params.get("runtime_params")
            ),
            "git_commit": commit or "unknown (not a git checkout)",
            "git_dirty": "unknown" if status is None else str(bool(status)).lower(),
            "torch_version": version("torch"),
            "kedro_version": version("kedro"),
            "mlflow_version": version("mlflow"),
            "python_version": platform.python_version(),
            "seed": str(training.get("seed", "")),
            "device": device,
        }
        for name in catalog.keys():
            dataset = catalog.get(name)
            if isinstance(dataset, VerifiedIDXDataset):
                tags[f"data_md5.{dataset.file}"] = dataset.md5
        mlflow.set_tags(tags)
