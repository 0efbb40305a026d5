import pytest
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner
from kedro_datasets.json import JSONDataset
from kedro_datasets.pandas import ParquetDataset

from fashion_mnist.datasets import RunInputsDataset
from fashion_mnist.params import MODELS, ClassNames, RegistryParams, TrainingParams
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
    tables = {
        f"fashion_mnist_{split}": {"source": str(tmp_path / split), "context": split}
        for split in ("train", "test")
    }
    catalog = DataCatalog(
        datasets={
            **{f"{model}.metrics": ds for model, ds in metrics_datasets.items()},
            **{
                f"{model}.{name}": ParquetDataset(
                    filepath=str(tmp_path / model / f"{name}.parquet")
                )
                for model in MODELS
                for name in ("test_predictions", "test_predicted")
            },
            "data_inputs": RunInputsDataset(tables=tables),
        }
    )
    test = make_table(n_per_class=5, seed=2)
    catalog["fashion_mnist_train"] = make_table(n_per_class=20, seed=1)
    catalog["fashion_mnist_test"] = test
    catalog["params:class_names"] = ClassNames(CLASS_NAMES)
    catalog["model_provenance"] = {m: {"run_id": "", "this_run": True} for m in MODELS}
    catalog["params:training"] = TrainingParams.model_validate(training_params())
    catalog["params:registry"] = RegistryParams()

    outputs = SequentialRunner().run(pipeline, catalog)

    comparison = outputs["model_comparison"].load()
    assert list(comparison.columns) == COMPARISON_COLUMNS
    assert comparison["model"].tolist() == list(MODELS)
    for model, row in zip(MODELS, comparison.itertuples(), strict=True):
        metrics = metrics_datasets[model].load()
        predictions = catalog[f"{model}.test_predictions"].load()
        assert metrics["test_acc"] > 0.9
        assert row.test_acc == metrics["test_acc"]
        assert row.train_loss == metrics["train_loss"]
        assert sum(map(sum, metrics["test_confusion_matrix"])) == len(test)
        assert len(predictions) == len(test)
        assert (predictions["predicted"] == predictions["label"]).mean() == (
            pytest.approx(metrics["test_acc"])
        )
        predicted = catalog[f"{model}.test_predicted"].load()
        assert predicted.equals(predictions[["label", "predicted"]].astype("int8"))
        linked = {r["key"]: r for r in outputs[f"{model}.model_metrics"].load()}
        assert linked["test_acc"]["value"] == metrics["test_acc"]
        assert len(linked["test_acc"]["dataset_digest"]) == 32
    assert comparison["p_vs_best"].isna().sum() == 1
