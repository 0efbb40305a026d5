"""Classify a folder of the user's own images with a trained model (not in __default__)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
