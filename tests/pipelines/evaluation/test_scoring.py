"""Scoring one model: confusion matrix, metrics, loss, predictions, and refusals."""

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fashion_mnist.params import ClassNames
from fashion_mnist.pipelines.evaluation.nodes import evaluate_model, predict_split
from fashion_mnist.schemas import LABEL_COLUMN, ModelContractError, table_to_arrays
from fashion_mnist.softmax import confusion_matrix
from tests.pipelines.evaluation.inputs import (
    LOGIT,
    NAMES,
    TEST_LABELS,
    TEST_PREDICTED,
    _pixel_model,
    _pixel_table,
)
from tests.support.synthetic import CLASS_NAMES, make_table
from tests.support.synthetic import random_model as _random_model

# Each image has one lit pixel, the k-th: the logit is LOGIT for class k, 0 elsewhere.
RIGHT_LOSS = math.log(1 + 9 * math.exp(-LOGIT))
WRONG_LOSS = math.log(math.exp(LOGIT) + 9)
# The test split's confusion counts: true rows against predicted columns.
TEST_COUNTS = [[1, 1, 0], [0, 1, 0], [1, 0, 2]]


def test_the_confusion_matrix_counts_true_rows_against_predicted_columns():
    y = torch.tensor(TEST_LABELS)
    predicted = torch.tensor(TEST_PREDICTED)

    counts = confusion_matrix(y, predicted, num_classes=3)

    assert counts.dtype == torch.int64
    assert counts.tolist() == TEST_COUNTS


def test_the_confusion_matrix_keeps_empty_classes_as_zero_rows_and_columns():
    counts = confusion_matrix(torch.tensor([1, 1]), torch.tensor([1, 3]), 5)

    assert counts.shape == (5, 5)
    assert counts.sum() == 2
    assert counts[1, 1] == 1 and counts[1, 3] == 1


def test_evaluate_model_scores_a_model_whose_predictions_are_known():
    train = _pixel_table([3, 4, 5, 6], lit=[3, 4, 5, 7])
    test = _pixel_table(TEST_LABELS, lit=TEST_PREDICTED)

    metrics = evaluate_model(_pixel_model(), train, test, NAMES)

    assert metrics["train_acc"] == pytest.approx(3 / 4)
    assert metrics["test_acc"] == pytest.approx(4 / 6)
    assert metrics["train_loss"] == pytest.approx(
        (3 * RIGHT_LOSS + WRONG_LOSS) / 4, rel=1e-5
    )
    assert metrics["test_loss"] == pytest.approx(
        (4 * RIGHT_LOSS + 2 * WRONG_LOSS) / 6, rel=1e-5
    )
    expected_counts = np.zeros((10, 10), dtype=int)
    expected_counts[:3, :3] = TEST_COUNTS
    assert metrics["test_confusion_matrix"] == expected_counts.tolist()
    assert metrics["class_names"] == CLASS_NAMES


def test_per_class_accuracy_is_none_for_a_class_absent_from_the_test_split():
    train = _pixel_table([0], lit=[0])
    test = _pixel_table(TEST_LABELS, lit=TEST_PREDICTED)

    per_class = evaluate_model(_pixel_model(), train, test, NAMES)["test_per_class_acc"]

    assert list(per_class) == CLASS_NAMES
    assert per_class["T-shirt/top"] == pytest.approx(1 / 2)
    assert per_class["Trouser"] == pytest.approx(1.0)
    assert per_class["Pullover"] == pytest.approx(2 / 3)
    assert all(per_class[name] is None for name in CLASS_NAMES[3:])


def test_the_loss_is_the_mean_over_the_whole_split_not_a_mean_of_batch_means():
    # 70 and 30 images: any batching (32, 50, 256) would leave a short last batch.
    train, test = make_table(n_per_class=7, seed=1), make_table(n_per_class=3, seed=2)
    model = _random_model(seed=0)

    metrics = evaluate_model(model, train, test, NAMES)

    for split, table in [("train", train), ("test", test)]:
        X, y = map(torch.as_tensor, table_to_arrays(table))
        logits = X.double() / 255 @ model["weight"].double().T + model["bias"].double()
        expected = F.cross_entropy(logits, y, reduction="sum").item() / len(y)
        assert metrics[f"{split}_loss"] == pytest.approx(expected, rel=1e-5)
        assert metrics[f"{split}_acc"] == pytest.approx(
            (logits.argmax(dim=1) == y).double().mean().item()
        )


def test_every_metric_is_a_plain_python_value_that_json_can_save():
    metrics = evaluate_model(
        _random_model(seed=1), make_table(3, seed=1), make_table(2, seed=2), NAMES
    )

    for key in ["train_loss", "train_acc", "test_loss", "test_acc"]:
        assert type(metrics[key]) is float
    assert all(
        type(count) is int for row in metrics["test_confusion_matrix"] for count in row
    )
    assert sum(map(sum, metrics["test_confusion_matrix"])) == 20


def test_predictions_hold_the_label_the_argmax_and_probabilities_summing_to_one():
    table = make_table(n_per_class=4, seed=3)
    model = _random_model(seed=2)

    predictions = predict_split(model, table)

    probas = predictions[[f"proba_{k}" for k in range(10)]].to_numpy()
    assert list(predictions.columns) == [
        "label",
        "predicted",
        *(f"proba_{k}" for k in range(10)),
    ]
    assert len(predictions) == len(table)
    assert predictions["predicted"].dtype == np.int64
    assert probas.dtype == np.float32
    assert (probas >= 0).all() and (probas <= 1).all()
    np.testing.assert_allclose(probas.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(predictions["predicted"], probas.argmax(axis=1))
    np.testing.assert_array_equal(predictions["label"], table[LABEL_COLUMN])


def test_predictions_of_a_known_model_are_its_lit_pixels():
    predictions = predict_split(
        _pixel_model(), _pixel_table(TEST_LABELS, lit=TEST_PREDICTED)
    )

    assert predictions["predicted"].tolist() == TEST_PREDICTED
    assert predictions["label"].tolist() == TEST_LABELS


def test_evaluate_model_rejects_class_names_that_do_not_match_the_model():
    model = {"weight": torch.zeros(10, 784), "bias": torch.zeros(10)}
    table = make_table(n_per_class=1)

    with pytest.raises(
        ValueError, match="'class_names' lists 3 classes but the model has 10"
    ):
        evaluate_model(model, table, table, ClassNames(["a", "b", "c"]))


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_model_with_non_finite_weights_is_refused_naming_its_keys(bad):
    model = _pixel_model()
    model["weight"][3, 5] = bad
    table = make_table(n_per_class=2)

    message = (
        r"the model is not a valid softmax regression model: weight holds "
        r"non-finite values \(NaN or inf\)\. Retrain it with: kedro run --pipelines "
        r"training"
    )

    with pytest.raises(ModelContractError, match=message):
        evaluate_model(model, table, table, NAMES)
    with pytest.raises(ModelContractError, match=message):
        predict_split(model, table)


def test_the_metrics_are_strict_json_without_nan_or_infinity():
    metrics = evaluate_model(
        _random_model(seed=1), make_table(3, seed=1), make_table(2, seed=2), NAMES
    )

    assert json.loads(json.dumps(metrics, allow_nan=False)) == metrics


def test_logits_that_overflow_float32_are_a_clear_error_not_a_nan_metric():
    # Finite weights whose logits overflow: 784 pixels times 1e38.
    model = {"weight": torch.full((10, 784), 1e38), "bias": torch.zeros(10)}
    model["weight"][0] = -1e38
    table = make_table(n_per_class=2)

    with pytest.raises(
        ValueError, match=r"metric train_loss is nan: the model's logits"
    ):
        evaluate_model(model, table, table, NAMES)
