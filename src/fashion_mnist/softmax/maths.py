"""Softmax regression maths shared by every pipeline, written with plain torch tensors.

A model is a ``dict`` with a ``weight`` of shape (10, 784) and a ``bias`` of shape
(10,), both ``float32`` on the CPU: ``nn.Linear``'s layout, so the scratch and
the ``torch.nn`` models share one representation. Inputs are raw ``uint8``
pixels; :func:`to_features` scales them to [0, 1] as torchvision's ``ToTensor``.
"""

from __future__ import annotations

import numpy as np
import torch

DEVICES = ("auto", "cpu", "cuda")


def resolve_device(device: str) -> torch.device:
    """Turn the ``device`` parameter into a torch device, once per node.

    Args:
        device: ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda"``.

    Returns:
        The device to compute on.

    Raises:
        ValueError: When ``device`` is unknown, or ``"cuda"`` without CUDA.
    """
    if device not in DEVICES:
        raise ValueError(f"device must be one of {DEVICES}, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "device 'cuda' was asked for but torch sees no CUDA device; "
            "use 'auto' or 'cpu'"
        )
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def to_features(
    X: np.ndarray | torch.Tensor, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Move raw pixels to ``device`` once and scale them to [0, 1].

    Args:
        X: Pixels of shape (n, 784), ``uint8`` in 0–255.
        device: Where the features live.

    Returns:
        ``float32`` tensor of shape (n, 784) in [0, 1].
    """
    X = torch.as_tensor(
        np.require(X, requirements="W") if isinstance(X, np.ndarray) else X
    )
    return X.to(device).to(torch.float32).div_(255.0)


def pixel_logits(
    model: dict[str, torch.Tensor], X: np.ndarray, rows: int = 2048
) -> torch.Tensor:
    """Logits of raw ``uint8`` pixels, scaled ``rows`` rows at a time.

    The same numbers as ``linear_logits(model, to_features(X))`` without a
    float copy of the whole split (188 MB for the training split).
    """

    parts = [
        linear_logits(model, to_features(X[start : start + rows]))
        for start in range(0, len(X), rows)
    ]
    return torch.cat(parts) if parts else linear_logits(model, to_features(X))


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Row-wise log-probabilities, ``logits - log(sum(exp(logits)))``, stably.

    The row maximum is subtracted before ``exp`` (log-sum-exp) and never added
    back, so float32 neither overflows nor loses precision at logits of ±1e4.
    """
    shifted = logits - logits.max(dim=1, keepdim=True).values
    return shifted - shifted.exp().sum(dim=1, keepdim=True).log()


def softmax(logits: torch.Tensor) -> torch.Tensor:
    """Row-wise probabilities; finite and summing to 1 even for logits of ±1e4."""
    return log_softmax(logits).exp()


def nll(log_probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of the true classes.

    Args:
        log_probs: Log-probabilities, shape (n, k).
        y: Class indices, shape (n,), ``int64``.

    Returns:
        A scalar tensor.
    """
    return -log_probs.gather(1, y[:, None]).mean()


def cross_entropy(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy from logits via log-sum-exp, never ``log(softmax(x))``.

    Args:
        logits: Shape (n, k).
        y: Class indices, shape (n,), ``int64`` in ``0 .. k-1``.

    Returns:
        A scalar tensor: the mean over the n rows.
    """
    return nll(log_softmax(logits), y)


def linear_logits(model: dict[str, torch.Tensor], X: torch.Tensor) -> torch.Tensor:
    """Logits ``X @ W.T + b`` of a model held in ``nn.Linear``'s (10, 784) layout."""
    return torch.addmm(model["bias"], X, model["weight"].T)
