"""Log every field of the validated parameter groups, under their dotted names.

Kedro 1.7 passes a node's typed ``params:<group>`` input as the validated
pydantic model; kedro-mlflow's hook flattens dicts only, so it logs such a
group as one string param (``training`` = ``"batch_size=256 lr=0.1 ..."``).
This hook adds the fields (``training.lr``, ``evaluation.thresholds.min_test_acc``),
the names MLflow held when groups were plain dicts.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kedro.framework.hooks import hook_impl

from fashion_mnist.secrets import mask_url

from . import run
from .names import flatten
from .store import mlflow_yml

logger = logging.getLogger(__name__)

_PREFIX = "params:"


def model_fields(name: str, value: Any) -> dict[str, str]:
    """The fields a validated group holds, as ``{"<name>.<field>...": "<value>"}``.

    Only the fields the configuration set (as before, when the group was its
    YAML dict); ``{}`` for a value that is no model, or a model of no fields
    (a ``RootModel``, which kedro-mlflow logs under ``name`` itself).
    """
    from pydantic import BaseModel, RootModel

    if not isinstance(value, BaseModel) or isinstance(value, RootModel):
        return {}
    dumped = value.model_dump(mode="json", exclude_unset=True)
    return {key: str(item) for key, item in flatten(name, dumped).items()}


class ParameterLoggingHook:
    """Log a node's validated parameter groups field by field, in one request per node."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._logged: dict[str, str] = {}
        self._run_id: str | None = None
        self._long_as_tag = True

    @hook_impl
    def after_context_created(self, context) -> None:
        """Read how ``mlflow.yml`` treats values over MLflow's length limit."""
        params = (mlflow_yml(context).get("tracking") or {}).get("params") or {}
        self._long_as_tag = params.get("long_params_strategy", "fail") == "tag"

    @hook_impl
    def before_node_run(self, node, inputs: dict[str, Any]) -> None:
        """Log the fields of the node's model-valued ``params:`` inputs not logged yet."""
        run_id = run.current_run_id()
        if run_id is None:
            return
        fields = {
            key: text
            for name, value in inputs.items()
            if name.startswith(_PREFIX)
            for key, text in model_fields(name[len(_PREFIX) :], value).items()
        }
        with self._lock:
            if self._run_id != run_id:
                self._run_id, self._logged = run_id, {}
            new = {k: v for k, v in fields.items() if self._logged.get(k) != v}
            self._logged.update(new)
        if new:
            self._log(run_id, new)

    def _log(self, run_id: str, fields: dict[str, str]) -> None:
        from mlflow.entities import Param, RunTag
        from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

        params, tags = [], []
        for key, value in fields.items():
            text = mask_url(value)  # no parameter is recorded with a URL's password
            if len(text) <= MAX_PARAM_VAL_LENGTH:
                params.append(Param(key, text))
            elif self._long_as_tag:
                tags.append(RunTag(key, text))
            else:
                logger.warning(
                    "Parameter %r (%d characters) is longer than MLflow allows: "
                    "truncated to %d",
                    key,
                    len(text),
                    MAX_PARAM_VAL_LENGTH,
                )
                params.append(Param(key, text[:MAX_PARAM_VAL_LENGTH]))
        run.client().log_batch(run_id, params=params, tags=tags)
