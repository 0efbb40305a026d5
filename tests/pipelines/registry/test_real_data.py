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


def test_on_the_real_data_the_champion_moves_on_evidence_or_with_policy_better(
    real_project, tmp_path
):
    project = real_project.copy(tmp_path / "project", ("03_primary",), store=True)
    client = client_for(project.path)
    undertrained = {
        "training": {"num_epochs": 2},
        "evaluation": {"thresholds": {"max_train_loss": 1.0}},
    }
    runs_in_order = {
        "undertrained": undertrained,
        "seed 1": {"training": {"seed": 1}},
        "seed 2": {"training": {"seed": 2}},
        "seed 2, policy better": {
            "training": {"seed": 2},
            "registry": {"policy": "better"},
        },
    }
    versions, champions = {}, {}
    for key, params in runs_in_order.items():
        project.run(
            params,
            pipeline_names=["training", "evaluation", "reporting", "registry"],
        )
        latest = max(
            client.search_model_versions("name = 'fashion_mnist_scratch'"),
            key=lambda v: int(v.version),
        )
        versions[key] = latest
        champions[key] = client.get_model_version_by_alias(
            "fashion_mnist_scratch", "champion"
        ).version

    def acc(key):
        return float(versions[key].tags["test_acc"])

    # Two epochs against ten: far beyond the noise, so the alias moves.
    assert acc("seed 1") - acc("undertrained") > 0.01
    assert float(versions["seed 1"].tags["p_value_vs_champion"]) < 0.05
    assert champions["seed 1"] == versions["seed 1"].version
    # Another seed of the same setting: a little better, within the noise
    # (seeds make the runs identical on any CPU); registered, alias kept.
    assert 0 < acc("seed 2") - acc("seed 1") < 0.007
    assert champions["seed 2"] == versions["seed 1"].version
    assert versions["seed 2"].tags["promote"] == "false"
    assert re.fullmatch(
        r"0\.\d{4} vs 0\.\d{4}, p = [\d.]+: not significant",
        versions["seed 2"].tags["champion_decision"],
    )
    # The same candidate under policy better: the alias follows the gain.
    assert acc("seed 2, policy better") == acc("seed 2")
    assert (
        champions["seed 2, policy better"] == versions["seed 2, policy better"].version
    )
