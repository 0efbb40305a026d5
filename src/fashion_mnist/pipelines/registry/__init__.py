"""Register the models of a run whose gate passed; the champion moves on evidence."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
