"""Figures for each model and for both together, then the threshold gate."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
