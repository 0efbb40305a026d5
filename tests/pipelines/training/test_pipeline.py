import torch
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from fashion_mnist.params import MODELS, TrainingParams
from fashion_mnist.pipelines.training import create_pipeline
from fashion_mnist.pipelines.training.nodes import NODES
from tests.support.runs import client_for, input_contexts, runs
from tests.support.synthetic import make_table, training_params


def _run(params: TrainingParams):
    """The training pipeline on synthetic tables; the tables and every output loaded."""
    train, test = make_table(n_per_class=20, seed=1), make_table(n_per_class=5, seed=2)
    catalog = DataCatalog()
    catalog["fashion_mnist_train"] = train
    catalog["fashion_mnist_test"] = test
    catalog["params:training"] = params

    outputs = SequentialRunner().run(create_pipeline(), catalog)

    return (train, test), {name: dataset.load() for name, dataset in outputs.items()}


def test_training_writes_a_model_and_a_history_for_each_model():
    _, outputs = _run(TrainingParams.model_validate(training_params()))

    assert set(outputs) == {
        *(f"{m}.{o}" for m in MODELS for o in ["model", "history"]),
        "training_dataset_inputs",
    }
    for name in MODELS:
        model, history = outputs[f"{name}.model"], outputs[f"{name}.history"]
        assert model["weight"].shape == (10, 784)
        assert torch.isfinite(model["weight"]).all()
        assert len(history) == 3
        assert history["test_acc"].iloc[-1] > 0.9


def test_each_namespace_holds_its_own_models_training_with_its_own_overrides():
    params = TrainingParams.model_validate(training_params(scratch={"num_epochs": 2}))

    (train, test), outputs = _run(params)

    assert len(outputs["scratch.history"]) == 2
    assert len(outputs["concise.history"]) == 3
    for name in MODELS:
        alone, history = NODES[name](train, test, params)
        assert all(torch.equal(outputs[f"{name}.model"][k], alone[k]) for k in alone)
        assert outputs[f"{name}.history"].equals(history)


def test_a_run_of_the_training_pipeline_alone_logs_the_tables_it_read(
    synthetic_run, tmp_path
):
    project = synthetic_run.copy(tmp_path / "project", ("03_primary",), store=True)

    project.run(pipeline_names=["training"])

    (run,) = runs(client_for(project.path))
    contexts = input_contexts(run)
    assert contexts == {
        "fashion_mnist_train": "training",
        "fashion_mnist_test": "evaluation",
    }
