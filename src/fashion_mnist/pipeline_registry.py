"""Project pipelines."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

ON_DEMAND = {"inference", "tuning", "retrain"}


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects.
    """
    pipelines = find_pipelines(raise_errors=True)
    # Inference classifies the user's own images: asked for by name, never by default.
    pipelines["__default__"] = sum(
        pipeline for name, pipeline in pipelines.items() if name not in ON_DEMAND
    )
    return pipelines
