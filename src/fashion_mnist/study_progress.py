"""How far a tuning worker has got: its expected duration, then one log line per trial.

The expected duration is measured, not guessed: this worker's first epoch
(data on the device, one pass over the fit split, scoring the validation
split, its MLflow and Optuna writes) times the epochs the trials left to run
will take at most (``num_epochs``, or the middle of its searched range).
Pruned trials end sooner, so the estimate errs long.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fashion_mnist.params import TrainingParams, TuningParams
from fashion_mnist.study import finished_trials

logger = logging.getLogger(__name__)


def epochs_per_trial(training: TrainingParams, tuning: TuningParams) -> float:
    """The epochs an unpruned trial trains: searched (mean of the range), fixed or set."""
    for dimension in tuning.dimensions():
        if dimension.name == "num_epochs":
            if dimension.kind == "categorical":
                return sum(dimension.choices) / len(dimension.choices)
            return (dimension.low + dimension.high) / 2
    return float(tuning.fixed.get("num_epochs", training.num_epochs))


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


class StudyProgress:
    """Times this worker's epochs and trials, and logs where the study stands.

    ``epoch_finished`` goes in each trial's per-epoch callback; the instance
    itself is an Optuna ``study.optimize`` callback, called after each trial.
    """

    def __init__(
        self, training: TrainingParams, tuning: TuningParams, finished: int
    ) -> None:
        self.study_name = tuning.study_name
        self.n_trials = tuning.n_trials
        self.epochs = epochs_per_trial(training, tuning)
        self.to_run = max(tuning.n_trials - finished, 0)
        self.first_epoch_s: float | None = None
        self.trial_seconds: list[float] = []
        self._mark = time.monotonic()

    def trial_started(self) -> None:
        """Start the clock of a trial's first epoch."""
        self._mark = time.monotonic()

    def epoch_finished(self) -> None:
        """After this worker's first epoch, log the study's expected duration once."""
        if self.first_epoch_s is not None:
            return
        self.first_epoch_s = time.monotonic() - self._mark
        total = self.first_epoch_s * self.epochs * self.to_run
        logger.info(
            "Study %r: expect about %s for %d trials of up to %.0f epochs "
            "(this worker's first epoch took %.2f s; pruned trials end sooner, "
            "more workers share the trials)",
            self.study_name,
            _minutes(total),
            self.to_run,
            self.epochs,
            self.first_epoch_s,
        )

    def __call__(self, study: Any, trial: Any) -> None:
        """Log ``trial`` (an ``optuna.trial.FrozenTrial``) just ended, the best and what is left."""
        if trial.datetime_start and trial.datetime_complete:
            elapsed = trial.datetime_complete - trial.datetime_start
            self.trial_seconds.append(elapsed.total_seconds())
        finished = finished_trials(study)
        left = max(self.n_trials - finished, 0)
        state = trial.state.name
        outcome = {"COMPLETE": "finished", "PRUNED": "pruned", "FAIL": "failed"}
        scored = "" if trial.value is None else f": val acc {trial.value:.4f}"
        best = _best(study)
        eta = ""
        if left and self.trial_seconds:
            mean = sum(self.trial_seconds) / len(self.trial_seconds)
            eta = f", about {_minutes(mean * left)} left"
        logger.info(
            "Study %r: trial %d %s%s, best so far %s, %d of %d%s",
            self.study_name,
            trial.number,
            outcome.get(state, state.lower()),
            scored,
            best,
            finished,
            self.n_trials,
            eta,
        )


def _best(study: Any) -> str:
    """``0.8560 (trial 3)``, or ``none`` before any trial completed."""
    try:
        best = study.best_trial
    except ValueError:  # Optuna's answer while no trial is COMPLETE
        return "none"
    return f"{best.value:.4f} (trial {best.number})"
