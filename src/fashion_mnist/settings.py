"""Project settings: the project's hooks and how configuration is loaded.

kedro-mlflow's hook is registered by the plugin itself; the hooks below place
themselves around it with ``tryfirst``/``trylast`` (see fashion_mnist.tracking).
"""

from pathlib import Path

from kedro.utils import find_kedro_project
from omegaconf.resolvers import oc

from fashion_mnist.collector import TeardownHook
from fashion_mnist.config_loader import ProjectConfigLoader
from fashion_mnist.tracking.gate import GateHook
from fashion_mnist.tracking.params import ParameterLoggingHook
from fashion_mnist.tracking.record import RunRecordHook
from fashion_mnist.tracking.reproducibility import ReproducibilityTagsHook
from fashion_mnist.tracking.runner_check import RunnerCheckHook
from fashion_mnist.tracking.store import TrackingStoreHook
from fashion_mnist.tracking.summary import RunSummaryHook

HOOKS = (
    RunSummaryHook(),  # its lines end the run's log
    TrackingStoreHook(),
    RunnerCheckHook(),
    RunRecordHook(),
    ReproducibilityTagsHook(),
    ParameterLoggingHook(),
    GateHook(),
    TeardownHook(),
)


def _project_root() -> str:
    """The Kedro project around the working folder (a notebook runs in notebooks/)."""
    return str(find_kedro_project(Path.cwd()) or Path.cwd())


# Refuses a missing --env and names YAML errors before any hook or MLflow store.
CONFIG_LOADER_CLASS = ProjectConfigLoader
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
