"""Fetch the four Fashion-MNIST IDX files and flatten them into tables."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
