"""Project settings: the project's hooks and how configuration is loaded."""

from pathlib import Path

from kedro.utils import find_kedro_project
from omegaconf.resolvers import oc

from fashion_mnist.hooks import ReproducibilityTagsHook

# kedro-mlflow's hooks come from its entry point and run before these (LIFO).
HOOKS = (ReproducibilityTagsHook(),)


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
