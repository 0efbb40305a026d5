"""Comparing models: one row per model and each tested against the best, paired."""

import math

import pandas as pd
import pytest

from fashion_mnist.params import RegistryParams
from fashion_mnist.pipelines.evaluation.nodes import (
    COMPARISON_COLUMNS,
    compare_models,
    evaluate_model,
    predict_split,
    predicted_classes,
)
from fashion_mnist.significance import wilson_interval
from tests.pipelines.evaluation.inputs import NAMES, _pixel_model
from tests.support.synthetic import make_table
from tests.support.synthetic import random_model as _random_model


def test_the_comparison_has_one_row_per_model_with_its_headline_metrics():
    train, test = make_table(3, seed=1), make_table(2, seed=2)
    scratch = evaluate_model(_random_model(seed=1), train, test, NAMES)
    concise = evaluate_model(_pixel_model(), train, test, NAMES)
    provenance = {
        "scratch": {"run_id": "r-this", "this_run": True},
        "concise": {"run_id": "r-earlier", "this_run": False},
    }

    comparison = compare_models(
        provenance,
        RegistryParams(),
        **{"scratch.metrics": scratch, "concise.metrics": concise},
        **{
            f"{name}.test_predicted": predicted_classes(predict_split(model, test))
            for name, model in [
                ("scratch", _random_model(1)),
                ("concise", _pixel_model()),
            ]
        },
    )

    assert list(comparison.columns) == COMPARISON_COLUMNS
    assert comparison["model"].tolist() == ["scratch", "concise"]
    for row, metrics in zip(comparison.itertuples(), [scratch, concise], strict=True):
        for column in ["train_loss", "train_acc", "test_loss", "test_acc"]:
            assert getattr(row, column) == metrics[column]
        assert row.test_acc_ci_low <= row.test_acc <= row.test_acc_ci_high
    assert comparison["trained_in_run"].tolist() == ["r-this", "r-earlier"]
    assert comparison["trained_in_this_run"].tolist() == [True, False]


def _predicted(right: list[bool]) -> pd.DataFrame:
    """Predictions of class 0 images: right where asked, class 1 elsewhere."""
    return pd.DataFrame(
        {"label": [0] * len(right), "predicted": [0 if r else 1 for r in right]}
    ).astype("int8")


def _metrics(right: list[bool]) -> dict:
    acc = sum(right) / len(right)
    low, high = wilson_interval(sum(right), len(right))
    return {
        "train_loss": 0.3,
        "train_acc": 0.9,
        "test_loss": 0.4,
        "test_acc": acc,
        "test_acc_ci_low": low,
        "test_acc_ci_high": high,
    }


@pytest.mark.parametrize(
    ("only_concise", "p_value", "significant"),
    # 20 images both get right; concise alone gets 6 (p = 2 / 2**6) or 5 of 7 (p = 2 * 29 / 2**7).
    [((6, 0), 2 / 2**6, True), ((5, 2), 2 * 29 / 2**7, False)],
)
def test_the_comparison_tests_each_model_against_the_best_on_the_paired_images(
    only_concise, p_value, significant
):
    only_c, only_s = only_concise
    both, neither = [True] * 20, [False] * 4
    concise = both + [True] * only_c + [False] * only_s + neither
    scratch = both + [False] * only_c + [True] * only_s + neither

    comparison = compare_models(
        {},
        RegistryParams(alpha=0.05),
        **{"scratch.metrics": _metrics(scratch), "concise.metrics": _metrics(concise)},
        **{"scratch.test_predicted": _predicted(scratch)},
        **{"concise.test_predicted": _predicted(concise)},
    ).set_index("model")

    assert comparison.loc["scratch", "p_vs_best"] == pytest.approx(p_value, rel=1e-12)
    assert bool(comparison.loc["scratch", "significant_vs_best"]) is significant
    assert comparison.loc["scratch", "diff_vs_best"] == pytest.approx(
        (only_s - only_c) / len(concise)
    )
    assert math.isnan(comparison.loc["concise", "p_vs_best"])
    assert not comparison.loc["concise", "significant_vs_best"]
