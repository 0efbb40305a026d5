"""Train softmax regression twice: from scratch with tensors, and with ``torch.nn``."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
