"""Fail a run whose threshold gate failed, after everything it computed is saved and logged."""

from __future__ import annotations

from typing import Any

from kedro.framework.hooks import hook_impl

from . import record

VERDICT = "gate_verdict"


class ThresholdGateError(RuntimeError):
    """A model's metrics broke the evaluation thresholds (``on_failure: raise``)."""


def gate_message(failures: list[str]) -> str:
    """The error naming every failed check, where the results are, and how to go on."""
    listed = "\n".join(f"  - {failure}" for failure in failures)
    return (
        f"Threshold gate failed ({len(failures)} checks):\n{listed}\n"
        "The metrics and figures are saved under data/08_reporting/. "
        "Set evaluation.on_failure=warn to explore without failing the run."
    )


class GateHook:
    """Raise :class:`ThresholdGateError` once the pipeline ran, if its gate failed.

    The ``check_thresholds`` node only returns a verdict (``passed``,
    ``failures``, ``on_failure``) saved as ``gate_verdict``; every other node
    still runs, so a failing run keeps its metrics, figures and artifacts.
    After the last node, before kedro-mlflow ends the run FINISHED
    (``tryfirst``), this hook ends it FAILED with the reason and raises, so
    ``kedro run`` exits non-zero. A verdict this run did not compute (a
    partial run) is not this run's to enforce.
    """

    def __init__(self) -> None:
        self._verdict: dict[str, Any] | None = None

    @hook_impl
    def before_pipeline_run(self) -> None:
        """Forget a previous run's verdict."""
        self._verdict = None

    @hook_impl
    def after_node_run(self, outputs: dict[str, Any]) -> None:
        """Keep the verdict when the gate node computed it."""
        if VERDICT in outputs:
            self._verdict = outputs[VERDICT]

    @hook_impl(tryfirst=True)
    def after_pipeline_run(self) -> None:
        """End the run FAILED and raise when the verdict failed with ``on_failure: raise``."""
        verdict, self._verdict = self._verdict, None
        if not verdict or verdict.get("passed", True):
            return
        if verdict.get("on_failure", "raise") != "raise":
            return
        error = ThresholdGateError(gate_message(list(verdict.get("failures") or [])))
        record.end_run("FAILED", f"{type(error).__name__}: {error}")
        raise error
