"""What a run is called and tagged with: overrides, env, node filters, runner, pipelines."""

from __future__ import annotations

import shlex
from typing import Any

from kedro.framework.project import settings

from fashion_mnist.secrets import mask_url

SEQUENTIAL, THREAD = "SequentialRunner", "ThreadRunner"
DEFAULTS = "defaults"
_FILTERS = {
    "from_nodes": "from-nodes",
    "to_nodes": "to-nodes",
    "node_names": "nodes",
    "tags": "tags",
    "namespaces": "namespaces",
    "from_inputs": "from-inputs",
    "to_outputs": "to-outputs",
}


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    """Nested dicts as one level of dotted keys: ``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    if isinstance(value, dict):
        return {
            key: item
            for name, inner in value.items()
            for key, item in flatten(
                f"{prefix}.{name}" if prefix else str(name), inner
            ).items()
        }
    return {prefix: value}


def node_filters(run_params: dict[str, Any]) -> dict[str, str]:
    """The ``kedro run`` options that select part of the pipelines, as ``--option`` text."""
    return {
        option: ",".join(map(str, run_params[key]))
        for key, option in _FILTERS.items()
        if run_params.get(key)
    }


def overrides(run_params: dict[str, Any]) -> str:
    """The ``--params`` of the run as sorted ``key=value`` text, or ``"defaults"``."""
    flat = flatten("", run_params.get("runtime_params") or {})
    return " ".join(f"{k}={v}" for k, v in sorted(flat.items())) or DEFAULTS


def chosen_env(run_params: dict[str, Any]) -> str | None:
    """The ``--env`` of the run, or ``None`` when it reads the default one (``local``)."""
    env = run_params.get("env")
    default = settings.CONFIG_LOADER_ARGS.get("default_run_env", "local")
    return env if env and env != default else None


def pipelines(run_params: dict[str, Any]) -> str:
    """The pipelines the run asked for, ``+``-joined (``__default__`` when none)."""
    return "+".join(run_params.get("pipeline_names") or ["__default__"])


def run_name(
    run_params: dict[str, Any], runner: str = SEQUENTIAL, is_async: bool = False
) -> str:
    """A run name that leads with what tells the run apart, then the pipelines.

    MLflow's runs table cuts long names at the end: the overrides, env, node
    filters and runner come first, the pipelines last.

    Args:
        run_params: Kedro's ``run_params`` (``pipeline_names``, ``env``, the
            node filters, ``runtime_params``).
        runner: The runner's class name.
        is_async: Whether the run loads and saves asynchronously.

    Returns:
        For example ``"defaults __default__"``, ``"training.lr=0.05 __default__"``,
        ``"--env=tuned __default__"`` or
        ``"training.lr=0.05 --from-nodes=train_scratch ThreadRunner training"``.
    """
    parts = [] if (params := overrides(run_params)) == DEFAULTS else [params]
    if env := chosen_env(run_params):
        parts.append(f"--env={env}")
    parts += [f"--{k}={v}" for k, v in node_filters(run_params).items()]
    if runner != SEQUENTIAL:
        parts.append(runner)
    if is_async:
        parts.append("--async")
    return mask_url(" ".join([*(parts or [DEFAULTS]), pipelines(run_params)]))


def kedro_command(
    run_params: dict[str, Any], runner: str = SEQUENTIAL, is_async: bool = False
) -> str:
    """The ``kedro run`` command line that repeats the run, quoted for a POSIX shell.

    kedro-mlflow's own ``kedro_command`` tag leaves out ``--env``, ``--params``
    and the runner; this one replaces it.
    """
    words = ["kedro", "run"]
    if env := chosen_env(run_params):
        words.append(f"--env={env}")
    if names := run_params.get("pipeline_names"):
        words.append(f"--pipelines={','.join(names)}")
    words += [f"--{k}={v}" for k, v in node_filters(run_params).items()]
    if versions := run_params.get("load_versions"):
        words.append(
            "--load-versions=" + ",".join(f"{k}:{v}" for k, v in versions.items())
        )
    if runner != SEQUENTIAL:
        words.append(f"--runner={runner}")
    if is_async:
        words.append("--async")
    if run_params.get("only_missing_outputs"):
        words.append("--only-missing-outputs")
    flat = flatten("", run_params.get("runtime_params") or {})
    if flat:
        words.append(
            "--params=" + ",".join(f"{k}={v}" for k, v in sorted(flat.items()))
        )
    return mask_url(shlex.join(words))


def run_tags(
    run_params: dict[str, Any], runner: str = SEQUENTIAL, is_async: bool = False
) -> dict[str, str]:
    """The tags that say how the run was asked for (name, command, env, filters, overrides)."""
    filters = node_filters(run_params)
    tags = {
        "mlflow.runName": run_name(run_params, runner, is_async),
        "kedro_command": kedro_command(run_params, runner, is_async),
        "runner": runner,
        "kedro.runner": runner,
        "kedro.async": str(is_async).lower(),
        "kedro.env": run_params.get("env")
        or settings.CONFIG_LOADER_ARGS.get("default_run_env", "local"),
        "kedro.pipelines": pipelines(run_params),
        "kedro.partial": str(bool(filters)).lower(),
        **{f"kedro.{k}": v for k, v in filters.items()},
        "kedro.params": overrides(run_params),
    }
    # A --params value may be a URL with a password (a storage, a mirror).
    return {key: mask_url(value) for key, value in tags.items()}
