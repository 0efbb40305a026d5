import pandas as pd

from fashion_mnist.pipelines.registry.nodes import registration_candidates


def _comparison(this_run=(True, True)):
    return pd.DataFrame(
        {
            "model": ["scratch", "concise"],
            "test_acc": [0.8343, 0.8301],
            "trained_in_this_run": list(this_run),
        }
    )


def test_a_passing_gate_registers_every_model_this_run_trained_with_its_test_accuracy():
    candidates = registration_candidates(
        _comparison(), {"passed": True, "failures": []}
    )

    assert candidates == {
        "scratch": {"test_acc": 0.8343},
        "concise": {"test_acc": 0.8301},
    }


def test_a_failed_gate_registers_nothing():
    verdict = {"passed": False, "failures": ["scratch: test_acc = 0.5000, bound > 0.7"]}

    assert registration_candidates(_comparison(), verdict) == {}


def test_a_model_this_run_did_not_train_is_left_to_the_run_that_trained_it():
    candidates = registration_candidates(
        _comparison(this_run=(True, False)), {"passed": True, "failures": []}
    )

    assert list(candidates) == ["scratch"]
