"""The tuning pipeline: one worker of an Optuna study over the training parameters."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
