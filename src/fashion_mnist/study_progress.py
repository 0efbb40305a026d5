"""How far a tuning worker has got: its expected duration, then one log line per trial.

The expected duration is measured, not guessed, twice. Before the first
trial: two epochs of the trial's model on the whole fit split (at the
smallest batch size searched) give an epoch's cost (the second) and a
trial's setting up (the rest); a trial of the most epochs (``num_epochs``, or
the top of its searched range) times the trials left, without the per-epoch
MLflow and Optuna writes. (A share of the split, scaled up, overestimated an
epoch fivefold on the real data, and one whole epoch counted its setting up
once per epoch: both erred long by 2-5 times.) After the first trial's
second epoch, its first (setting up and writes included) and its second
(writes included) refine it. Pruned trials end sooner and more workers share
the trials.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fashion_mnist.params import Hyperparameters, TrainingParams, TuningParams
from fashion_mnist.study import finished_trials

logger = logging.getLogger(__name__)


def most_epochs_per_trial(training: TrainingParams, tuning: TuningParams) -> int:
    """The epochs an unpruned trial trains at most: the searched range's top, fixed or set."""
    for dimension in tuning.dimensions():
        if dimension.name == "num_epochs":
            if dimension.kind == "categorical":
                return int(max(dimension.choices))
            return int(dimension.high)
    return int(tuning.fixed.get("num_epochs", training.num_epochs))


def slowest_values(tuning: TuningParams) -> dict[str, Any]:
    """Searched values that make an epoch slowest: the smallest batch size searched."""
    for dimension in tuning.dimensions():
        if dimension.name == "batch_size":
            low = min(dimension.choices) if dimension.choices else dimension.low
            return {"batch_size": int(low)}
    return {}


@dataclass(frozen=True)
class EpochTiming:
    """A trial's cost on ``rows`` fit images at ``batch_size``, timed before any trial."""

    setup_s: float  # a trial's work besides its epochs: tensors, scoring
    epoch_s: float  # one epoch (one pass, scoring the validation split)
    rows: int
    batch_size: int

    def trial_s(self, epochs: int) -> float:
        """A trial of ``epochs`` epochs, without its MLflow and Optuna writes."""
        return self.setup_s + epochs * self.epoch_s


class _Unlogged(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


@contextlib.contextmanager
def _quiet(name: str) -> Iterator[None]:
    """Records of logger ``name`` are dropped inside the block."""
    dropped, log = _Unlogged(), logging.getLogger(name)
    log.addFilter(dropped)
    try:
        yield
    finally:
        log.removeFilter(dropped)


def time_epochs(
    model: str, fit: pd.DataFrame, validation: pd.DataFrame, hyper: Hyperparameters
) -> EpochTiming:
    """Train ``model`` for two epochs on ``fit`` with ``hyper``; time a trial's parts.

    The second epoch is an epoch's cost; the rest of the time (the first
    epoch's extra over the second, and what follows the last) is the trial's
    setting up. The model is thrown away; its epoch lines are not logged (they
    are no trial's).
    """
    # torch at call time: the tuning pipeline, which every `kedro` command loads, imports this.
    from fashion_mnist.softmax import TRAINERS, loop

    two = Hyperparameters.model_validate({**hyper.model_dump(), "num_epochs": 2})
    ends: list[float] = []
    with _quiet(loop.__name__):
        start = time.perf_counter()
        TRAINERS[model](
            fit, validation, two, lambda row: ends.append(time.perf_counter())
        )
        total = time.perf_counter() - start
    epoch = ends[1] - ends[0]
    return EpochTiming(max(total - 2 * epoch, 0.0), epoch, len(fit), hyper.batch_size)


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
        self.epochs = most_epochs_per_trial(training, tuning)
        self.to_run = max(tuning.n_trials - finished, 0)
        self._trials_started = 0
        self._epoch_ends: list[float] = []  # the first trial's first two
        self.trial_seconds: list[float] = []
        self._mark = time.monotonic()

    def trial_started(self) -> None:
        """Start the clock of the first trial's first epoch."""
        self._trials_started += 1
        if self._trials_started == 1:
            self._mark = time.monotonic()

    def expect(
        self,
        model: str,
        fit: pd.DataFrame,
        validation: pd.DataFrame,
        hyper: Hyperparameters,
    ) -> EpochTiming | None:
        """Before the first trial, time a trial's parts (:func:`time_epochs`) and log
        the study's expected duration; ``None`` (and a line saying so) if it failed."""
        try:
            timing = time_epochs(model, fit, validation, hyper)
        except Exception as exc:  # a trial would fail the same way, and say why
            logger.info(
                "Study %r: no time estimate before the first trial (timing an "
                "epoch failed: %s); one follows this worker's first epoch",
                self.study_name,
                type(exc).__name__,
            )
            return None
        logger.info(
            "Study %r: expect about %s for %d trials of up to %d epochs (timed "
            "before the first trial, on the %d fit images at batch size %d: %.2f s "
            "an epoch, %.2f s a trial's setting up; without the per-epoch MLflow "
            "and Optuna writes, pruned trials end sooner, more workers share the "
            "trials)",
            self.study_name,
            _minutes(timing.trial_s(self.epochs) * self.to_run),
            self.to_run,
            self.epochs,
            timing.rows,
            timing.batch_size,
            timing.epoch_s,
            timing.setup_s,
        )
        return timing

    def epoch_finished(self) -> None:
        """After this worker's second epoch, log the study's expected duration again.

        The first trial's first epoch (its run started, its setting up and
        writes included) and its second (an epoch with its writes) give a trial
        of the most epochs.
        """
        if self._trials_started != 1 or len(self._epoch_ends) == 2:
            return
        self._epoch_ends.append(time.monotonic())
        if len(self._epoch_ends) < 2:
            return
        first = self._epoch_ends[0] - self._mark
        each = self._epoch_ends[1] - self._epoch_ends[0]
        logger.info(
            "Study %r: now expect about %s for %d trials of up to %d epochs (this "
            "worker's first trial: %.2f s to its first epoch's end, setting up "
            "included, then %.2f s an epoch, MLflow and Optuna writes included; "
            "pruned trials end sooner, more workers share the trials)",
            self.study_name,
            _minutes((first + (self.epochs - 1) * each) * self.to_run),
            self.to_run,
            self.epochs,
            first,
            each,
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
