"""What a run is called and tagged with: pipelines, node filters, runner, overrides."""

from __future__ import annotations

from typing import Any

SEQUENTIAL, THREAD = "SequentialRunner", "ThreadRunner"
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
    return " ".join(f"{k}={v}" for k, v in sorted(flat.items())) or "defaults"


def run_name(
    run_params: dict[str, Any], runner: str = SEQUENTIAL, is_async: bool = False
) -> str:
    """A run name that says what ran: pipelines, node filters, runner, parameters.

    Args:
        run_params: Kedro's ``run_params`` (``pipeline_names``, the node
            filters, ``runtime_params``).
        runner: The runner's class name.
        is_async: Whether the run loads and saves asynchronously.

    Returns:
        For example ``"__default__ defaults"``,
        ``"__default__ --from-nodes=train_scratch training.lr=0.05"`` or
        ``"training ThreadRunner defaults"``.
    """
    parts = ["+".join(run_params.get("pipeline_names") or ["__default__"])]
    parts += [f"--{k}={v}" for k, v in node_filters(run_params).items()]
    if runner != SEQUENTIAL:
        parts.append(runner)
    if is_async:
        parts.append("--async")
    parts.append(overrides(run_params))
    return " ".join(parts)


def run_tags(
    run_params: dict[str, Any], runner: str = SEQUENTIAL, is_async: bool = False
) -> dict[str, str]:
    """The tags that say how the run was asked for (name, runner, filters, overrides)."""
    filters = node_filters(run_params)
    return {
        "mlflow.runName": run_name(run_params, runner, is_async),
        "runner": runner,
        "kedro.runner": runner,
        "kedro.async": str(is_async).lower(),
        "kedro.pipelines": ",".join(
            run_params.get("pipeline_names") or ["__default__"]
        ),
        "kedro.partial": str(bool(filters)).lower(),
        **{f"kedro.{k}": v for k, v in filters.items()},
        "kedro.params": overrides(run_params),
    }
