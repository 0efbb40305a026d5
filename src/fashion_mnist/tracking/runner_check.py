"""Refuse ParallelRunner before any MLflow run exists."""

from __future__ import annotations

import logging
from typing import Any

from kedro.framework.hooks import hook_impl
from kedro.io import SharedMemoryDataCatalog

logger = logging.getLogger(__name__)

WORKING_RUNNERS = "SequentialRunner (the default, also with --async) or ThreadRunner"
# Kedro's runners that this project refuses (see RunnerCheckHook).
REFUSED_RUNNERS = frozenset({"ParallelRunner"})


def refusal(runner: str) -> str:
    """Why ``runner`` (one of :data:`REFUSED_RUNNERS`) is refused, and what to use."""
    return (
        f"{runner} is not supported by this project: its worker processes cannot "
        "log to the run's MLflow record, nor share the in-memory results that keep "
        f"concurrent runs apart. Nothing was run. Use {WORKING_RUNNERS}, e.g. kedro "
        "run --runner ThreadRunner."
    )


class UnsupportedRunnerError(RuntimeError):
    """A runner that cannot keep one truthful MLflow record was asked for."""


class RunnerCheckHook:
    """Refuse a runner whose worker processes would split or lose the record.

    Kedro gives ParallelRunner, and only it, a ``SharedMemoryDataCatalog``.
    This hook is ``tryfirst``: it runs before kedro-mlflow's own
    ``before_pipeline_run`` starts the MLflow run, so a refused run leaves
    nothing in the store.
    """

    @hook_impl(tryfirst=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline, catalog
    ) -> None:
        """Raise :class:`UnsupportedRunnerError` for ParallelRunner."""
        if isinstance(catalog, SharedMemoryDataCatalog):
            raise UnsupportedRunnerError(refusal("ParallelRunner"))
