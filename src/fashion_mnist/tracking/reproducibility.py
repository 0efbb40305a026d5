"""Tag the run with what it takes to reproduce it: code, data, versions, device, seed."""

from __future__ import annotations

import platform
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl


def _git(project_path: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=project_path, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip()


def _field(group: Any, name: str, default: Any = None) -> Any:
    """A field of a parameter group: a validated model, or the raw dict when the
    run's pipelines do not type the group (Kedro validates only typed groups)."""
    if isinstance(group, dict):
        return group.get(name, default)
    return getattr(group, name, default)


class ReproducibilityTagsHook:
    """Tag the run kedro-mlflow started: code, data, library versions, device, seed."""

    @hook_impl(trylast=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline, catalog
    ) -> None:
        """Tag git commit and state, the raw files' MD5s, versions, device and seed."""
        import mlflow
        from mlflow.entities import RunTag

        # The active run, not the bound one: this hook need not follow RunRecordHook.
        active = mlflow.active_run()
        if active is None:  # tracking disabled for this pipeline
            return

        from fashion_mnist.datasets import VerifiedIDXDataset
        from fashion_mnist.softmax import resolve_device

        project_path = Path(run_params.get("project_path") or ".")
        commit = _git(project_path, "rev-parse", "HEAD")
        status = _git(project_path, "status", "--porcelain")
        training = (
            catalog.load("params:training") if "params:training" in catalog else {}
        )
        requested = _field(training, "device", "auto")
        try:
            device = str(resolve_device(requested))
        except ValueError:  # the run's parameter validation names it
            device = f"invalid: {requested!r}"
        tags = {
            "git_commit": commit or "unknown (not a git checkout)",
            "git_dirty": "unknown" if status is None else str(bool(status)).lower(),
            "torch_version": version("torch"),
            "kedro_version": version("kedro"),
            "mlflow_version": version("mlflow"),
            "python_version": platform.python_version(),
            "seed": str(_field(training, "seed", "")),
            "device": device,
        }
        for name in pipeline.datasets():
            if name in catalog and isinstance(
                dataset := catalog.get(name), VerifiedIDXDataset
            ):
                tags[f"data_md5.{dataset.file}"] = dataset.md5
        mlflow.MlflowClient().log_batch(
            active.info.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()]
        )
