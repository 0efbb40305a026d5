"""Registry nodes: which models of this run go to the model registry."""

from __future__ import annotations

from typing import Any

import pandas as pd


def registration_candidates(
    comparison: pd.DataFrame, verdict: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """Pick the models to register: those this run trained, when its gate passed.

    Args:
        comparison: One row per model, with ``test_acc`` and
            ``trained_in_this_run`` (from the evaluation pipeline).
        verdict: The threshold gate's ``passed``, ``failures`` and ``on_failure``.

    Returns:
        Per model, its ``test_acc``; empty when the gate failed (a run with
        ``evaluation.on_failure=warn`` goes on, but registers nothing). A model
        this run only reported on was registered by the run that trained it.
    """
    if not verdict["passed"]:
        return {}
    return {
        row.model: {"test_acc": float(row.test_acc)}
        for row in comparison.itertuples()
        if bool(row.trained_in_this_run)
    }
