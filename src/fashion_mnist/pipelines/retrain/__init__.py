"""The retrain pipeline: the study's best setting, trained on all data and tested once."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
