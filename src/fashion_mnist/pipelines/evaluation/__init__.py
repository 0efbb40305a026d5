"""Score each model on the full train and test splits and compare the two."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
