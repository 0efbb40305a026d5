"""Metric histories logged to the ``kedro run``'s MLflow run, from whatever thread saves them."""

from __future__ import annotations

from kedro_mlflow.io.metrics import MlflowMetricsHistoryDataset

from fashion_mnist.tracking import run


class RunMetricsDataset(MlflowMetricsHistoryDataset):
    """kedro-mlflow's ``MlflowMetricsHistoryDataset``, logging to the bound run by id.

    MLflow's active run is per thread: kedro-mlflow's dataset, saved in a worker
    thread (``--async``, ``ThreadRunner``), finds none there. This one's
    ``run_id`` is the run the project's hook bound for the ``kedro run``, so
    every save logs to it by id (one request per value, kedro-mlflow's way).
    Outside a ``kedro run`` it is kedro-mlflow's dataset as it stands.

    Example catalog entry::

        "{model}.mlflow_metrics":
          type: fashion_mnist.datasets.RunMetricsDataset
          prefix: "{model}"
    """

    @property
    def run_id(self) -> str | None:
        """The bound ``kedro run``'s MLflow run; else kedro-mlflow's own choice."""
        return run.current_run_id() or MlflowMetricsHistoryDataset.run_id.fget(self)

    @run_id.setter
    def run_id(self, run_id: str | None) -> None:
        MlflowMetricsHistoryDataset.run_id.fset(self, run_id)
