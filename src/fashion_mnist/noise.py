"""Silence known third-party warnings that say nothing about this project's run.

Called by the project's ``kedro.init`` entry point
(:func:`fashion_mnist.cli_plugins.init`), which the kedro CLI calls before it
loads its plugins (kedro-mlflow's CLI warns at import), and again by
``settings.py`` for sessions started outside the CLI (notebooks, tests).
"""

import logging
import re
import warnings

# - Kedro and kedro-mlflow call OmegaConf's deprecated register_new_resolver;
# - MLflow asks every PythonModel class (kedro-mlflow's and ours) for type
#   hints, which would replace the uint8 input signature of the input example;
# - Kedro warns once when a node outside a namespace reads a namespaced dataset:
#   the per-model datasets are named <model>.<name> on purpose (one naming form,
#   the namespace's own), and compare_models and the gate read every model's;
# - Kedro 1.7 evaluates every node function's annotations to find typed
#   parameters; the node modules import torch, pandas and matplotlib only when
#   a node runs (so that `kedro` commands start fast), so their annotations
#   name types Kedro cannot resolve. The parameters are checked by
#   fashion_mnist.contracts before a run starts.
KNOWN_NOISE = (
    r"register_new_resolver\(\) is deprecated",
    r"Add type hints to the `predict` method",
    r"Any type hint is inferred as AnyType",
    r"dataset names contain '\.' characters",
    r"Could not extract type hints from function",
)
_PATTERN = re.compile("|".join(KNOWN_NOISE))


class KnownNoise(logging.Filter):
    """Drop the log records of the warnings in :data:`KNOWN_NOISE`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _PATTERN.search(record.getMessage())


def silence_known_noise() -> None:
    """Ignore the warnings in :data:`KNOWN_NOISE`, and only those.

    MLflow re-enables user warnings inside its own code, so the warnings that
    Kedro routes to logging (``py.warnings``) are filtered there as well.
    """
    for pattern in KNOWN_NOISE:
        warnings.filterwarnings("ignore", message=f".*{pattern}", category=UserWarning)
    for name in ("py.warnings", "kedro.validation.type_extractor"):
        captured = logging.getLogger(name)
        if not any(isinstance(f, KnownNoise) for f in captured.filters):
            captured.addFilter(KnownNoise())
