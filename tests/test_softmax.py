import pytest
import torch
import torch.nn.functional as F

from fashion_mnist.softmax import (
    cross_entropy,
    linear_logits,
    log_softmax,
    pixel_logits,
    resolve_device,
    softmax,
    to_features,
)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_softmax_and_cross_entropy_equal_torch_on_random_logits(seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(64, 10, generator=g) * 5
    y = torch.randint(0, 10, (64,), generator=g)

    torch.testing.assert_close(softmax(logits), torch.softmax(logits, dim=1))
    torch.testing.assert_close(log_softmax(logits), torch.log_softmax(logits, dim=1))
    torch.testing.assert_close(cross_entropy(logits, y), F.cross_entropy(logits, y))


def test_softmax_stays_finite_and_normalised_at_huge_logits():
    logits = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]])
    y = torch.tensor([1, 0, 2])

    probs = softmax(logits)
    loss = cross_entropy(logits, y)

    assert torch.isfinite(probs).all()
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(3))
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, F.cross_entropy(logits, y))


def test_to_features_scales_uint8_pixels_to_the_unit_interval():
    X = torch.tensor([[0, 128, 255]], dtype=torch.uint8)

    features = to_features(X)

    assert features.dtype == torch.float32
    torch.testing.assert_close(features, torch.tensor([[0.0, 128 / 255, 1.0]]))


def test_linear_logits_match_nn_linear():
    linear = torch.nn.Linear(784, 10)
    X = torch.rand(5, 784)

    logits = linear_logits({"weight": linear.weight, "bias": linear.bias}, X)

    torch.testing.assert_close(logits, linear(X))


def test_resolve_device_rejects_an_unknown_device_by_name():
    with pytest.raises(ValueError, match=r"device must be one of .* got 'tpu'"):
        resolve_device("tpu")


def test_resolve_device_auto_picks_cuda_only_when_available(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)

    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(
        ValueError, match="device 'cuda' was asked for but torch sees no CUDA"
    ):
        resolve_device("cuda")


def test_pixel_logits_in_chunks_equal_the_logits_of_the_whole_split_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    X = torch.randint(0, 256, (5000, 784), dtype=torch.uint8, generator=g).numpy()
    model = {
        "weight": torch.randn(10, 784, generator=g) * 0.05,
        "bias": torch.randn(10, generator=g),
    }

    chunked = pixel_logits(model, X, rows=1024)

    assert torch.equal(chunked, linear_logits(model, to_features(X)))
