"""Kedro's config loader, saying in one sentence what is wrong with a missing env or bad YAML.

Kedro's ``OmegaConfigLoader`` raises ``MissingConfigException`` for a missing
``--env`` folder only when a key is read, and kedro-mlflow reads ``mlflow.yml``
first, falls back to its defaults and fails on MLflow's file-store advice; a
YAML error names a 0-based line. This subclass (``CONFIG_LOADER_CLASS`` in
``settings.py``) checks the env when it is made, before any hook or MLflow
store, and raises click errors, which ``kedro`` prints as one ``Error:`` line.
"""

from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

import click
from kedro.config import OmegaConfigLoader
from yaml.parser import ParserError

# The environments a project command writes: the command that makes each one.
MADE_BY = {"tuned": "make sweep"}
_KEDRO_YAML_ERROR = re.compile(
    r"Invalid YAML or JSON file (?P<path>.+?), unable to read"
)


class UnknownEnvironmentError(click.BadParameter):
    """``--env`` (or ``KEDRO_ENV``) names no folder under the configuration root."""


class ConfigurationSyntaxError(click.ClickException):
    """A configuration file is not valid YAML or JSON."""


def environments(conf_root: Path) -> list[str]:
    """The configuration environments a run can choose: the folders under ``conf_root``."""
    if not conf_root.is_dir():
        return []
    return sorted(
        entry.name
        for entry in conf_root.iterdir()
        if entry.is_dir() and not entry.name.startswith((".", "_"))
    )


def missing_env_message(env: str, conf_root: Path) -> str:
    """One sentence: the env, the folder looked for, the choices (and how to make it)."""
    choices = environments(conf_root)
    listed = ", ".join(choices) or "none (the folder holds no environment)"
    message = (
        f"there is no configuration environment {env!r} (no folder {conf_root / env})"
    )
    if env in MADE_BY:
        return f"{message}: run `{MADE_BY[env]}` first, which writes it, or choose one of {listed}."
    close = difflib.get_close_matches(env, choices, n=1)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{message}; choose one of {listed}{guess}."


def _shown(path: str) -> str:
    """``path`` relative to the working folder when it lies inside it."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def yaml_error_message(error: ParserError) -> str:
    """One sentence naming the file, its 1-based line and column, and YAML's complaint."""
    found = _KEDRO_YAML_ERROR.search(str(error))
    cause = error.__cause__
    mark = getattr(cause, "problem_mark", None)
    if not found or mark is None:
        return f"{error} Nothing was run."
    problem = getattr(cause, "problem", None) or "a syntax error"
    context, start = (
        getattr(cause, "context", None),
        getattr(cause, "context_mark", None),
    )
    if context and start is not None:  # e.g. a bracket opened lines earlier
        problem += f" {context} from line {start.line + 1}, column {start.column + 1}"
    return (
        f"{_shown(found['path'])}, line {mark.line + 1}, column {mark.column + 1}, "
        f"is not valid YAML ({problem}); fix it, nothing was run."
    )


class ProjectConfigLoader(OmegaConfigLoader):
    """``OmegaConfigLoader`` that refuses a missing env at once and names YAML errors plainly."""

    def __init__(
        self,
        conf_source: str | Path,
        env: str | None = None,
        runtime_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        run_env = env or kwargs.get("default_run_env")
        root = Path(conf_source)
        # A packaged or remote conf_source (zip, s3://) is Kedro's to check.
        if (
            run_env
            and run_env != kwargs.get("base_env")
            and root.is_dir()
            and not (root / run_env).is_dir()
        ):
            hint = (
                "'--env'"
                if env and os.environ.get("KEDRO_ENV") != env
                else "KEDRO_ENV"
                if env
                else "default_run_env (settings.py)"
            )
            raise UnknownEnvironmentError(
                missing_env_message(run_env, root), param_hint=hint
            )
        super().__init__(conf_source, env, runtime_params, **kwargs)

    def __getitem__(self, key: str) -> dict[str, Any]:
        try:
            return super().__getitem__(key)
        except ParserError as error:
            raise ConfigurationSyntaxError(yaml_error_message(error)) from error
