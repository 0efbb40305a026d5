"""Project settings: the project's hooks and how configuration is loaded."""

import os
from pathlib import Path

from kedro.utils import find_kedro_project
from omegaconf.resolvers import oc

from fashion_mnist.hooks import (
    ReproducibilityTagsHook,
    RunnerCheckHook,
    RunRecordHook,
    TrackingHook,
    TrackingStoreHook,
)
from fashion_mnist.noise import silence_known_noise

# MLflow's telemetry stays off like Kedro's; it does not honour DO_NOT_TRACK=1.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
silence_known_noise()
# kedro-mlflow's hook runs as TrackingHook, imported on first use and batched;
# its plugin instance would import mlflow for every `kedro` command. Listed
# last, it is called first among hooks of equal priority, as a plugin's hook
# would be; tryfirst/trylast place the others around it (store checks before
# it, run binding after it starts the run).
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow", "kedro-mlflow")
HOOKS = (
    TrackingStoreHook(),
    RunnerCheckHook(),
    RunRecordHook(),
    ReproducibilityTagsHook(),
    TrackingHook(),
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
