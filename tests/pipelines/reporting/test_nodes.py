import logging

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

from fashion_mnist.contracts import ParameterContractError, TableContractError
from fashion_mnist.datasets import FigureDataset
from fashion_mnist.pipelines.reporting.nodes import (
    ThresholdGateError,
    check_thresholds,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_models_learning_curves,
    plot_prediction_grid,
)
from fashion_mnist.tables import LABEL_COLUMN
from tests.support.synthetic import CLASS_NAMES, make_table

RED = to_rgba("tab:red")
BLACK = to_rgba("black")
THRESHOLDS = {
    "max_train_loss": 0.5,
    "min_train_acc": 0.7,
    "max_train_acc": 1.0,
    "min_test_acc": 0.7,
    "max_test_acc": 1.0,
}
GATE_LOGGER = "fashion_mnist.pipelines.reporting.nodes"


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


def _grid(**overrides):
    return {"rows": 3, "cols": 8, "only_misclassified": False, "dpi": 50, **overrides}


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
    dataset = FigureDataset(filepath=str(tmp_path / "figure.png"))
    dataset.save(figure)
    return dataset.load()


def _titled_axes(figure):
    return [ax for ax in figure.axes if ax.get_title()]


# ---------------------------------------------------------------- prediction grid
def test_the_prediction_grid_has_rows_times_cols_axes_each_showing_one_image(
    test_table, predictions
):
    figure = plot_prediction_grid(test_table, predictions, CLASS_NAMES, _grid())

    assert isinstance(figure, Figure)
    assert len(figure.axes) == 24
    assert all(len(ax.images) == 1 for ax in figure.axes)
    assert all(ax.images[0].get_array().shape == (28, 28) for ax in figure.axes)


def test_each_grid_title_is_the_true_then_the_predicted_class_red_when_wrong(
    test_table, predictions
):
    figure = plot_prediction_grid(test_table, predictions, CLASS_NAMES, _grid())

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
        CLASS_NAMES,
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
        CLASS_NAMES,
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
        test_table, predictions, CLASS_NAMES, _grid(rows=1, cols=6, dpi=100)
    )

    image = _saved_and_loaded(figure, tmp_path)

    assert image.shape == (200, 960, 4)
    assert image[..., :3].std() > 0.1


def test_a_grid_of_more_than_100_images_fails_fast_naming_rows_cols_and_the_limit(
    test_table, predictions
):
    with pytest.raises(
        ParameterContractError,
        match=r"reporting\.prediction_grid\.rows × cols = 1000 × 8 = 8000 images, "
        r"more than the limit of 100",
    ):
        plot_prediction_grid(test_table, predictions, CLASS_NAMES, _grid(rows=1000))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"rows": 0},
            r"reporting\.prediction_grid\.rows = 0: Input should be greater than or equal to 1",
        ),
        (
            {"dpi": 1000},
            r"reporting\.prediction_grid\.dpi = 1000: Input should be less than or equal to 300",
        ),
        (
            {"colums": 4},
            r"reporting\.prediction_grid\.colums = 4: Extra inputs are not permitted",
        ),
    ],
)
def test_a_bad_grid_parameter_is_named_with_its_value(
    test_table, predictions, change, message
):
    with pytest.raises(ParameterContractError, match=message):
        plot_prediction_grid(test_table, predictions, CLASS_NAMES, _grid(**change))


def test_the_grid_refuses_a_test_table_of_float_pixels(test_table, predictions):
    floats = test_table[[LABEL_COLUMN]].join(test_table.iloc[:, 1:] / 255)

    with pytest.raises(TableContractError, match=r"'pixel_000' has dtype float64"):
        plot_prediction_grid(floats, predictions, CLASS_NAMES, _grid())


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

    verdict = check_thresholds(
        _comparison(), {"thresholds": THRESHOLDS, "on_failure": "raise"}
    )

    assert verdict == {"passed": True, "failures": []}
    assert "Threshold gate passed: 10 checks on 2 models" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_upper_accuracy_bounds_are_inclusive():
    check_thresholds(
        _comparison(scratch__train_acc=1.0, concise__test_acc=1.0),
        {"thresholds": THRESHOLDS},
    )


@pytest.mark.parametrize(
    ("change", "failure"),
    [
        ({"scratch__train_loss": 0.5}, "scratch: train_loss = 0.5000, bound < 0.5"),
        ({"concise__train_acc": 0.7}, "concise: train_acc = 0.7000, bound > 0.7"),
        ({"scratch__test_acc": 1.01}, "scratch: test_acc = 1.0100, bound <= 1.0"),
    ],
)
def test_a_value_on_or_past_a_strict_bound_fails(change, failure):
    with pytest.raises(ThresholdGateError) as raised:
        check_thresholds(_comparison(**change), {"thresholds": THRESHOLDS})

    assert failure in str(raised.value)
    assert "Threshold gate failed (1 checks)" in str(raised.value)


def test_one_error_lists_every_failing_model_metric_value_and_bound():
    comparison = _comparison(
        scratch__test_acc=0.5, concise__train_loss=0.9, concise__train_acc=0.6
    )

    with pytest.raises(ThresholdGateError, match=r"Threshold gate failed \(3 checks\)"):
        check_thresholds(comparison, {"thresholds": THRESHOLDS, "on_failure": "raise"})


def test_the_gate_error_names_each_failure_on_its_own_line():
    comparison = _comparison(
        scratch__test_acc=0.5, concise__train_loss=0.9, concise__train_acc=0.6
    )

    with pytest.raises(ThresholdGateError) as raised:
        check_thresholds(comparison, {"thresholds": THRESHOLDS})

    lines = str(raised.value).splitlines()
    assert "  - scratch: test_acc = 0.5000, bound > 0.7" in lines
    assert "  - concise: train_loss = 0.9000, bound < 0.5" in lines
    assert "  - concise: train_acc = 0.6000, bound > 0.7" in lines
    assert sum(line.startswith("  - ") for line in lines) == 3
    assert "evaluation.on_failure=warn" in str(raised.value)


def test_on_failure_warn_logs_the_failures_instead_of_raising(caplog):
    caplog.set_level(logging.INFO, logger=GATE_LOGGER)

    verdict = check_thresholds(
        _comparison(concise__test_acc=0.2),
        {"thresholds": THRESHOLDS, "on_failure": "warn"},
    )

    assert verdict == {
        "passed": False,
        "failures": ["concise: test_acc = 0.2000, bound > 0.7"],
    }

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "Threshold gate failed (1 checks)" in warnings[0].getMessage()
    assert "concise: test_acc = 0.2000, bound > 0.7" in warnings[0].getMessage()
    assert "Threshold gate passed" not in caplog.text


def test_an_unknown_on_failure_is_a_clear_error():
    with pytest.raises(
        ParameterContractError,
        match=r"evaluation\.on_failure = 'ignore': Input should be 'raise' or 'warn'",
    ):
        check_thresholds(
            _comparison(), {"thresholds": THRESHOLDS, "on_failure": "ignore"}
        )


def test_missing_thresholds_are_named_in_a_clear_error():
    thresholds = {k: v for k, v in THRESHOLDS.items() if k != "min_test_acc"}

    with pytest.raises(
        ParameterContractError,
        match=r"evaluation\.thresholds\.min_test_acc is missing",
    ):
        check_thresholds(_comparison(), {"thresholds": thresholds})


def test_no_thresholds_at_all_names_every_bound():
    with pytest.raises(ParameterContractError) as raised:
        check_thresholds(_comparison(), {"on_failure": "raise"})

    assert raised.value.problems == [
        f"evaluation.thresholds.{bound} is missing" for bound in THRESHOLDS
    ]


def test_a_threshold_that_is_not_a_number_is_named_with_its_value():
    thresholds = {**THRESHOLDS, "min_test_acc": "abc"}

    with pytest.raises(
        ParameterContractError,
        match=r"evaluation\.thresholds\.min_test_acc = 'abc': Input should be a valid number",
    ):
        check_thresholds(_comparison(), {"thresholds": thresholds})


def test_a_minimum_above_its_maximum_is_a_clear_error_before_any_check():
    thresholds = {**THRESHOLDS, "min_test_acc": 0.9, "max_test_acc": 0.8}

    with pytest.raises(
        ParameterContractError,
        match=r"evaluation\.thresholds\.max_test_acc = 0\.8: must be at least "
        r"min_test_acc \(0\.9\)",
    ):
        check_thresholds(_comparison(), {"thresholds": thresholds})
