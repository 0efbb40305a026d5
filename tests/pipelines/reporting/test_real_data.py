"""The whole project on the real Fashion-MNIST: the gate, its reports, its failure (run in CI)."""

import json

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from fashion_mnist.params import MODELS
from fashion_mnist.tracking.gate import ThresholdGateError

pytestmark = pytest.mark.real_data

FIGURES = [
    "learning_curves.png",
    *(
        f"{m}/{f}.png"
        for m in MODELS
        for f in ["prediction_grid", "learning_curves", "confusion_matrix"]
    ),
]
# The checks of conf/base/parameters_evaluation.yml, as the gate words them.
CHECKS = [
    ("train_loss", "<", 0.5),
    ("train_acc", ">", 0.7),
    ("train_acc", "<=", 1.0),
    ("test_acc", ">", 0.7),
    ("test_acc", "<=", 1.0),
]
PASSES = {"<": float.__lt__, ">": float.__gt__, "<=": float.__le__}


def _reports(project):
    return project.path / "data" / "08_reporting"


def _output(completed):
    return completed.stdout + completed.stderr


def _assert_reports_agree_and_figures_exist(reporting_dir):
    comparison = pd.read_csv(reporting_dir / "model_comparison.csv").set_index("model")
    assert sorted(comparison.index) == sorted(MODELS)
    for model in MODELS:
        metrics = json.loads((reporting_dir / model / "metrics.json").read_text())
        for column in ["train_loss", "train_acc", "test_loss", "test_acc"]:
            assert comparison.loc[model, column] == pytest.approx(metrics[column])
        assert comparison.loc[model, "trained_in_this_run"]
        assert sum(map(sum, metrics["test_confusion_matrix"])) == 10_000
    for figure in FIGURES:
        image = imread(reporting_dir / figure)
        assert image[..., :3].std() > 0.05, figure
    return comparison


def test_the_default_run_passes_the_gate_for_both_models(real_run):
    log = _output(real_run.last_run)

    assert "Threshold gate passed: 10 checks on 2 models" in log
    assert "Threshold gate failed" not in log


def test_the_default_run_reports_both_models_above_70_percent_with_every_figure(
    real_run,
):
    comparison = _assert_reports_agree_and_figures_exist(_reports(real_run))

    assert (comparison["test_acc"] > 0.7).all()
    assert (comparison["train_loss"] < 0.5).all()
    per_class = json.loads(
        (_reports(real_run) / "scratch" / "metrics.json").read_text()
    )["test_per_class_acc"]
    assert all(0 <= acc <= 1 for acc in per_class.values())


def test_an_undertrained_run_fails_the_gate_naming_each_failure_and_keeps_its_reports(
    real_project, tmp_path
):
    project = real_project.copy(tmp_path / "project", layers=("01_raw", "03_primary"))

    with pytest.raises(ThresholdGateError) as raised:
        project.run({"training": {"lr": 0.0001, "num_epochs": 1}})

    message = str(raised.value)
    comparison = _assert_reports_agree_and_figures_exist(_reports(project))
    failures = [
        f"{model}: {metric} = {row[metric]:.4f}, bound {op} {bound}"
        for model, row in comparison.iterrows()
        for metric, op, bound in CHECKS
        if not PASSES[op](float(row[metric]), bound)
    ]
    # One epoch at lr 1e-4 leaves the loss near log(10) ≈ 2.3 for either model.
    assert np.all(comparison["train_loss"] > 0.5)
    assert message.startswith(f"Threshold gate failed ({len(failures)} checks)")
    for failure in failures:
        assert failure in message
