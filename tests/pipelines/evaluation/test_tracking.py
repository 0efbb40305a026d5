"""The metrics as tracked: the accuracy's Wilson interval, the curves, and the
model-linked metrics naming the table each was computed on.
"""

import pandas as pd
import pytest

from fashion_mnist.pipelines.evaluation.nodes import (
    evaluate_model,
    model_metrics,
    tracking_metrics,
)
from fashion_mnist.significance import wilson_interval
from tests.pipelines.evaluation.inputs import (
    NAMES,
    TEST_LABELS,
    TEST_PREDICTED,
    _pixel_model,
    _pixel_table,
)


def test_the_test_accuracy_comes_with_its_95_percent_wilson_interval():
    train = _pixel_table([3, 4, 5, 6], lit=[3, 4, 5, 7])
    test = _pixel_table(TEST_LABELS, lit=TEST_PREDICTED)

    metrics = evaluate_model(_pixel_model(), train, test, NAMES)

    assert (metrics["test_acc_ci_low"], metrics["test_acc_ci_high"]) == (
        wilson_interval(4, 6)
    )
    assert metrics["test_acc_ci"] == "95% wilson score interval"
    history = pd.DataFrame(
        {"epoch": [1], "train_loss": [0.5], "train_acc": [0.8], "test_acc": [0.7]}
    )
    tracked = tracking_metrics(metrics, history)
    # The curves in a chart section of their own; the finals in "Model metrics".
    assert tracked["learning_curves/train_loss"] == [{"step": 1, "value": 0.5}]
    assert tracked["learning_curves/test_acc"] == [{"step": 1, "value": 0.7}]
    assert not [k for k in tracked if k.startswith("final") and "/" in k]
    assert tracked["final.test_acc.ci_low"] == [
        {"step": 1, "value": metrics["test_acc_ci_low"]}
    ]
    assert tracked["final.test_acc.ci_high"][0]["value"] == metrics["test_acc_ci_high"]


def test_the_model_linked_metrics_name_the_table_each_was_computed_on():
    metrics = evaluate_model(
        _pixel_model(),
        _pixel_table([0], lit=[0]),
        _pixel_table(TEST_LABELS, lit=TEST_PREDICTED),
        NAMES,
    )
    digests = {"fashion_mnist_train": "d-train", "fashion_mnist_test": "d-test"}

    records = {r["key"]: r for r in model_metrics(metrics, digests)}

    assert records["train_acc"]["dataset_name"] == "fashion_mnist_train"
    assert records["train_acc"]["dataset_digest"] == "d-train"
    assert records["test_acc"]["value"] == metrics["test_acc"]
    assert records["test_acc.ci_low"]["value"] == metrics["test_acc_ci_low"]
    assert records["test_acc.T-shirt_top"]["value"] == pytest.approx(1 / 2)
    assert "test_acc.Dress" not in records  # absent from the test split
    assert {
        r["dataset_digest"] for k, r in records.items() if k.startswith("test")
    } == {"d-test"}
