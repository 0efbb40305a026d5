"""Project pipelines."""

from __future__ import annotations

import difflib
import re
from importlib.resources import files

import click
from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

ON_DEMAND = {"inference", "tuning", "retrain"}
DEFAULT = "__default__"


class UnknownPipelineError(click.BadParameter):
    """``--pipelines`` names a pipeline the project does not have."""


def pipeline_names() -> list[str]:
    """Every pipeline a run can ask for: ``__default__`` and the ``pipelines/`` folders."""
    found = files(f"{__package__}.pipelines").iterdir()
    folders = (p.name for p in found if p.is_dir() and p.name[0] not in "_.")
    return [DEFAULT, *sorted(folders)]


def unknown_pipeline_message(name: str | None) -> str:
    """One sentence: the unknown pipeline, the choices, and the closest one."""
    choices = pipeline_names()
    close = difflib.get_close_matches(name or "", choices, n=1)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    what = (
        f"there is no pipeline {name!r}"
        if name
        else "a pipeline asked for does not exist"
    )
    return f"{what}; choose one of {', '.join(choices)}{guess}."


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects.

    Raises:
        UnknownPipelineError: ``--pipelines`` asked for a pipeline the project
            lacks (Kedro loads only the pipelines asked for).
    """
    try:
        pipelines = find_pipelines(raise_errors=True)
    except ImportError as error:
        # A folder that fails to import chains its cause; a name with no folder does not.
        if error.__cause__ is not None:
            raise
        named = re.search(
            rf"'{re.escape(__package__)}\.pipelines\.([^']+)'", str(error)
        )
        message = unknown_pipeline_message(named[1] if named else None)
        raise UnknownPipelineError(message, param_hint="'--pipelines'") from None
    # Inference classifies the user's own images: asked for by name, never by default.
    pipelines[DEFAULT] = sum(
        (pipeline for name, pipeline in pipelines.items() if name not in ON_DEMAND),
        start=Pipeline([]),
    )
    return pipelines
