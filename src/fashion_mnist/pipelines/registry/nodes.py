"""Registry nodes: which models of this run go to the registry, and which become champion."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from fashion_mnist.params import RegistryParams
from fashion_mnist.schemas import LABEL_COLUMN
from fashion_mnist.significance import mcnemar_exact


def registration_candidates(
    comparison: pd.DataFrame,
    verdict: dict[str, Any],
    champions: dict[str, dict[str, Any] | None],
    registry: RegistryParams,
    digests: dict[str, str],
    **evidence: Any,
) -> dict[str, dict[str, Any]]:
    """Pick the models to register, and decide for each whether it becomes champion.

    Under ``policy: significant`` a model replaces the champion only when it
    is more accurate on the same test images and McNemar's exact test on those
    paired predictions gives p < ``alpha``; under ``better``, on any higher
    accuracy. A champion whose predictions cannot be paired with this run's
    (none recorded, or other images) is compared by accuracy alone, and the
    decision says so.

    Args:
        comparison: One row per model, with ``test_acc``, ``test_acc_ci_low``,
            ``test_acc_ci_high`` and ``trained_in_this_run``.
        verdict: The threshold gate's ``passed``, ``failures`` and ``on_failure``.
        champions: Per model, the current champion (``version``, ``test_acc``,
            ``predictions``: ``label`` and ``predicted`` per test image or
            ``None``), or ``None`` when there is none.
        registry: ``policy`` (``significant`` or ``better``) and ``alpha``.
        digests: Each table's content digest, by dataset name.
        **evidence: Per model, ``<model>.metrics`` (from the evaluation) and
            ``<model>.test_predicted`` (``label`` and ``predicted`` per test
            image).

    Returns:
        Per model to register: ``test_acc``, ``test_acc_ci_low``,
        ``test_acc_ci_high``, ``test_per_class_acc``, ``data`` (the
        tables' digests) and ``decision``
        (``promote``, ``reason``, ``champion_version``, ``champion_test_acc``,
        ``difference``, ``p_value``, ``policy``, ``alpha``). Empty when the
        gate failed (a run with ``evaluation.on_failure=warn`` goes on, but
        registers nothing). A model this run only reported on was registered
        by the run that trained it.
    """
    if not verdict["passed"]:
        return {}
    candidates = {}
    for row in comparison.itertuples():
        if not bool(row.trained_in_this_run):
            continue
        metrics = evidence[f"{row.model}.metrics"]
        candidates[row.model] = {
            "test_acc": float(row.test_acc),
            "test_acc_ci_low": float(row.test_acc_ci_low),
            "test_acc_ci_high": float(row.test_acc_ci_high),
            "test_per_class_acc": metrics["test_per_class_acc"],
            "data": dict(digests),
            "decision": champion_decision(
                float(row.test_acc),
                evidence[f"{row.model}.test_predicted"],
                champions.get(row.model),
                registry,
            ),
        }
    return candidates


def champion_decision(
    test_acc: float,
    predicted: pd.DataFrame,
    champion: dict[str, Any] | None,
    registry: RegistryParams,
) -> dict[str, Any]:
    """Whether a new version with these predictions replaces the champion.

    Args:
        test_acc: The new version's test accuracy, in [0, 1].
        predicted: ``label`` and ``predicted`` per test image (integers).
        champion: ``version``, ``test_acc`` and ``predictions`` (same layout
            as ``predicted``, or ``None``), or ``None`` when there is none.
        registry: ``policy`` and ``alpha``.

    Returns:
        ``promote`` (bool), ``reason`` (one line, e.g. ``"0.8352 vs 0.8343,
        p = 0.41: not significant"``), ``champion_version``,
        ``champion_test_acc``, ``difference`` and ``p_value`` (``None`` where
        they do not apply), ``policy`` and ``alpha``.
    """
    decision = {
        "champion_version": None,
        "champion_test_acc": None,
        "difference": None,
        "p_value": None,
        "policy": registry.policy,
        "alpha": registry.alpha,
    }
    if champion is None:
        return {**decision, "promote": True, "reason": "first version: champion"}
    theirs = champion.get("predictions")
    paired = theirs is not None and _same_images(predicted, theirs)
    best = float(champion["test_acc"])
    if math.isnan(best) and paired:
        best = float(_right(theirs).mean())  # a version tagged without its accuracy
    decision["champion_version"] = str(champion["version"])
    if math.isnan(best):
        reason = "the champion records no test accuracy: replaced"
        return {**decision, "promote": True, "reason": reason}
    difference = test_acc - best
    decision.update(champion_test_acc=best, difference=difference)
    if paired:
        decision["p_value"] = mcnemar_exact(_right(predicted), _right(theirs))[
            "p_value"
        ]
    numbers = f"{test_acc:.4f} vs {best:.4f}"
    if registry.policy == "better" or not paired:
        promote = difference > 0
        why = "better" if promote else "not better"
        if paired:
            numbers += f", p = {decision['p_value']:.2g}"
        if registry.policy != "better":
            why += (
                " (by accuracy alone: the champion's test predictions cannot be paired)"
            )
        return {**decision, "promote": promote, "reason": f"{numbers}: {why}"}
    p_value = decision["p_value"]
    numbers += f", p = {p_value:.2g}"
    if difference <= 0 or math.isclose(difference, 0.0):
        return {**decision, "promote": False, "reason": f"{numbers}: not better"}
    if p_value >= registry.alpha:
        return {**decision, "promote": False, "reason": f"{numbers}: not significant"}
    return {**decision, "promote": True, "reason": f"{numbers}: significant"}


def _same_images(ours: pd.DataFrame, theirs: pd.DataFrame) -> bool:
    """Whether two prediction tables score the same images: same labels, same order."""
    return len(ours) == len(theirs) and np.array_equal(
        ours[LABEL_COLUMN].to_numpy(), theirs[LABEL_COLUMN].to_numpy()
    )


def _right(predictions: pd.DataFrame) -> np.ndarray:
    return predictions["predicted"].to_numpy() == predictions[LABEL_COLUMN].to_numpy()
