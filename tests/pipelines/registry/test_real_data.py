"""The evidence a real run leaves in MLflow: intervals, model cards, dataset inputs, ranked models."""

import json
import re

import pytest

from fashion_mnist.params import MODELS
from tests.support.runs import client_for, logged_models

pytestmark = pytest.mark.real_data


def test_the_real_runs_versions_carry_their_interval_card_datasets_and_ranked_metrics(
    real_run,
):
    log = real_run.last_run.stdout + real_run.last_run.stderr
    client = client_for(real_run.path)
    (first,) = client.search_model_versions("name = 'fashion_mnist_scratch'")
    mlflow_run = client.get_run(first.run_id)
    inputs = {
        d.dataset.name: (d.dataset, {t.key: t.value for t in d.tags})
        for d in mlflow_run.inputs.dataset_inputs
    }
    models = logged_models(client, mlflow_run)

    # The run's log says whether its two models differ, with their intervals.
    assert re.search(
        r"\w+ 0\.8\d{3} \(95 % CI 0\.8\d{3}-0\.8\d{3}\) vs \w+ 0\.8\d{3} \(95 % CI "
        r"0\.8\d{3}-0\.8\d{3}\): McNemar exact p = [\d.e-]+ ",
        log,
    )
    train, train_tags = inputs["fashion_mnist_train"]
    test, test_tags = inputs["fashion_mnist_test"]
    assert (train_tags["mlflow.data.context"], test_tags["mlflow.data.context"]) == (
        "training",
        "evaluation",
    )
    assert json.loads(test.profile)["num_rows"] == 10_000
    assert json.loads(train.profile)["num_rows"] == 60_000
    assert json.loads(test.source)["uri"].endswith("fashion_mnist_test.parquet")
    for model in MODELS:
        metrics = mlflow_run.data.metrics
        low, high = (
            metrics[f"{model}.final.test_acc.ci_{end}"] for end in ("low", "high")
        )
        acc = metrics[f"{model}.final.test_acc"]
        assert low < acc < high
        # About +-0.007 on 10,000 images near 0.83, as the README says.
        assert 0.012 < high - low < 0.016
        version = client.search_model_versions(f"name = 'fashion_mnist_{model}'")[0]
        assert float(version.tags["test_acc_ci_low"]) == pytest.approx(low, abs=1e-6)
        assert version.tags["registration"] == "complete"
        assert f"**Test accuracy {acc:.4f}**" in version.description
        assert f"| fashion_mnist_test | `{test.digest}` |" in version.description
        linked = {
            m.key: m
            for m in client.get_logged_model(models[f"{model}_model"].model_id).metrics
        }
        assert linked["test_acc"].value == pytest.approx(acc)
        assert (linked["test_acc"].dataset_name, linked["test_acc"].dataset_digest) == (
            "fashion_mnist_test",
            test.digest,
        )
        assert linked["train_acc"].dataset_digest == train.digest
    ranked = client.search_logged_models(
        experiment_ids=[mlflow_run.info.experiment_id],
        order_by=[{"field_name": "metrics.test_acc", "ascending": False}],
    )
    accuracies = [
        next(m.value for m in model.metrics if m.key == "test_acc") for model in ranked
    ]
    assert len(accuracies) == len(MODELS)
    assert accuracies == sorted(accuracies, reverse=True)
