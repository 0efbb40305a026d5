import numpy as np
import pandas as pd
import pytest

from fashion_mnist.params import RegistryParams
from fashion_mnist.pipelines.registry.nodes import (
    champion_decision,
    registration_candidates,
)

DIGESTS = {"fashion_mnist_train": "d-train", "fashion_mnist_test": "d-test"}
IMAGES = 10_000


def _predicted(right: np.ndarray) -> pd.DataFrame:
    """Predictions of a fixed label sequence, right exactly where ``right`` says."""
    labels = np.arange(len(right)) % 10
    return pd.DataFrame(
        {"label": labels, "predicted": np.where(right, labels, (labels + 1) % 10)}
    ).astype("int8")


def _pair(both: int, only_new: int, only_champion: int):
    """The new model's and the champion's predictions on the same 10,000 images."""
    new = np.zeros(IMAGES, bool)
    champion = np.zeros(IMAGES, bool)
    new[:both] = champion[:both] = True
    new[both : both + only_new] = True
    champion[both + only_new : both + only_new + only_champion] = True
    return _predicted(new), _predicted(champion)


def _champion(predictions, test_acc, version="4"):
    return {"version": version, "test_acc": test_acc, "predictions": predictions}


def test_a_better_but_not_significant_model_leaves_the_champion_and_says_why():
    # The example: 0.8352 vs 0.8343; 52 images only the new model gets
    # right, 43 only the champion: McNemar's exact p = 0.41.
    new, old = _pair(both=8300, only_new=52, only_champion=43)

    decision = champion_decision(0.8352, new, _champion(old, 0.8343), RegistryParams())

    assert decision["promote"] is False
    assert decision["reason"] == "0.8352 vs 0.8343, p = 0.41: not significant"
    assert decision["p_value"] == pytest.approx(0.41191007, abs=1e-8)
    assert decision["difference"] == pytest.approx(0.0009)
    assert decision["champion_version"] == "4"


def test_a_significantly_better_model_becomes_champion():
    new, old = _pair(both=8300, only_new=120, only_champion=43)

    decision = champion_decision(0.8420, new, _champion(old, 0.8343), RegistryParams())

    assert decision["promote"] is True
    assert decision["p_value"] < 1e-8
    assert decision["reason"].endswith(": significant")


def test_policy_better_moves_the_champion_on_any_higher_accuracy():
    new, old = _pair(both=8300, only_new=52, only_champion=43)

    decision = champion_decision(
        0.8352, new, _champion(old, 0.8343), RegistryParams(policy="better")
    )

    assert decision["promote"] is True
    assert decision["reason"] == "0.8352 vs 0.8343, p = 0.41: better"


def test_a_less_accurate_model_never_becomes_champion_whatever_the_policy():
    new, old = _pair(both=8300, only_new=10, only_champion=43)

    for policy in ("significant", "better"):
        decision = champion_decision(
            0.8310, new, _champion(old, 0.8343), RegistryParams(policy=policy)
        )
        assert decision["promote"] is False
        assert decision["reason"].endswith("not better")


def test_a_champion_without_paired_predictions_is_compared_by_accuracy_and_it_is_said():
    new, old = _pair(both=8300, only_new=52, only_champion=43)

    for theirs in (None, old.head(9_000)):
        decision = champion_decision(
            0.8352, new, _champion(theirs, 0.8343), RegistryParams()
        )
        assert decision["promote"] is True
        assert decision["p_value"] is None
        assert "cannot be paired" in decision["reason"]


def test_the_first_version_becomes_champion():
    new, _ = _pair(both=8300, only_new=52, only_champion=43)

    decision = champion_decision(0.8352, new, None, RegistryParams())

    assert (decision["promote"], decision["champion_version"]) == (True, None)


def _comparison(this_run=(True, True)):
    return pd.DataFrame(
        {
            "model": ["scratch", "concise"],
            "test_acc": [0.8352, 0.8301],
            "test_acc_ci_low": [0.8279, 0.8227],
            "test_acc_ci_high": [0.8424, 0.8373],
            "trained_in_this_run": list(this_run),
        }
    )


def _evidence():
    new, _ = _pair(both=8300, only_new=52, only_champion=43)
    per_class = {"T-shirt/top": 0.8}
    return {
        **{
            f"{m}.metrics": {"test_per_class_acc": per_class}
            for m in ("scratch", "concise")
        },
        **{f"{m}.test_predicted": new for m in ("scratch", "concise")},
    }


def test_a_passing_gate_registers_every_model_this_run_trained_with_its_evidence():
    candidates = registration_candidates(
        _comparison(),
        {"passed": True, "failures": []},
        {"scratch": None, "concise": None},
        RegistryParams(),
        DIGESTS,
        **_evidence(),
    )

    assert list(candidates) == ["scratch", "concise"]
    scratch = candidates["scratch"]
    assert (scratch["test_acc"], scratch["test_acc_ci_low"]) == (0.8352, 0.8279)
    assert scratch["data"] == DIGESTS
    assert scratch["test_per_class_acc"] == {"T-shirt/top": 0.8}
    assert scratch["decision"]["promote"] is True


def test_a_failed_gate_registers_nothing():
    verdict = {"passed": False, "failures": ["scratch: test_acc = 0.5000, bound > 0.7"]}

    candidates = registration_candidates(
        _comparison(), verdict, {}, RegistryParams(), DIGESTS, **_evidence()
    )

    assert candidates == {}


def test_a_model_this_run_did_not_train_is_left_to_the_run_that_trained_it():
    candidates = registration_candidates(
        _comparison(this_run=(True, False)),
        {"passed": True, "failures": []},
        {},
        RegistryParams(),
        DIGESTS,
        **_evidence(),
    )

    assert list(candidates) == ["scratch"]


def test_a_champion_tagged_without_its_accuracy_is_scored_on_its_predictions():
    new, old = _pair(both=8300, only_new=52, only_champion=43)

    decision = champion_decision(
        0.8352, new, _champion(old, float("nan")), RegistryParams()
    )

    assert decision["champion_test_acc"] == pytest.approx(0.8343)
    assert decision["reason"] == "0.8352 vs 0.8343, p = 0.41: not significant"
