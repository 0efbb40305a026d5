import json
import re

import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from kedro_datasets.json import JSONDataset
from kedro_datasets.matplotlib import MatplotlibDataset
from kedro_datasets.pandas import CSVDataset
from matplotlib.image import imread

from fashion_mnist.params import (
    MODELS,
    ClassNames,
    EvaluationParams,
    RegistryParams,
    ReportingParams,
    TrainingParams,
)
from fashion_mnist.pipelines import evaluation, reporting, training
from tests.support.synthetic import CLASS_NAMES, make_table, training_params

FIGURES = ["prediction_grid", "learning_curves", "confusion_matrix"]
EXPECTED_FILES = sorted(
    [
        "model_comparison.csv",
        "learning_curves.png",
        *(f"{m}/metrics.json" for m in MODELS),
        *(f"{m}/{f}.png" for m in MODELS for f in FIGURES),
    ]
)
CLASSIC_THRESHOLDS = {
    "max_train_loss": 0.5,
    "min_train_acc": 0.7,
    "max_train_acc": 1.0,
    "min_test_acc": 0.7,
    "max_test_acc": 1.0,
}


def _pipeline():
    return (
        training.create_pipeline()
        + evaluation.create_pipeline()
        + reporting.create_pipeline()
    )


def _per_model_reports(pipeline) -> dict[str, tuple[str, str]]:
    """Each model's report datasets (``scratch.metrics``, ``scratch.prediction_grid``, ...)."""
    pattern = re.compile(rf"({'|'.join(MODELS)})\.(metrics|{'|'.join(FIGURES)})")
    return {
        name: match.groups()
        for name in pipeline.all_outputs()
        if (match := pattern.fullmatch(name))
    }


def _catalog(pipeline, reporting_dir, thresholds) -> DataCatalog:
    """Synthetic tables and parameters in memory; the reports as real files."""
    datasets = {
        "model_comparison": CSVDataset(
            filepath=str(reporting_dir / "model_comparison.csv"),
            save_args={"index": False},
        ),
        "models_learning_curves": MatplotlibDataset(
            filepath=str(reporting_dir / "learning_curves.png")
        ),
    }
    for name, (model, report) in _per_model_reports(pipeline).items():
        datasets[name] = (
            JSONDataset(filepath=str(reporting_dir / model / "metrics.json"))
            if report == "metrics"
            else MatplotlibDataset(
                filepath=str(reporting_dir / model / f"{report}.png")
            )
        )
    catalog = DataCatalog(datasets=datasets)
    catalog["fashion_mnist_train"] = make_table(n_per_class=20, seed=1)
    catalog["fashion_mnist_test"] = make_table(n_per_class=5, seed=2)
    catalog["params:class_names"] = ClassNames(CLASS_NAMES)
    catalog["model_provenance"] = {m: {"run_id": "", "this_run": True} for m in MODELS}
    catalog["params:training"] = TrainingParams.model_validate(training_params())
    grid = {"rows": 2, "cols": 5, "only_misclassified": False, "dpi": 50}
    catalog["params:reporting"] = ReportingParams(prediction_grid=grid)
    catalog["params:registry"] = RegistryParams()
    catalog["params:evaluation"] = EvaluationParams(
        thresholds=thresholds, on_failure="raise"
    )
    return catalog


def _written(reporting_dir):
    return sorted(
        p.relative_to(reporting_dir).as_posix()
        for p in reporting_dir.rglob("*")
        if p.is_file()
    )


def test_a_passing_run_writes_every_metric_file_and_figure(tmp_path):
    reporting_dir = tmp_path / "08_reporting"

    pipeline = _pipeline()
    catalog = _catalog(pipeline, reporting_dir, CLASSIC_THRESHOLDS)

    outputs = SequentialRunner().run(pipeline, catalog)

    assert outputs["gate_verdict"].load() == {
        "passed": True,
        "failures": [],
        "on_failure": "raise",
    }
    assert len(_per_model_reports(pipeline)) == 8
    assert _written(reporting_dir) == EXPECTED_FILES
    comparison = pd.read_csv(reporting_dir / "model_comparison.csv")
    assert comparison["model"].tolist() == list(MODELS)
    for model in MODELS:
        metrics = json.loads((reporting_dir / model / "metrics.json").read_text())
        row = comparison.set_index("model").loc[model]
        assert row["test_acc"] == pytest.approx(metrics["test_acc"])
        assert metrics["class_names"] == CLASS_NAMES
    grid = imread(reporting_dir / "scratch" / "prediction_grid.png")
    assert grid.shape == (200, 400, 4)


def test_a_run_failing_the_gate_writes_every_report_and_a_failed_verdict(tmp_path):
    reporting_dir = tmp_path / "08_reporting"
    # Nothing passes: a loss below 1e-9 and an accuracy above 1.
    impossible = {**CLASSIC_THRESHOLDS, "max_train_loss": 1e-9, "min_test_acc": 1.0}

    pipeline = _pipeline()
    catalog = _catalog(pipeline, reporting_dir, impossible)

    outputs = SequentialRunner().run(pipeline, catalog)

    verdict = outputs["gate_verdict"].load()
    assert not verdict["passed"] and verdict["on_failure"] == "raise"
    assert len(verdict["failures"]) == 4
    assert _written(reporting_dir) == EXPECTED_FILES
    for model in MODELS:
        metrics = json.loads((reporting_dir / model / "metrics.json").read_text())
        assert 0 < metrics["train_loss"] and metrics["test_acc"] <= 1.0
        assert (
            f"{model}: train_loss = {metrics['train_loss']:.4f}, bound < 1e-09"
            in verdict["failures"]
        )
        assert any(f.startswith(f"{model}: test_acc = ") for f in verdict["failures"])


def test_the_gate_needs_nothing_but_the_comparison_and_its_parameters():
    # A catalog with no figure, no metric file and no model: were the gate to
    # read any of them, the runner would refuse the missing inputs.
    comparison = pd.DataFrame(
        {
            "model": list(MODELS),
            "train_loss": [0.4, 0.9],
            "train_acc": [0.85, 0.80],
            "test_acc": [0.83, 0.65],
        }
    )
    catalog = DataCatalog()
    catalog["model_comparison"] = comparison
    catalog["params:evaluation"] = EvaluationParams(
        thresholds=CLASSIC_THRESHOLDS, on_failure="warn"
    )

    outputs = SequentialRunner().run(
        reporting.create_pipeline().to_outputs("gate_verdict"), catalog
    )

    verdict = outputs["gate_verdict"].load()
    assert not verdict["passed"] and verdict["on_failure"] == "warn"
    failed = " ".join(verdict["failures"])
    assert f"{MODELS[1]}: train_loss = 0.9000" in failed
    assert f"{MODELS[1]}: test_acc = 0.6500" in failed
    assert f"{MODELS[0]}:" not in failed
