"""Project settings: the project's hooks and how configuration is loaded."""

from omegaconf.resolvers import oc

from fashion_mnist.hooks import ReproducibilityTagsHook

# kedro-mlflow's hooks come from its entry point and run before these (LIFO).
HOOKS = (ReproducibilityTagsHook(),)

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # ${oc.env:VAR, default} in conf: MLFLOW_TRACKING_URI overrides mlflow.yml's store.
    "custom_resolvers": {"oc.env": oc.env},
    # conf/local/parameters*.yml override single keys, not whole groups; without
    # this, `--params evaluation.thresholds.x=…` would also drop the other bounds
    # whenever conf/local holds parameters.
    "merge_strategy": {"parameters": "soft"},
}
