"""``kedro run`` as Kedro ships it, refusing a bad runner, selection or parameter in one sentence.

Kedro loads a project's ``cli.py``: its ``cli`` group's commands replace the
built-in ones, and ``find_run_command`` hands its ``run`` to ``python -m
fashion_mnist`` and the ``fashion-mnist`` script. This ``run`` takes Kedro's
own options and calls Kedro's own ``run`` callback. Before that, it checks what
Kedro would refuse with a traceback once the session has started (and
kedro-mlflow has set up its experiment): the runner, the node names and tags
against the pipelines asked for, the filters together, and the parameters
against the nodes' typed models. Each refusal is a click error, printed as one
``Error:`` line, with nothing run and the MLflow store untouched.
"""

from __future__ import annotations

import difflib
import inspect
import os
import types
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import click
from kedro.framework.cli.project import run as kedro_run
from kedro.framework.project import pipelines, settings
from kedro.pipeline import Pipeline
from kedro.utils import find_kedro_project, load_obj

NOTHING_RUN = "nothing was run"
MISSING = object()  # a parameter the configuration does not hold
# Kedro's run options that select nodes, by their name in Pipeline.filter.
FILTERS = {
    "node_names": ("--nodes", "node_names"),
    "from_nodes": ("--from-nodes", "from_nodes"),
    "to_nodes": ("--to-nodes", "to_nodes"),
    "tags": ("--tags", "tags"),
    "from_inputs": ("--from-inputs", "from_inputs"),
    "to_outputs": ("--to-outputs", "to_outputs"),
    "namespaces": ("--namespaces", "node_namespaces"),
}
NODE_OPTIONS = ("node_names", "from_nodes", "to_nodes")


def _choose(name: str, choices: Iterable[str]) -> str:
    """``choose one of a, b, c (did you mean 'b'?)``: the choices and the closest ones."""
    choices = list(choices)
    close = [c for c in choices if c.endswith(f".{name}")] or difflib.get_close_matches(
        name, choices, n=1
    )
    guess = f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""
    return f"choose one of {', '.join(choices)}{guess}"


def runner_names() -> list[str]:
    """The runner classes ``kedro.runner`` offers that this project runs with."""
    import kedro.runner

    from fashion_mnist.tracking.runner_check import REFUSED_RUNNERS

    return sorted(
        name
        for name in kedro.runner.__all__
        if _is_runner(getattr(kedro.runner, name)) and name not in REFUSED_RUNNERS
    )


def _is_runner(found: Any) -> bool:
    from kedro.runner import AbstractRunner

    return (
        inspect.isclass(found)
        and issubclass(found, AbstractRunner)
        and not inspect.isabstract(found)
    )


def check_runner(runner: str | None) -> None:
    """Refuse a ``--runner`` that names no runner class, as Kedro's run resolves it."""
    if runner is None:
        return
    try:
        found = load_obj(runner, "kedro.runner")
    except (AttributeError, ImportError, ValueError):
        found = None
    if not _is_runner(found):
        raise click.BadParameter(
            f"there is no runner {runner!r} in kedro.runner; "
            f"{_choose(runner, runner_names())}.",
            param_hint="'--runner'",
        )
    from fashion_mnist.tracking.runner_check import REFUSED_RUNNERS, refusal

    if found.__name__ in REFUSED_RUNNERS:
        raise click.BadParameter(refusal(found.__name__), param_hint="'--runner'")


def _described(names: list[str]) -> str:
    return f"pipeline{'s' if len(names) > 1 else ''} {', '.join(names)}"


def check_selection(
    pipeline: Pipeline, names: list[str], options: dict[str, Any]
) -> None:
    """Refuse node names and tags the pipelines lack, and filters that leave no node.

    Raises:
        click.BadParameter: an option names a node, tag, dataset or namespace
            that the pipelines asked for lack (exit status 2).
        click.ClickException: each filter selects nodes, but none meets them all.
    """
    what = _described(names)
    node_names = sorted(node.name for node in pipeline.nodes)
    for option in NODE_OPTIONS:
        flag, keyword = FILTERS[option]
        for name in options[option]:
            try:
                pipeline.filter(**{keyword: [name]})
            except ValueError:
                raise click.BadParameter(
                    f"there is no node {name!r} in {what}; {_choose(name, node_names)}.",
                    param_hint=f"'{flag}'",
                ) from None
    tags = sorted({tag for node in pipeline.nodes for tag in node.tags})
    for tag in options["tags"]:
        if tag not in tags:
            listed = (
                _choose(tag, tags) if tags else "its nodes carry no tag: drop --tags"
            )
            raise click.BadParameter(
                f"no node of {what} has the tag {tag!r}; {listed}.",
                param_hint="'--tags'",
            )
    given = {option: options[option] for option in FILTERS if options[option]}
    for option, value in given.items():
        flag, keyword = FILTERS[option]
        try:
            pipeline.filter(**{keyword: value})
        except ValueError as error:
            raise click.BadParameter(
                f"{error} (in {what}); {NOTHING_RUN}.", param_hint=f"'{flag}'"
            ) from None
    if len(given) > 1:
        try:
            pipeline.filter(
                **{FILTERS[option][1]: value for option, value in given.items()}
            )
        except ValueError:
            flags = " ".join(f"{FILTERS[o][0]} {','.join(v)}" for o, v in given.items())
            raise click.ClickException(
                f"{flags} leave no node of {what} to run: each selects nodes, but "
                f"no node meets them all; widen one of them, {NOTHING_RUN}."
            ) from None


def _lookup(params: dict[str, Any], key: str) -> Any:
    """The value at a dotted parameter ``key``, or ``MISSING`` where there is none."""
    value: Any = params
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def _optional(annotation: Any) -> tuple[bool, Any]:
    """Whether ``annotation`` admits ``None``, and the one type it holds besides."""
    if get_origin(annotation) not in (Union, types.UnionType):
        return False, annotation
    kept = [a for a in get_args(annotation) if a is not type(None)]
    optional = len(kept) < len(get_args(annotation))
    return optional, kept[0] if len(kept) == 1 else annotation


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _problem(key: str, error: dict[str, Any]) -> str:
    """One pydantic error as ``training.lr = -1: Input should be greater than 0``."""
    path = ".".join(map(str, (key, *error["loc"])))
    message = error["msg"]
    if message.startswith(f"{key}."):  # the project's own message names path and value
        return message
    if error["type"] == "missing":
        return f"{path} is missing"
    return f"{path} = {_shown(error['input'])}: {message}"


def parameter_problems(params: dict[str, Any], scope: dict[str, Pipeline]) -> list[str]:
    """What Kedro's parameter validation would refuse, one line per bad value.

    The same public pieces that Kedro's ``ParameterValidator`` uses: the typed
    ``params:`` inputs of the pipelines' nodes, each built with
    ``instantiate_model``, whose error keeps pydantic's own as its cause.
    """
    from kedro.validation import (
        ModelInstantiationError,
        TypeExtractor,
        instantiate_model,
    )
    from pydantic import ValidationError

    problems = []
    for key, expected in TypeExtractor(scope).extract_types_from_pipelines().items():
        value = _lookup(params, key)
        optional, model = _optional(expected)
        if value is MISSING or (value is None and optional):  # as Kedro: no check
            continue
        if value is None:
            needed = getattr(model, "__name__", model)
            problems.append(f"{key} is empty (null), but a node takes it as {needed}")
            continue
        try:
            instantiate_model(key, value, model)
        except ModelInstantiationError as error:
            cause = error.__cause__
            if isinstance(cause, ValidationError):
                problems += [_problem(key, e) for e in cause.errors()]
            else:
                problems.append(f"{key}: {error}")
    return sorted(problems)


def parameters_message(problems: list[str]) -> str:
    """One sentence for one bad value; a sentence and one line per value for several."""
    if len(problems) == 1:
        return f"{problems[0]}; fix it in conf/ or with --params, {NOTHING_RUN}."
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return (
        f"{len(problems)} parameter values are invalid; fix each in conf/ or with "
        f"--params, {NOTHING_RUN}:\n{lines}"
    )


def check_parameters(options: dict[str, Any], names: list[str]) -> None:
    """Refuse bad parameters as Kedro's session would, before any session exists.

    The configuration is read as ``KedroSession`` reads it: the project's
    config loader class and arguments, its conf source and env, the
    ``--params`` given. A bad env or YAML file is refused here in the loader's
    own words.
    """
    project = find_kedro_project(Path.cwd()) or Path.cwd()
    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=options["conf_source"] or str(project / settings.CONF_SOURCE),
        env=options["env"] or os.getenv("KEDRO_ENV"),
        runtime_params=options["params"],
        **settings.CONFIG_LOADER_ARGS,
    )
    from kedro.config import MissingConfigException

    try:
        params = loader["parameters"]
    except MissingConfigException:
        return
    # As KedroSession.run: the pipelines asked for, or all for __default__.
    scope = (
        dict(pipelines) if "__default__" in names else {n: pipelines[n] for n in names}
    )
    problems = parameter_problems(params, scope)
    if problems:
        raise click.ClickException(parameters_message(problems))


@click.group(name="fashion_mnist")
def cli() -> None:
    """The project's commands: Kedro's ``run``, with its errors in one sentence."""


@cli.command(
    name="run",
    params=list(kedro_run.params),
    help=kedro_run.help,
    short_help="Run the pipeline; a bad option or parameter is refused in one line.",
)
def run(**options: Any) -> dict[str, Any]:
    """Check the runner, the selection and the parameters, then run Kedro's ``run``."""
    from kedro.validation import ParameterValidationError

    if options["pipeline"] and options["pipelines"]:
        raise click.UsageError(
            "--pipeline and --pipelines cannot be used together; use --pipelines "
            f"(--pipeline is deprecated), {NOTHING_RUN}."
        )
    check_runner(options["runner"])
    asked = sorted(
        {options["pipeline"]} if options["pipeline"] else set(options["pipelines"])
    )
    # KedroSession.run asks for the same pipelines: they are loaded once.
    pipelines.set_requested(asked or None)
    names = asked or ["__default__"]
    pipeline = sum((pipelines[name] for name in names), start=Pipeline([]))
    check_selection(pipeline, names, options)
    check_parameters(options, names)
    try:
        return kedro_run.callback(**options)
    except ParameterValidationError as error:  # one the checks above did not foresee
        raise click.ClickException(f"{error}\n{NOTHING_RUN}.") from error
