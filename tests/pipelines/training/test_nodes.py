import pandas as pd
import pytest
import torch
from pydantic import ValidationError

from fashion_mnist.params import TrainingParams
from fashion_mnist.pipelines.training.nodes import NODES as TRAINERS
from fashion_mnist.pipelines.training.nodes import train_concise, train_scratch
from fashion_mnist.schemas import table_to_arrays
from fashion_mnist.softmax import (
    HISTORY_COLUMNS,
    TrainingDivergedError,
    linear_logits,
    split_validation,
    to_features,
)
from fashion_mnist.softmax import TRAINERS as LOOPS
from tests.support.synthetic import make_table, training_params


@pytest.fixture(scope="module")
def tables():
    return make_table(n_per_class=30, seed=1), make_table(n_per_class=10, seed=2)


def _raw(**overrides):
    return training_params(**{"batch_size": 32, "num_epochs": 5, **overrides})


def _params(**overrides) -> TrainingParams:
    """The ``training`` group as Kedro hands it to the nodes: validated."""
    return TrainingParams.model_validate(_raw(**overrides))


@pytest.mark.parametrize("name", TRAINERS)
def test_a_trained_model_is_a_cpu_weight_and_bias_with_one_history_row_per_epoch(
    tables, name
):
    model, history = TRAINERS[name](*tables, _params())

    assert set(model) == {"weight", "bias"}
    assert model["weight"].shape == (10, 784) and model["bias"].shape == (10,)
    assert all(
        t.dtype == torch.float32 and t.device.type == "cpu" for t in model.values()
    )
    assert list(history.columns) == HISTORY_COLUMNS
    assert history["epoch"].tolist() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("name", TRAINERS)
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_loss_goes_down_and_separable_data_is_learned_for_any_seed(tables, name, seed):
    _, history = TRAINERS[name](*tables, _params(seed=seed))

    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0] / 2
    assert history["train_loss"].is_monotonic_decreasing
    assert history["train_acc"].iloc[-1] >= 0.98
    assert history["test_acc"].iloc[-1] >= 0.98


@pytest.mark.parametrize("name", TRAINERS)
def test_the_same_seed_gives_bit_identical_weights_and_histories(tables, name):
    first_model, first_history = TRAINERS[name](*tables, _params(seed=3))
    second_model, second_history = TRAINERS[name](*tables, _params(seed=3))

    assert torch.equal(first_model["weight"], second_model["weight"])
    assert torch.equal(first_model["bias"], second_model["bias"])
    pd.testing.assert_frame_equal(first_history, second_history)


@pytest.mark.parametrize("name", TRAINERS)
def test_a_different_seed_gives_different_weights(tables, name):
    first, _ = TRAINERS[name](*tables, _params(seed=3))
    second, _ = TRAINERS[name](*tables, _params(seed=4))

    assert not torch.equal(first["weight"], second["weight"])


@pytest.mark.parametrize("name", TRAINERS)
def test_training_leaves_the_global_rng_state_untouched(tables, name):
    before = torch.get_rng_state()

    TRAINERS[name](*tables, _params())

    assert torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_the_scratch_model_agrees_with_the_torch_nn_model(tables, weight_decay):
    params = _params(num_epochs=4, weight_decay=weight_decay)

    scratch, scratch_history = train_scratch(*tables, params)
    concise, concise_history = train_concise(*tables, params)

    torch.testing.assert_close(scratch["weight"], concise["weight"], atol=1e-5, rtol=0)
    torch.testing.assert_close(scratch["bias"], concise["bias"], atol=1e-5, rtol=0)
    pd.testing.assert_frame_equal(scratch_history, concise_history, atol=1e-5)


def test_weight_decay_shrinks_the_weights(tables):
    plain, _ = train_scratch(*tables, _params())
    decayed, _ = train_scratch(*tables, _params(weight_decay=0.1))

    assert decayed["weight"].norm() < plain["weight"].norm()


def test_a_per_model_override_changes_only_that_model(tables):
    default_scratch, _ = train_scratch(*tables, _params())
    default_concise, _ = train_concise(*tables, _params())
    params = _params(scratch={"lr": 0.05})

    scratch, _ = train_scratch(*tables, params)
    concise, _ = train_concise(*tables, params)

    assert not torch.equal(scratch["weight"], default_scratch["weight"])
    assert torch.equal(concise["weight"], default_concise["weight"])
    assert params.for_model("scratch").lr == 0.05
    assert params.for_model("concise").lr == 0.5


@pytest.mark.parametrize(
    ("overrides", "where", "message"),
    [
        ({"batch_size": 0}, "batch_size", "Input should be greater than 0"),
        ({"lr": -0.1}, "lr", "Input should be greater than 0"),
        ({"lr": 0}, "lr", "Input should be greater than 0"),
        ({"num_epochs": 0}, "num_epochs", "Input should be greater than or equal to 1"),
        ({"device": "tpu"}, "device", "Input should be 'auto', 'cpu' or 'cuda'"),
        ({"concise": {"lr": -1}}, "concise.lr", "Input should be greater than 0"),
        ({"btach_size": 64}, "btach_size", "Extra inputs are not permitted"),
    ],
)
def test_an_invalid_parameter_is_named_with_its_value_before_any_node_runs(
    overrides, where, message
):
    value = next(iter(overrides.values()))
    value = next(iter(value.values())) if isinstance(value, dict) else value

    with pytest.raises(ValidationError) as raised:
        _params(**overrides)

    [error] = raised.value.errors()
    assert ".".join(map(str, error["loc"])) == where
    assert error["msg"] == message
    assert error["input"] == value
    assert f"input_value={value!r}" in str(raised.value)


@pytest.mark.parametrize("where", ["device", "scratch.device"])
def test_cuda_without_cuda_is_a_clear_error(monkeypatch, where):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    overrides = (
        {"device": "cuda"} if where == "device" else {"scratch": {"device": "cuda"}}
    )

    with pytest.raises(ValidationError) as raised:
        _params(**overrides)

    assert f"{where}\n  device 'cuda' was asked for but torch sees no CUDA" in str(
        raised.value
    )
    assert "set it to 'auto' or 'cpu'" in str(raised.value)


def test_the_overrides_keep_every_constraint_of_the_shared_values():
    shared = TrainingParams.model_fields
    overrides = shared["scratch"].annotation.model_fields

    assert set(overrides) == set(shared) - {"scratch", "concise"}
    assert _params(scratch={"device": "cpu", "seed": 3}).for_model("scratch").seed == 3


@pytest.mark.parametrize("name", TRAINERS)
def test_a_standardized_model_is_saved_for_raw_pixels(tables, name):
    _, test = tables
    model, history = TRAINERS[name](*tables, _params(standardize=True))
    X, y = table_to_arrays(test)

    predicted = linear_logits(model, to_features(X)).argmax(dim=1)

    accuracy = (predicted == torch.as_tensor(y)).double().mean().item()
    assert accuracy == pytest.approx(history["test_acc"].iloc[-1])
    assert accuracy > 0.95


def test_standardization_changes_the_training_path(tables):
    plain, _ = train_scratch(*tables, _params())
    standardized, _ = train_scratch(*tables, _params(standardize=True))

    assert not torch.allclose(plain["weight"], standardized["weight"])


@pytest.mark.parametrize("name", TRAINERS)
def test_on_epoch_sees_every_history_row_and_can_stop_training(tables, name):
    seen = []

    class Stop(Exception):
        pass

    def on_epoch(row):
        seen.append(row)
        if row["epoch"] == 2:
            raise Stop

    with pytest.raises(Stop):
        LOOPS[name](*tables, _params().for_model(name), on_epoch=on_epoch)

    assert [row["epoch"] for row in seen] == [1, 2]
    assert set(seen[0]) == set(HISTORY_COLUMNS)


@pytest.mark.parametrize("name", TRAINERS)
def test_a_huge_learning_rate_stops_training_at_the_epoch_that_diverged(tables, name):
    seen = []

    # lr 1e38 overflows float32 in the first steps: the first epoch's loss is not finite.
    with pytest.raises(
        TrainingDivergedError,
        match=rf"{name}: training diverged at epoch 1 \(train loss (nan|inf)\): "
        rf"lower training\.lr \(now 1e\+38\) or training\.{name}\.lr",
    ):
        LOOPS[name](*tables, _params(lr=1e38).for_model(name), on_epoch=seen.append)

    assert seen == []


def test_weights_that_overflow_while_the_loss_is_still_finite_stop_training(tables):
    # One batch per epoch: its loss is computed before the step that overflows
    # the weights (lr 1e39 is infinite in float32; torch's SGD refuses it outright).
    params = _params(lr=1e39, batch_size=300, num_epochs=1)

    with pytest.raises(
        TrainingDivergedError,
        match=r"scratch: training diverged at epoch 1 \(train loss 2\.3\d*, weights "
        r"not finite\): lower training\.lr \(now 1e\+39\)",
    ):
        train_scratch(*tables, params)


@pytest.mark.parametrize("name", TRAINERS)
def test_each_node_trains_with_its_models_hyperparameters(tables, name):
    params = _params(scratch={"lr": 0.05}, concise={"num_epochs": 2})

    model, history = TRAINERS[name](*tables, params)
    expected, expected_history = LOOPS[name](*tables, params.for_model(name))

    assert torch.equal(model["weight"], expected["weight"])
    pd.testing.assert_frame_equal(history, expected_history)


@pytest.mark.parametrize("seed", [0, 1])
def test_the_validation_split_is_stratified_disjoint_and_complete(seed):
    train = make_table(n_per_class=30, seed=5)
    train["row_id"] = range(len(train))

    fit, validation = split_validation(train, size=50, seed=seed)

    assert len(validation) == 50 and len(fit) == 250
    assert (validation["label"].value_counts() == 5).all()
    assert set(fit["row_id"]).isdisjoint(validation["row_id"])
    assert set(fit["row_id"]) | set(validation["row_id"]) == set(train["row_id"])


def test_the_validation_split_depends_on_its_seed_only():
    train = make_table(n_per_class=30, seed=5)

    first = split_validation(train, size=50, seed=1)[1]
    again = split_validation(train, size=50, seed=1)[1]
    other = split_validation(train, size=50, seed=2)[1]

    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


@pytest.mark.parametrize("size", [0, 300, -5])
def test_an_impossible_validation_size_is_a_clear_error(size):
    with pytest.raises(
        ValueError, match=f"validation size must be between 1 and 299, got {size}"
    ):
        split_validation(make_table(n_per_class=30), size=size, seed=0)
