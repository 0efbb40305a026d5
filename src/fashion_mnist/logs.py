"""A logging filter for third-party warnings that say nothing about this project's run."""

from __future__ import annotations

import logging
import re

# - MLflow asks every PythonModel subclass for type hints on `predict`:
#   kedro-mlflow's KedroPipelineModel, imported by its CLI, has none (the
#   project's own model has them, and a logged model loads without this filter);
# - Kedro and kedro-mlflow call OmegaConf's deprecated register_new_resolver;
# - MLflow infers `Any` hints as AnyType;
# - Kedro warns once when a node outside a namespace reads a namespaced
#   dataset: the per-model datasets are named <model>.<name> on purpose (one
#   naming form, the namespace's own), and the comparison and overlay read them.
KNOWN_NOISE = (
    r"dataset names contain '\.' characters",
    r"Add type hints to the `predict` method",
    r"register_new_resolver\(\) is deprecated",
    r"Any type hint is inferred as AnyType",
)
_PATTERN = re.compile("|".join(KNOWN_NOISE))


class KnownNoise(logging.Filter):
    """Drop the log records (Python warnings routed to ``py.warnings``) of :data:`KNOWN_NOISE`."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _PATTERN.search(record.getMessage())


def init() -> None:
    """Filter :data:`KNOWN_NOISE` out of the ``py.warnings`` logger; idempotent.

    Meant as the project's ``kedro.init`` entry point, which the kedro CLI
    calls before it loads its plugins (kedro-mlflow's CLI warns at import).
    Kedro 1.7 refuses a custom filter in ``conf/logging.yml`` (no ``()``
    factories; classes only from ``logging``, ``kedro.logging`` or modules
    named in ``KEDRO_LOGGING_MODULE_ALLOWLIST``).
    """
    captured = logging.getLogger("py.warnings")
    if not any(isinstance(f, KnownNoise) for f in captured.filters):
        captured.addFilter(KnownNoise())
