"""Figures for each model and for both together, and the threshold gate's verdict."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
