"""The Optuna study that the tuning and retrain pipelines share.

The study lives in the ``optuna.storages.RDBStorage`` that the catalog's
``optuna_storage`` builds; every worker (``kedro run --pipelines tuning``, on
any machine) joins it. Only Optuna's public API is used, and the storage's
``BaseStorage`` methods on the storage the catalog built. Optuna is imported
when a function runs: ``kedro registry list`` imports this module.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
import socket
import warnings
import zlib
from collections.abc import Callable
from typing import Any

import pandas as pd

from fashion_mnist.datasets.tuning_datasets import TrialRuns
from fashion_mnist.params import MODELS, Hyperparameters, TrainingParams, TuningParams
from fashion_mnist.tracking.processes import process_alive, process_start

logger = logging.getLogger(__name__)

# Seconds after which a RUNNING trial that no worker claimed is taken for lost.
UNCLAIMED_AFTER_S = 60
TRIAL_COLUMNS = ["study", "trial", "state", "value", "mlflow_run_id", "worker"]
# A finished trial counts towards tuning.n_trials, whatever its end.
FINISHED = ("COMPLETE", "PRUNED", "FAIL")


def trial_seed(seed: int, number: int) -> int:
    """A sampler seed of its own for each trial number of the study."""
    return zlib.crc32(f"{seed}:{number}".encode())


def trial_hyperparameters(
    training: TrainingParams, tuning: TuningParams, values: dict[str, Any]
) -> Hyperparameters:
    """The settings of a trial: ``training``, then ``tuning.fixed``, then ``values``.

    The per-model overrides of ``training`` do not apply: both models train a
    trial's setting alike.
    """
    shared = training.model_dump(exclude=set(MODELS))
    return Hyperparameters.model_validate({**shared, **tuning.fixed, **values})


def _state(*names: str) -> tuple[Any, ...]:
    import optuna

    return tuple(optuna.trial.TrialState[name] for name in names)


def _set_attrs(
    storage: Any, study_name: str, number: int, attrs: dict[str, Any]
) -> None:
    """Set user attributes of trial ``number``, from outside its ``optuna.Trial``."""
    study_id = storage.get_study_id_from_name(study_name)
    trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, number)
    for key, value in attrs.items():
        storage.set_trial_user_attr(trial_id, key, value)


def trial_seeded_sampler(tuning: TuningParams, claim: Callable[[int], None]) -> Any:
    """An ``optuna.samplers.BaseSampler``: TPE seeded by ``sampler_seed`` and trial number.

    Trial numbers are unique in a study, so a restarted or added worker never
    draws the start-up trials another worker already drew (a fixed seed per
    worker would repeat them), and a study run again from scratch draws the
    same trials in the same order. ``claim`` gets each new trial's number in
    the call that creates it, before any suggestion: a worker killed from then
    on leaves a trial that names it.
    """
    import optuna

    class TrialSeededTPE(optuna.samplers.BaseSampler):
        def __init__(self) -> None:
            self._by_trial: dict[int, optuna.samplers.TPESampler] = {}

        def _for(self, trial: Any) -> optuna.samplers.TPESampler:
            if trial.number not in self._by_trial:
                self._by_trial = {
                    trial.number: optuna.samplers.TPESampler(
                        seed=trial_seed(tuning.sampler_seed, trial.number),
                        n_startup_trials=tuning.n_startup_trials,
                        constant_liar=True,  # keeps workers away from running trials
                    )
                }
            return self._by_trial[trial.number]

        def infer_relative_search_space(self, study, trial):
            return self._for(trial).infer_relative_search_space(study, trial)

        def sample_relative(self, study, trial, search_space):
            return self._for(trial).sample_relative(study, trial, search_space)

        def sample_independent(self, study, trial, name, distribution):
            return self._for(trial).sample_independent(study, trial, name, distribution)

        def before_trial(self, study, trial) -> None:
            claim(trial.number)
            self._for(trial).before_trial(study, trial)

        def after_trial(self, study, trial, state, values) -> None:
            self._for(trial).after_trial(study, trial, state, values)

    return TrialSeededTPE()


def join_study(storage: Any, tuning: TuningParams) -> Any:
    """Create or load the study ``tuning.study_name``, as one more worker of it.

    Args:
        storage: The ``optuna.storages.RDBStorage`` of the catalog.
        tuning: The ``tuning`` group.

    Returns:
        The ``optuna.Study``; each trial this worker creates is claimed with
        its host, pid and the pid's start time.
    """
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pid = os.getpid()
    me = {"host": socket.gethostname(), "pid": pid, "pid_start": process_start(pid)}

    def claim(number: int) -> None:
        _set_attrs(storage, tuning.study_name, number, me)

    return optuna.create_study(
        study_name=tuning.study_name,
        storage=storage,
        direction="maximize",
        load_if_exists=True,
        sampler=trial_seeded_sampler(tuning, claim),
        pruner=optuna.pruners.MedianPruner(**tuning.pruner),
    )


def _lost_reason(trial: Any, host: str, now: datetime.datetime) -> str | None:
    """Why the RUNNING ``trial`` has no worker any more, or ``None`` if it may have."""
    attrs = trial.user_attrs
    pid = str(attrs.get("pid", ""))
    if "pid" not in attrs:
        # A worker claims its trial in the call that creates it: a trial
        # still unclaimed after a minute lost its worker in between.
        started = trial.datetime_start or now
        if (now - started).total_seconds() < UNCLAIMED_AFTER_S:
            return None
        return "its worker ended before it claimed the trial"
    if attrs.get("host") != host or not pid.isdigit():
        return None  # another host's worker: its heartbeat tells
    if process_alive(int(pid), str(attrs.get("pid_start", ""))):
        return None
    return f"worker {pid} on {host} ended without finishing the trial"


def end_dead_workers_trials(
    study: Any, storage: Any, trial_runs: TrialRuns
) -> list[int]:
    """End the trials that workers now gone left RUNNING: FAILED and KILLED.

    A worker of this host is gone when its process no longer runs: its trial
    ends at once, however recently its heartbeat beat, with a ``fail_reason``.
    A worker of another host is gone when its heartbeat stopped for the
    storage's grace period: ``fail_stale_trials`` ends it, and the storage's
    stale-trial callback (``datasets.tuning_datasets``) ends its MLflow run.

    Args:
        study: The ``optuna.Study``.
        storage: The ``optuna.storages.RDBStorage`` the study lives in.
        trial_runs: Where the trials' MLflow runs are ended.

    Returns:
        The numbers of this host's trials ended.
    """
    import optuna

    host, now, ended = socket.gethostname(), datetime.datetime.now(), []
    for trial in study.get_trials(deepcopy=False, states=_state("RUNNING")):
        reason = _lost_reason(trial, host, now)
        if reason is None:
            continue
        try:
            _set_attrs(storage, study.study_name, trial.number, {"fail_reason": reason})
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        except (optuna.exceptions.UpdateFinishedTrialError, ValueError):
            continue  # another worker ended it first
        trial_runs.end_abandoned(trial.user_attrs.get("mlflow_run_id", ""), reason)
        ended.append(trial.number)
    if ended:
        logger.warning(
            "Study %r: trials %s were left RUNNING by workers that are gone; "
            "marked FAILED (Optuna) and KILLED (MLflow)",
            study.study_name,
            ended,
        )
    with warnings.catch_warnings():  # heartbeats are "experimental" since 2.9
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    return ended


def finished_trials(study: Any) -> int:
    """How many trials of ``study`` are finished, all workers together."""
    return len(study.get_trials(deepcopy=False, states=_state(*FINISHED)))


def trials_table(study: Any) -> pd.DataFrame:
    """The trials of ``study`` (an ``optuna.Study``), one row each, in trial order."""
    rows = [
        {
            "study": study.study_name,
            "trial": trial.number,
            "state": trial.state.name,
            "value": trial.value,
            "mlflow_run_id": trial.user_attrs.get("mlflow_run_id", ""),
            "worker": f"{trial.user_attrs.get('host', '?')}:"
            f"{trial.user_attrs.get('pid', '?')}",
            **{f"param.{k}": v for k, v in sorted(trial.params.items())},
        }
        for trial in study.get_trials(deepcopy=False)
    ]
    return pd.DataFrame(rows) if rows else pd.DataFrame(columns=TRIAL_COLUMNS)


def best_trial(trials: pd.DataFrame) -> dict[str, Any]:
    """The completed trial with the best validation accuracy (the first, on ties).

    Args:
        trials: The :func:`trials_table` of a study.

    Returns:
        Its study, trial number, validation accuracy, MLflow run and parameters.

    Raises:
        RuntimeError: When no trial of the study completed.
    """
    complete = trials[trials["state"] == "COMPLETE"]
    if complete.empty:
        study = trials["study"].iloc[0] if len(trials) else "?"
        raise RuntimeError(
            f"No trial of study {study!r} completed: see the failed trials' 'error' "
            "tags in MLflow, or widen tuning.search_space"
        )
    best = complete.sort_values(["value", "trial"], ascending=[False, True]).iloc[0]
    params = {
        column.removeprefix("param."): _plain(best[column])
        for column in trials.columns
        if column.startswith("param.") and not _missing(best[column])
    }
    return {
        "study": str(best["study"]),
        "trial": int(best["trial"]),
        "val_acc": float(best["value"]),
        "mlflow_run_id": str(best["mlflow_run_id"]),
        "params": params,
    }


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    """A YAML-friendly Python scalar (no numpy types)."""
    return value.item() if hasattr(value, "item") else value
