import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from kedro_datasets.json import JSONDataset

from fashion_mnist.params import MODELS, ClassNames, TrainingParams
from fashion_mnist.pipelines import evaluation, training
from fashion_mnist.pipelines.evaluation.nodes import COMPARISON_COLUMNS
from tests.support.synthetic import CLASS_NAMES, make_table, training_params


def test_evaluation_scores_and_predicts_for_each_model_then_compares_them(tmp_path):
    pipeline = training.create_pipeline() + evaluation.create_pipeline()
    # Files, not memory: the runner empties a memory dataset once its last reader ran.
    metrics_datasets = {
        model: JSONDataset(filepath=str(tmp_path / model / "metrics.json"))
        for model in MODELS
    }
    catalog = DataCatalog(
        datasets={
            f"{model}.metrics": dataset for model, dataset in metrics_datasets.items()
        }
    )
    test = make_table(n_per_class=5, seed=2)
    catalog["fashion_mnist_train"] = make_table(n_per_class=20, seed=1)
    catalog["fashion_mnist_test"] = test
    catalog["params:class_names"] = ClassNames(CLASS_NAMES)
    catalog["model_provenance"] = {m: {"run_id": "", "this_run": True} for m in MODELS}
    catalog["params:training"] = TrainingParams.model_validate(training_params())

    outputs = SequentialRunner().run(pipeline, catalog)

    comparison = outputs["model_comparison"].load()
    assert list(comparison.columns) == COMPARISON_COLUMNS
    assert comparison["model"].tolist() == list(MODELS)
    for model, row in zip(MODELS, comparison.itertuples(), strict=True):
        metrics = metrics_datasets[model].load()
        predictions = outputs[f"{model}.test_predictions"].load()
        assert metrics["test_acc"] > 0.9
        assert row.test_acc == metrics["test_acc"]
        assert row.train_loss == metrics["train_loss"]
        assert sum(map(sum, metrics["test_confusion_matrix"])) == len(test)
        assert len(predictions) == len(test)
        assert (predictions["predicted"] == predictions["label"]).mean() == (
            pytest.approx(metrics["test_acc"])
        )
