"""Project settings: the project's hooks and how configuration is loaded."""

import os
from pathlib import Path

from kedro.utils import find_kedro_project
from omegaconf.resolvers import oc

from fashion_mnist.hooks import (
    ReproducibilityTagsHook,
    RunnerCheckHook,
    RunRecordHook,
    TrackingStoreHook,
)
from fashion_mnist.noise import silence_known_noise

# MLflow's telemetry stays off like Kedro's; it does not honour DO_NOT_TRACK=1.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
silence_known_noise()
# kedro-mlflow's hooks come from its entry point; tryfirst/trylast place these
# around them (store checks before it, run binding after it starts the run).
HOOKS = (
    TrackingStoreHook(),
    RunnerCheckHook(),
    RunRecordHook(),
    ReproducibilityTagsHook(),
)


def _project_root() -> str:
    """The Kedro project around the working folder (a notebook runs in notebooks/)."""
    return str(find_kedro_project(Path.cwd()) or Path.cwd())


CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    "custom_resolvers": {
        # ${oc.env:VAR, default}: MLFLOW_TRACKING_URI overrides mlflow.yml's store.
        "oc.env": oc.env,
        # ${project_root:}: keeps the embedded MLflow store at the project root.
        "project_root": _project_root,
    },
    # conf/local/parameters*.yml override single keys, not whole groups; without
    # this, `--params evaluation.thresholds.x=…` would also drop the other bounds
    # whenever conf/local holds parameters.
    "merge_strategy": {"parameters": "soft"},
}
