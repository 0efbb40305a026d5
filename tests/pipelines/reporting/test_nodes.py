import logging

import numpy as np
import pandas as pd
import pytest
from kedro_datasets.matplotlib import MatplotlibDataset
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.image import imread

from fashion_mnist.params import ClassNames, EvaluationParams, ReportingParams
from fashion_mnist.pipelines.reporting.nodes import (
    check_thresholds,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_models_learning_curves,
    plot_prediction_grid,
)
from fashion_mnist.schemas import LABEL_COLUMN
from tests.support.synthetic import CLASS_NAMES, THRESHOLDS, make_table

RED = to_rgba("tab:red")
BLACK = to_rgba("black")
GATE_LOGGER = "fashion_mnist.pipelines.reporting.nodes"
NAMES = ClassNames(CLASS_NAMES)


@pytest.fixture(scope="module")
def test_table():
    return make_table(n_per_class=3, seed=4)


@pytest.fixture(scope="module")
def predictions(test_table):
    """Every fourth image predicted as the next class, the others right."""
    labels = test_table[LABEL_COLUMN].to_numpy()
    wrong = np.arange(len(labels)) % 4 == 1
    predicted = np.where(wrong, (labels + 1) % 10, labels)
    return pd.DataFrame({LABEL_COLUMN: labels, "predicted": predicted})


def _grid(**overrides) -> ReportingParams:
    grid = {"rows": 3, "cols": 8, "only_misclassified": False, "dpi": 50, **overrides}
    return ReportingParams.model_validate({"prediction_grid": grid})


def _evaluation(**group) -> EvaluationParams:
    return EvaluationParams.model_validate({"thresholds": THRESHOLDS, **group})


def _history(epochs=4, shift=0.0):
    epoch = np.arange(1, epochs + 1)
    return pd.DataFrame(
        {
            "epoch": epoch,
            "train_loss": 1.0 / epoch + shift,
            "train_acc": 0.9 - 0.4 / epoch - shift,
            "test_acc": 0.85 - 0.4 / epoch - shift,
        }
    )


def _metrics():
    counts = np.diag(np.arange(10, 20))
    counts[0, 6] = 7
    return {"test_confusion_matrix": counts.tolist(), "class_names": CLASS_NAMES}


def _comparison(**changes):
    rows = {
        "scratch": {"train_loss": 0.45, "train_acc": 0.85, "test_acc": 0.83},
        "concise": {"train_loss": 0.44, "train_acc": 0.86, "test_acc": 0.84},
    }
    for key, value in changes.items():
        model, metric = key.split("__")
        rows[model][metric] = value
    return pd.DataFrame(
        [{"model": m, "test_loss": 0.5, **r} for m, r in rows.items()],
        columns=["model", "train_loss", "train_acc", "test_loss", "test_acc"],
    )


def _saved_and_loaded(figure, tmp_path):
    """The figure as the catalog saves it (a PNG), read back as RGBA."""
    path = tmp_path / "figure.png"
    MatplotlibDataset(filepath=str(path)).save(figure)
    return imread(path)


def _titled_axes(figure):
    return [ax for ax in figure.axes if ax.get_title()]


# ---------------------------------------------------------------- prediction grid
def test_the_prediction_grid_has_rows_times_cols_axes_each_showing_one_image(
    test_table, predictions
):
    figure = plot_prediction_grid(test_table, predictions, NAMES, _grid())

    assert isinstance(figure, Figure)
    assert len(figure.axes) == 24
    assert all(len(ax.images) == 1 for ax in figure.axes)
    assert all(ax.images[0].get_array().shape == (28, 28) for ax in figure.axes)


def test_each_grid_title_is_the_true_then_the_predicted_class_red_when_wrong(
    test_table, predictions
):
    figure = plot_prediction_grid(test_table, predictions, NAMES, _grid())

    for i, ax in enumerate(figure.axes):
        true, predicted = predictions.loc[i, [LABEL_COLUMN, "predicted"]]
        assert ax.get_title() == f"{CLASS_NAMES[true]}\n{CLASS_NAMES[predicted]}"
        color = to_rgba(ax.title.get_color())
        assert color == (RED if true != predicted else BLACK)
    assert sum(to_rgba(ax.title.get_color()) == RED for ax in figure.axes) == 6


def test_only_misclassified_shows_only_the_wrong_predictions_in_order(
    test_table, predictions
):
    wrong = predictions.index[predictions[LABEL_COLUMN] != predictions["predicted"]]

    figure = plot_prediction_grid(
        test_table,
        predictions,
        NAMES,
        _grid(rows=2, cols=4, only_misclassified=True),
    )

    assert len(figure.axes) == 8
    for ax, i in zip(figure.axes, wrong, strict=False):
        true, predicted = predictions.loc[i, [LABEL_COLUMN, "predicted"]]
        assert ax.get_title() == f"{CLASS_NAMES[true]}\n{CLASS_NAMES[predicted]}"
        assert to_rgba(ax.title.get_color()) == RED


def test_a_grid_larger_than_the_images_to_show_leaves_the_extra_axes_empty(
    test_table, predictions
):
    figure = plot_prediction_grid(
        test_table,
        predictions,
        NAMES,
        _grid(rows=3, cols=4, only_misclassified=True),
    )

    # 30 images, every fourth wrong: 8 to show in 12 slots.
    assert [len(ax.images) for ax in figure.axes] == [1] * 8 + [0] * 4
    assert len(_titled_axes(figure)) == 8
    assert all(to_rgba(ax.title.get_color()) == RED for ax in _titled_axes(figure))


def test_the_saved_prediction_grid_is_figsize_times_dpi_and_not_blank(
    test_table, predictions, tmp_path
):
    figure = plot_prediction_grid(
        test_table, predictions, NAMES, _grid(rows=1, cols=6, dpi=100)
    )

    image = _saved_and_loaded(figure, tmp_path)

    assert image.shape == (200, 960, 4)
    assert image[..., :3].std() > 0.1


# ---------------------------------------------------------------- learning curves
def test_learning_curves_plot_the_loss_then_both_accuracies_per_epoch(tmp_path):
    history = _history()

    figure = plot_learning_curves(history, title="scratch")

    loss_ax, acc_ax = figure.axes
    assert len(figure.axes) == 2
    assert figure.get_suptitle() == "scratch"
    assert [line.get_label() for line in loss_ax.lines] == ["train loss"]
    assert [line.get_label() for line in acc_ax.lines] == ["train acc", "test acc"]
    np.testing.assert_allclose(loss_ax.lines[0].get_ydata(), history["train_loss"])
    np.testing.assert_allclose(acc_ax.lines[1].get_ydata(), history["test_acc"])
    np.testing.assert_array_equal(acc_ax.lines[0].get_xdata(), history["epoch"])
    image = _saved_and_loaded(figure, tmp_path)
    assert image.shape == (400, 1000, 4)
    assert image[..., :3].std() > 0.05


def test_the_overlay_draws_each_models_curves_in_its_own_colour(tmp_path):
    histories = {"scratch": _history(), "concise": _history(shift=0.05)}

    figure = plot_models_learning_curves(**histories)

    loss_ax, acc_ax = figure.axes
    assert len(figure.axes) == 2
    assert figure.get_suptitle() == "scratch vs concise"
    assert [line.get_label() for line in loss_ax.lines] == [
        "scratch train loss",
        "concise train loss",
    ]
    assert [line.get_label() for line in acc_ax.lines] == [
        "scratch train acc",
        "scratch test acc",
        "concise train acc",
        "concise test acc",
    ]
    assert loss_ax.lines[0].get_color() != loss_ax.lines[1].get_color()
    np.testing.assert_allclose(
        loss_ax.lines[1].get_ydata(), histories["concise"]["train_loss"]
    )
    image = _saved_and_loaded(figure, tmp_path)
    assert image.shape == (400, 1000, 4)
    assert image[..., :3].std() > 0.05


# ---------------------------------------------------------------- confusion matrix
def test_the_confusion_matrix_figure_is_a_heatmap_of_the_counts_and_a_colour_bar(
    tmp_path,
):
    metrics = _metrics()

    figure = plot_confusion_matrix(metrics, title="concise")

    assert len(figure.axes) == 2
    heatmap, colorbar = figure.axes
    np.testing.assert_array_equal(
        heatmap.images[0].get_array(), metrics["test_confusion_matrix"]
    )
    assert heatmap.get_title() == "concise confusion matrix (test)"
    assert [t.get_text() for t in heatmap.get_xticklabels()] == CLASS_NAMES
    assert [t.get_text() for t in heatmap.get_yticklabels()] == CLASS_NAMES
    cells = {
        (round(t.get_position()[1]), round(t.get_position()[0])): t.get_text()
        for t in heatmap.texts
    }
    assert len(cells) == 100
    assert cells[(0, 6)] == "7" and cells[(9, 9)] == "19" and cells[(1, 0)] == "0"
    assert colorbar.get_ylabel() == "images"
    image = _saved_and_loaded(figure, tmp_path)
    assert image.shape == (700, 800, 4)
    assert image[..., :3].std() > 0.05


# ---------------------------------------------------------------- threshold gate
def test_the_gate_passes_good_metrics_and_says_so(caplog):
    caplog.set_level(logging.INFO, logger=GATE_LOGGER)

    verdict = check_thresholds(_comparison(), _evaluation(on_failure="raise"))

    assert verdict == {"passed": True, "failures": [], "on_failure": "raise"}
    assert "Threshold gate passed: 10 checks on 2 models" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_upper_accuracy_bounds_are_inclusive():
    verdict = check_thresholds(
        _comparison(scratch__train_acc=1.0, concise__test_acc=1.0), _evaluation()
    )

    assert verdict["passed"]


@pytest.mark.parametrize(
    ("change", "failure"),
    [
        ({"scratch__train_loss": 0.5}, "scratch: train_loss = 0.5000, bound < 0.5"),
        ({"concise__train_acc": 0.7}, "concise: train_acc = 0.7000, bound > 0.7"),
        ({"scratch__test_acc": 1.01}, "scratch: test_acc = 1.0100, bound <= 1.0"),
    ],
)
def test_a_value_on_or_past_a_strict_bound_fails(change, failure):
    verdict = check_thresholds(_comparison(**change), _evaluation())

    assert verdict == {"passed": False, "failures": [failure], "on_failure": "raise"}


@pytest.mark.parametrize("on_failure", ["raise", "warn"])
def test_a_failing_gate_returns_its_verdict_and_logs_every_failure_on_its_own_line(
    caplog, on_failure
):
    caplog.set_level(logging.INFO, logger=GATE_LOGGER)
    comparison = _comparison(
        scratch__test_acc=0.5, concise__train_loss=0.9, concise__train_acc=0.6
    )

    verdict = check_thresholds(comparison, _evaluation(on_failure=on_failure))

    failures = [
        "scratch: test_acc = 0.5000, bound > 0.7",
        "concise: train_loss = 0.9000, bound < 0.5",
        "concise: train_acc = 0.6000, bound > 0.7",
    ]
    assert verdict == {"passed": False, "failures": failures, "on_failure": on_failure}
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    lines = warning.getMessage().splitlines()
    assert lines[0] == "Threshold gate failed (3 checks):"
    assert lines[1:4] == [f"  - {failure}" for failure in failures]
    assert ("(on_failure: warn, so the run goes on)" in lines) == (on_failure == "warn")
    assert "Threshold gate passed" not in caplog.text
