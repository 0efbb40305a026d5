"""Metric histories logged to the ``kedro run``'s MLflow run in one batch."""

from __future__ import annotations

import time
from itertools import chain
from typing import Any

from kedro_mlflow.io.metrics import MlflowMetricsHistoryDataset
from mlflow.entities import Metric

from fashion_mnist import tracking

# MLflow's limit on metrics in one log_batch call.
_BATCH = 1000


class RunMetricsDataset(MlflowMetricsHistoryDataset):
    """kedro-mlflow's ``MlflowMetricsHistoryDataset``, logged by run id in batches.

    The run is the one the project's hook bound for this ``kedro run``, so a
    save in a worker thread (``--async``, ``ThreadRunner``) logs to it rather
    than to a stray run, and the whole history goes in one ``log_batch`` call
    instead of one request per value. Outside a ``kedro run`` nothing is logged.

    Example catalog entry::

        "{model}.mlflow_metrics":
          type: fashion_mnist.datasets.RunMetricsDataset
          prefix: "{model}"
    """

    # `_save`, not `save`: Kedro aliases a legacy `_save` over a subclass's `save`.
    def _save(self, data: dict[str, Any]) -> None:
        run_id = tracking.current_run_id()
        if run_id is None or not self._logging_activated:
            return
        now = int(time.time() * 1000)
        metrics = [
            Metric(key, float(value), now, int(step))
            for key, value, step in chain.from_iterable(
                self._build_args_list_from_metric_item(k, v) for k, v in data.items()
            )
        ]
        client = tracking.client()
        for start in range(0, len(metrics), _BATCH):
            client.log_batch(run_id, metrics=metrics[start : start + _BATCH])
