"""The last lines of a ``kedro run``: the model comparison and where to view the run.

``after_pipeline_run`` is a pluggy wrapper: it logs after every other
implementation (kedro-mlflow's, which ends the run, and the gate's, which may
fail it), so these lines end the log of a run that completed or failed its gate.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from kedro.framework.hooks import hook_impl

from fashion_mnist.secrets import split_userinfo

logger = logging.getLogger(__name__)

COMPARISON = "model_comparison"
EXPERIMENT = "fashion_mnist"
# Where `make mlflow-ui` serves an embedded store (MLFLOW_HOST, MLFLOW_PORT).
UI_FOR_EMBEDDED_STORE = "http://127.0.0.1:5000"
# The MLflow 3 UI opens on its GenAI views unless the link asks for these.
WORKFLOW = "workflowType=machine_learning"


def run_url(tracking_uri: str, experiment_id: str, run_id: str) -> tuple[str, bool]:
    """The MLflow UI's page of a run, and whether a server already serves it.

    Args:
        tracking_uri: The run's tracking URI: a server (``http(s)://``; any
            ``user:password@`` is left out of the link) or an embedded store
            (``sqlite:///…``), which ``make mlflow-ui`` serves on
            :data:`UI_FOR_EMBEDDED_STORE`.
        experiment_id: The run's experiment.
        run_id: The run.

    Returns:
        ``(url, served)``; the URL opens the run with the UI's machine-learning views.
    """
    served = tracking_uri.startswith(("http://", "https://"))
    # Never the server's user:password (a log line, and browsers ignore it).
    base = (
        split_userinfo(tracking_uri)[0].rstrip("/") if served else UI_FOR_EMBEDDED_STORE
    )
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}?{WORKFLOW}", served


def experiments_page(ui: str, tracking_uri: str, name: str = EXPERIMENT) -> str:
    """The UI's page of experiment ``name`` on its training runs, or the UI's home.

    Args:
        ui: Where the UI is served, e.g. ``http://127.0.0.1:5000``.
        tracking_uri: The store the UI serves.
        name: The experiment (``conf/base/mlflow.yml``).

    Returns:
        ``<ui>/#/experiments/<id>?workflowType=machine_learning``, or ``<ui>``
        while the store holds no such experiment (no run yet).
    """
    if (
        tracking_uri.startswith("sqlite:///")
        and not Path(tracking_uri.removeprefix("sqlite:///")).exists()
    ):
        return ui  # no store yet: reading it would create one
    from mlflow import MlflowClient

    experiment = MlflowClient(tracking_uri).get_experiment_by_name(name)
    if experiment is None:
        return ui
    return f"{ui.rstrip('/')}/#/experiments/{experiment.experiment_id}?{WORKFLOW}"


class RunSummaryHook:
    """Log the comparison a run computed, then ``View run at <url>``."""

    def __init__(self) -> None:
        self._run: tuple[str, str, str] | None = None

    @hook_impl(trylast=True)
    def before_pipeline_run(self) -> None:
        """Note the run kedro-mlflow started (none when tracking is off)."""
        import mlflow

        active = mlflow.active_run()
        self._run = (
            (mlflow.get_tracking_uri(), active.info.experiment_id, active.info.run_id)
            if active
            else None
        )

    @hook_impl(wrapper=True)
    def after_pipeline_run(self, pipeline, catalog):
        """Around the other hooks: then the comparison this run computed, the run's link."""
        try:
            return (yield)
        finally:
            if COMPARISON in pipeline.all_outputs():
                table = catalog.load(COMPARISON)
                logger.info(
                    "Model comparison:\n%s",
                    table.to_string(index=False, float_format="%.4f"),
                )
            self._view_run()

    @hook_impl(trylast=True)
    def on_pipeline_error(self) -> None:
        """A failed run is worth a look too: its link."""
        self._view_run()

    def _view_run(self) -> None:
        if self._run is None:
            return
        url, served = run_url(*self._run)
        self._run = None
        if served:
            logger.info("View run at %s", url)
        else:
            logger.info("View run at %s; serve it with make mlflow-ui", url)


if __name__ == "__main__":
    # `make mlflow-ui`'s first line: python -m fashion_mnist.tracking.summary <ui url>
    page = experiments_page(sys.argv[1], os.environ["MLFLOW_TRACKING_URI"])
    print(f"MLflow UI: open {page}")  # noqa: T201 (a command's output)
