"""A small study of the tuning nodes on synthetic tables, shared by this folder's tests."""

from __future__ import annotations

from fashion_mnist.datasets.tuning_datasets import TrialRuns
from fashion_mnist.params import ClassNames, TrainingParams, TuningParams
from fashion_mnist.pipelines.tuning.nodes import run_study
from tests.support.synthetic import CLASS_NAMES, training_params

SMALL_SPACE = {
    "lr": {"type": "float", "low": 0.05, "high": 1.0, "log": True},
    "num_epochs": {"type": "int", "low": 2, "high": 4},
    "lr_schedule": {"type": "categorical", "choices": ["constant", "cosine"]},
    "standardize": {"type": "categorical", "choices": [False, True]},
}


def small_tuning(**overrides) -> TuningParams:
    """The ``tuning`` group of a four-trial study over :data:`SMALL_SPACE`."""
    values = {
        "model": "scratch",
        "study_name": "test-study",
        "n_trials": 4,
        "sampler_seed": 0,
        "n_startup_trials": 2,
        "validation": {"size": 100, "seed": 0},
        "pruner": {"n_startup_trials": 2, "n_warmup_steps": 1},
        "search_space": SMALL_SPACE,
    }
    values.update(overrides)
    return TuningParams.model_validate(values)


def run_small_study(storage, splits, trial_runs=None, **overrides):
    """``run_study`` on the ``(fit, validation)`` splits at batch size 32."""
    fit, validation = splits
    return run_study(
        storage,
        trial_runs or TrialRuns(None),
        fit,
        validation,
        TrainingParams.model_validate(training_params(batch_size=32)),
        small_tuning(**overrides),
        ClassNames.model_validate(CLASS_NAMES),
    )
