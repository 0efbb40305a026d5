import torch
from kedro.io import DataCatalog
from kedro.runner import SequentialRunner

from fashion_mnist.params import TrainingParams
from fashion_mnist.pipelines.training import create_pipeline
from tests.support.synthetic import make_table, training_params


def test_training_writes_a_model_and_a_history_for_each_model():
    catalog = DataCatalog()
    catalog["fashion_mnist_train"] = make_table(n_per_class=20, seed=1)
    catalog["fashion_mnist_test"] = make_table(n_per_class=5, seed=2)
    catalog["params:training"] = TrainingParams.model_validate(training_params())

    outputs = SequentialRunner().run(create_pipeline(), catalog)

    assert set(outputs) == {
        "scratch.model",
        "scratch.history",
        "concise.model",
        "concise.history",
    }
    for name in ["scratch", "concise"]:
        model = outputs[f"{name}.model"].load()
        history = outputs[f"{name}.history"].load()
        assert model["weight"].shape == (10, 784)
        assert torch.isfinite(model["weight"]).all()
        assert len(history) == 3
        assert history["test_acc"].iloc[-1] > 0.9


def test_each_model_is_trained_by_one_node_in_its_own_namespace():
    pipeline = create_pipeline()

    nodes = {node.name: node for node in pipeline.nodes}

    assert set(nodes) == {"scratch.train", "concise.train"}
    assert nodes["scratch.train"].func.__name__ == "train_scratch"
    assert nodes["concise.train"].func.__name__ == "train_concise"
    assert nodes["concise.train"].outputs == ["concise.model", "concise.history"]
    assert {"training", "scratch"} <= nodes["scratch.train"].tags
    assert nodes["scratch.train"].inputs == [
        "fashion_mnist_train",
        "fashion_mnist_test",
        "params:training",
    ]
