"""Register the models of a run whose gate passed; the best becomes the champion."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
