"""Tuning nodes: an Optuna study over the training parameters, and its report.

``kedro run --pipelines tuning`` is one worker: it joins the study named by
``tuning.study_name`` in the storage of the catalog's ``optuna_storage`` and
runs trials until the study holds ``tuning.n_trials`` finished ones. Every
worker sharing that storage (one machine or many) works on the same study.
Optuna, MLflow and pandas are imported when a node runs, never at import time:
every ``kedro`` command (``kedro registry list`` too) imports this module.
"""

from __future__ import annotations

import datetime
import logging
import math
import os
import socket
import warnings
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fashion_mnist.models import MODELS
from fashion_mnist.tracking import process_alive, process_start

if TYPE_CHECKING:
    import optuna
    import pandas as pd
    from matplotlib.figure import Figure

    from fashion_mnist.datasets.tuning_datasets import TrialRuns

logger = logging.getLogger(__name__)

# Training parameters that a search space may name.
SEARCHABLE = (
    "batch_size",
    "init_std",
    "lr",
    "lr_schedule",
    "num_epochs",
    "standardize",
    "weight_decay",
)
# Seconds after which a RUNNING trial that no worker claimed is taken for lost.
_UNCLAIMED_AFTER_S = 60
TRIAL_COLUMNS = ["study", "trial", "state", "value", "mlflow_run_id", "worker"]


class TuningParameterError(ValueError):
    """The ``tuning`` parameters cannot work; raised before any trial starts."""


class TuningParams(BaseModel):
    """The ``tuning`` parameter group (``conf/base/parameters_tuning.yml``)."""

    model_config = ConfigDict(extra="forbid")

    model: Literal["scratch", "concise"] = "scratch"
    study_name: str = Field("fashion_mnist_softmax", min_length=1)
    n_trials: int = Field(24, ge=1)
    timeout_s: float | None = Field(None, gt=0)
    sampler_seed: int = 0
    n_startup_trials: int = Field(10, ge=1)
    fixed: dict[str, Any] = {}
    validation: dict[str, int] = {"size": 10000, "seed": 0}
    pruner: dict[str, int] = {"n_startup_trials": 5, "n_warmup_steps": 3}
    search_space: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Dimension:
    """One searched training parameter."""

    name: str
    kind: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: optuna.Trial) -> Any:
        if self.kind == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(
                self.name, int(self.low), int(self.high), log=self.log
            )
        return trial.suggest_categorical(self.name, list(self.choices))


def parse_tuning_params(tuning: dict[str, Any]) -> TuningParams:
    """Validate the ``tuning`` group, naming each bad value.

    Raises:
        TuningParameterError: ``tuning.<name> = <value>: <problem>``.
    """
    from fashion_mnist.pipelines.training.nodes import Hyperparameters

    try:
        config = TuningParams.model_validate(tuning)
        Hyperparameters.model_validate(config.fixed)
    except ValidationError as exc:
        where = "tuning" if exc.title == TuningParams.__name__ else "tuning.fixed"
        problems = "; ".join(
            f"{where}.{'.'.join(map(str, e['loc']))} = {e.get('input')!r}: {e['msg']}"
            for e in exc.errors()
        )
        raise TuningParameterError(f"Invalid tuning parameters: {problems}") from None
    return config


def parse_search_space(space: dict[str, dict[str, Any]]) -> list[Dimension]:
    """Check the search space and turn it into dimensions.

    Args:
        space: ``{parameter: {type: float|int, low, high, log} | {type:
            categorical, choices}}``.

    Returns:
        One :class:`Dimension` per entry.

    Raises:
        TuningParameterError: Naming the entry, for an entry that is not a
            mapping, an unknown parameter or type, a bound that is not a number,
            an empty range (``low >= high``, no choices), a log range that is
            not positive, or a value that training would reject.
    """
    from fashion_mnist.pipelines.training.nodes import Hyperparameters

    if not space:
        raise TuningParameterError(
            "tuning.search_space is empty: name at least one training parameter"
        )
    dimensions = []
    for name, spec in space.items():
        where = f"tuning.search_space.{name}"
        if name not in SEARCHABLE:
            raise TuningParameterError(
                f"{where}: unknown parameter; searchable ones are {list(SEARCHABLE)}"
            )
        if not isinstance(spec, dict):
            raise TuningParameterError(
                f"{where} = {spec!r}: must be a mapping, e.g. "
                "{type: float, low: 0.01, high: 1.0} or {type: categorical, choices: [...]}"
            )
        kind = spec.get("type")
        if kind in ("float", "int"):
            dimension = _range_dimension(name, kind, spec, where)
            samples = [spec["low"], spec["high"]]  # as written: int stays int
        elif kind == "categorical":
            dimension = _categorical_dimension(name, spec, where)
            samples = list(dimension.choices)
        else:
            raise TuningParameterError(
                f"{where}: type must be float, int or categorical, got {kind!r}"
            )
        for value in samples:
            try:
                Hyperparameters.model_validate({name: value})
            except ValidationError as exc:
                message = exc.errors()[0]["msg"]
                raise TuningParameterError(
                    f"{where}: value {value!r} is invalid: {message}"
                ) from None
        dimensions.append(dimension)
    return dimensions


def _bound(spec: dict[str, Any], key: str, where: str) -> float | int | None:
    value = spec.get(key)
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        raise TuningParameterError(f"{where}.{key} = {value!r}: must be a number")
    return value


def _range_dimension(
    name: str, kind: Literal["float", "int"], spec: dict[str, Any], where: str
) -> Dimension:
    low, high = _bound(spec, "low", where), _bound(spec, "high", where)
    log = bool(spec.get("log", False))
    if low is None or high is None or not low < high:
        raise TuningParameterError(
            f"{where}: empty range low={low}, high={high}; need low < high"
        )
    if log and low <= 0:
        raise TuningParameterError(f"{where}: a log range needs low > 0, got low={low}")
    return Dimension(name, kind, float(low), float(high), log)


def _categorical_dimension(name: str, spec: dict[str, Any], where: str) -> Dimension:
    choices = spec.get("choices") or ()
    if not isinstance(choices, list | tuple):
        raise TuningParameterError(
            f"{where}.choices = {choices!r}: must be a list of values"
        )
    if not choices:
        raise TuningParameterError(f"{where}: no choices")
    return Dimension(name, "categorical", choices=tuple(choices))


def check_tuning_params(tuning: dict[str, Any], training: dict[str, Any]) -> None:
    """Every problem of the ``tuning`` group, before anything runs.

    Raises:
        TuningParameterError: Naming the first bad value.
    """
    from fashion_mnist.pipelines.training.nodes import resolve_hyperparameters

    config = parse_tuning_params(tuning)
    parse_search_space(config.search_space)
    resolve_hyperparameters(study_training(training, config), config.model)


def study_training(
    training: dict[str, Any], config: TuningParams, values: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The training parameters of a trial: ``training``, then ``tuning.fixed``,
    then the trial's ``values``, for both models alike."""
    shared = {k: v for k, v in training.items() if k not in MODELS}
    return {**shared, **config.fixed, **(values or {}), **{m: {} for m in MODELS}}


def split_validation_set(
    train: pd.DataFrame, tuning: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Carve the study's stratified validation split out of the training table.

    Returns:
        ``(fit, validation)``: trials train on ``fit`` and are scored on
        ``validation``; the test split is never seen by the study.
    """
    from fashion_mnist.pipelines.training.nodes import split_validation

    config = parse_tuning_params(tuning)
    return split_validation(train, config.validation["size"], config.validation["seed"])


def _trial_seed(seed: int, number: int) -> int:
    """A sampler seed of its own for each trial number of the study."""
    return zlib.crc32(f"{seed}:{number}".encode())


def _sampler(
    config: TuningParams, worker: dict[str, Any]
) -> optuna.samplers.BaseSampler:
    """TPE whose randomness comes from the study's seed and the trial's number.

    Trial numbers are unique in a study, so a restarted or added worker never
    draws the start-up trials another worker already drew (a fixed seed per
    worker would repeat them), and a study run again from scratch draws the
    same trials in the same order.
    """
    import optuna

    class TrialSeededTPE(optuna.samplers.BaseSampler):
        def __init__(self) -> None:
            self._by_trial: dict[int, optuna.samplers.TPESampler] = {}

        def _for(self, trial) -> optuna.samplers.TPESampler:
            if trial.number not in self._by_trial:
                self._by_trial = {
                    trial.number: optuna.samplers.TPESampler(
                        seed=_trial_seed(config.sampler_seed, trial.number),
                        n_startup_trials=config.n_startup_trials,
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
            # Claimed in the call that creates the trial, before any suggestion:
            # a worker killed from here on leaves a trial a restart can end.
            for key, value in worker.items():
                study._storage.set_trial_user_attr(trial._trial_id, key, value)
            self._for(trial).before_trial(study, trial)

        def after_trial(self, study, trial, state, values) -> None:
            self._for(trial).after_trial(study, trial, state, values)

    return TrialSeededTPE()


def _finished_states():
    import optuna

    state = optuna.trial.TrialState
    return (state.COMPLETE, state.PRUNED, state.FAIL)


def end_dead_workers_trials(study: optuna.Study, trial_runs: TrialRuns) -> list[int]:
    """End the trials that workers now gone left RUNNING: FAILED and KILLED.

    A worker of this host is gone when its process no longer runs: its trial
    ends at once, however recently its heartbeat beat. A worker of another
    host is gone when its heartbeat stopped for the storage's grace period.

    Returns:
        The numbers of the trials ended.
    """
    import optuna

    host = socket.gethostname()
    ended = []
    now = datetime.datetime.now()
    for trial in study.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)
    ):
        attrs = trial.user_attrs
        pid = str(attrs.get("pid", ""))
        if "pid" not in attrs:
            # A worker claims its trial in the call that creates it: a trial
            # still unclaimed after a minute lost its worker in between.
            started = trial.datetime_start or now
            if (now - started).total_seconds() < _UNCLAIMED_AFTER_S:
                continue
            reason = "its worker ended before it claimed the trial"
        elif attrs.get("host") != host or not pid.isdigit():
            continue
        elif process_alive(int(pid), str(attrs.get("pid_start", ""))):
            continue
        else:
            reason = f"worker {pid} on {host} ended without finishing the trial"
        study._storage.set_trial_user_attr(trial._trial_id, "fail_reason", reason)
        study._storage.set_trial_state_values(
            trial._trial_id, optuna.trial.TrialState.FAIL
        )
        trial_runs.end_abandoned(attrs.get("mlflow_run_id", ""), reason)
        ended.append(trial.number)
    # Other hosts' workers: gone once their heartbeat stopped for the grace period.
    running = {
        t.number
        for t in study.get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)
        )
    }
    with warnings.catch_warnings():  # heartbeats are "experimental" since 2.9
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    for trial in study.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.FAIL,)
    ):
        if trial.number in running:
            trial_runs.end_abandoned(
                trial.user_attrs.get("mlflow_run_id", ""),
                "the trial's worker stopped sending heartbeats",
            )
            ended.append(trial.number)
    if ended:
        logger.warning(
            "Study %r: trials %s were left RUNNING by workers that are gone; "
            "marked FAILED (Optuna) and KILLED (MLflow)",
            study.study_name,
            ended,
        )
    return ended


def run_study(  # noqa: PLR0915, PLR0917 (a node: one input each; one objective)
    storage: Any,
    trial_runs: TrialRuns,
    fit: pd.DataFrame,
    validation: pd.DataFrame,
    training: dict[str, Any],
    tuning: dict[str, Any],
    class_names: list[str],
) -> pd.DataFrame:
    """Join the study and run trials until it holds ``n_trials`` finished ones.

    Each trial trains ``tuning.model`` on ``fit`` with the fixed ``training``
    values and the searched ones, reports its validation accuracy per epoch
    (the median pruner stops poor trials early) and is recorded as an MLflow
    run nested under this ``kedro run``'s run.

    Returns:
        Every trial of the study so far, this worker's and the others': study,
        trial number, state, validation accuracy, MLflow run, worker, and one
        ``param.<name>`` column per searched parameter.
    """
    import optuna

    from fashion_mnist.pipelines.evaluation.nodes import evaluate_model
    from fashion_mnist.pipelines.training.nodes import TRAINERS

    config = parse_tuning_params(tuning)
    dimensions = parse_search_space(config.search_space)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pid = os.getpid()
    worker = {"host": socket.gethostname(), "pid": pid, "pid_start": process_start(pid)}
    study = optuna.create_study(
        study_name=config.study_name,
        storage=storage,
        direction="maximize",
        load_if_exists=True,
        sampler=_sampler(config, worker),
        pruner=optuna.pruners.MedianPruner(**config.pruner),
    )
    end_dead_workers_trials(study, trial_runs)

    def objective(trial: optuna.Trial) -> float:
        values = {d.name: d.suggest(trial) for d in dimensions}
        run_id = trial_runs.start(config.study_name, trial.number, values)
        if run_id:
            trial.set_user_attr("mlflow_run_id", run_id)

        def on_epoch(row: dict[str, float]) -> None:
            epoch = int(row["epoch"])
            trial_runs.log_epoch(
                run_id,
                epoch,
                {"val_acc": row["test_acc"], "train_loss": row["train_loss"]},
            )
            if not math.isfinite(row["train_loss"]):
                raise FloatingPointError(
                    f"training diverged at epoch {epoch} (loss {row['train_loss']})"
                )
            trial.report(row["test_acc"], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        params = study_training(training, config, values)
        try:
            model, _ = TRAINERS[config.model](fit, validation, params, on_epoch)
            metrics = evaluate_model(model, fit, validation, class_names)
        except optuna.TrialPruned as exc:
            trial_runs.end(
                run_id, "KILLED", tags={"pruned": "true", "reason": str(exc)}
            )
            raise
        except Exception as exc:
            trial_runs.end(run_id, "FAILED", tags={"error": repr(exc)[:5000]})
            raise
        except KeyboardInterrupt:
            trial_runs.end(run_id, "KILLED", tags={"reason": "interrupted"})
            raise
        except SystemExit:  # SIGTERM: Optuna would leave the trial RUNNING
            trial_runs.end(run_id, "KILLED", tags={"reason": "terminated"})
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        trial_runs.end(
            run_id,
            "FINISHED",
            metrics={
                "final.val_acc": metrics["test_acc"],
                "final.val_loss": metrics["test_loss"],
                "final.train_acc": metrics["train_acc"],
                "final.train_loss": metrics["train_loss"],
            },
        )
        return metrics["test_acc"]

    finished = len(study.get_trials(deepcopy=False, states=_finished_states()))
    remaining = config.n_trials - finished
    if remaining > 0:
        logger.info(
            "Study %r: %d of %d trials finished; this worker runs trials until "
            "the study holds %d",
            config.study_name,
            finished,
            config.n_trials,
            config.n_trials,
        )
        study.optimize(
            objective,
            n_trials=remaining,
            timeout=config.timeout_s,
            catch=(Exception,),
            callbacks=[
                optuna.study.MaxTrialsCallback(
                    config.n_trials, states=_finished_states()
                )
            ],
            gc_after_trial=False,
        )
    else:
        logger.info(
            "Study %r already holds %d finished trials (tuning.n_trials=%d)",
            config.study_name,
            finished,
            config.n_trials,
        )
    return trials_table(study)


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """The study's trials, one row each, in trial order."""
    import pandas as pd

    rows = []
    for trial in study.get_trials(deepcopy=False):
        attrs = trial.user_attrs
        rows.append(
            {
                "study": study.study_name,
                "trial": trial.number,
                "state": trial.state.name,
                "value": trial.value,
                "mlflow_run_id": attrs.get("mlflow_run_id", ""),
                "worker": f"{attrs.get('host', '?')}:{attrs.get('pid', '?')}",
                **{f"param.{k}": v for k, v in sorted(trial.params.items())},
            }
        )
    table = pd.DataFrame(rows)
    return table if rows else pd.DataFrame(columns=TRIAL_COLUMNS)


def best_trial(trials: pd.DataFrame) -> dict[str, Any]:
    """The completed trial with the best validation accuracy (the first, on ties).

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


def study_report(
    trials: pd.DataFrame, tuning: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], Figure]:
    """The study's best trial, its metrics for MLflow and its history figure.

    Returns:
        ``best_trial`` (study, trial, validation accuracy, MLflow run and
        parameters, for the best-parameters YAML), the study's metrics
        (``tuning.trial.val_acc`` and ``tuning.best_val_acc``, step = trial
        number, once the catalog's prefix is applied) and the
        optimisation history figure, titled with the study's name.
    """
    config = parse_tuning_params(tuning)
    best = best_trial(trials)
    if best["study"] != config.study_name:
        raise RuntimeError(
            f"The trials belong to study {best['study']!r}, not to "
            f"tuning.study_name={config.study_name!r}"
        )
    complete = trials[trials["state"] == "COMPLETE"].sort_values("trial")
    running_best = complete["value"].cummax()
    metrics = {
        "trial.val_acc": [
            {"step": int(t), "value": float(v)}
            for t, v in zip(complete["trial"], complete["value"], strict=True)
        ],
        "best_val_acc": [
            {"step": int(t), "value": float(v)}
            for t, v in zip(complete["trial"], running_best, strict=True)
        ],
        "n_trials": [{"step": 0, "value": float(len(trials))}],
    }
    logger.info(
        "Study %r: best trial %d, validation accuracy %.4f, %s",
        best["study"],
        best["trial"],
        best["val_acc"],
        best["params"],
    )
    return best, metrics, _history_figure(trials, best)


def _history_figure(trials: pd.DataFrame, best: dict[str, Any]) -> Figure:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 4), dpi=100)
    ax = figure.subplots()
    for state, style in (("COMPLETE", "o"), ("PRUNED", "x")):
        rows = trials[trials["state"] == state]
        if len(rows):
            ax.plot(rows["trial"], rows["value"], style, label=state.lower(), alpha=0.7)
    complete = trials[trials["state"] == "COMPLETE"].sort_values("trial")
    ax.step(
        complete["trial"], complete["value"].cummax(), where="post", label="best so far"
    )
    ax.set_xlabel("trial")
    ax.set_ylabel("validation accuracy")
    ax.set_title(
        f"study {best['study']}: best trial {best['trial']} "
        f"(validation accuracy {best['val_acc']:.4f})"
    )
    ax.legend(loc="lower right")
    figure.tight_layout()
    return figure


def study_trials(storage: Any, tuning: dict[str, Any]) -> pd.DataFrame:
    """The trials of the study ``tuning.study_name``, once no worker runs one.

    Raises:
        RuntimeError: When the storage holds no such study, or trials of live
            workers are still running (run again once they finish).
    """
    import optuna

    config = parse_tuning_params(tuning)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=config.study_name, storage=storage)
    except KeyError:
        raise RuntimeError(
            f"The Optuna storage holds no study {config.study_name!r}: run "
            "kedro run --pipelines tuning first (or set tuning.study_name)"
        ) from None
    from fashion_mnist.datasets.tuning_datasets import TrialRuns

    end_dead_workers_trials(study, TrialRuns(None))
    running = study.get_trials(
        deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)
    )
    if running:
        raise RuntimeError(
            f"Study {config.study_name!r} still runs trials "
            f"{[t.number for t in running]}: retrain once its workers finish"
        )
    return trials_table(study)


def retrain_best(  # noqa: PLR0917 (a node: one argument per catalog input)
    train: pd.DataFrame,
    test: pd.DataFrame,
    training: dict[str, Any],
    tuning: dict[str, Any],
    best: dict[str, Any],
    class_names: list[str],
) -> dict[str, Any]:
    """Train the best setting on the whole training split; score it once on test.

    Returns:
        The study, best trial, its parameters, validation accuracy (from the
        study) and the retrained model's train and test loss and accuracy.
    """
    from fashion_mnist.pipelines.evaluation.nodes import evaluate_model
    from fashion_mnist.pipelines.training.nodes import TRAINERS

    config = parse_tuning_params(tuning)
    params = study_training(training, config, best["params"])
    model, _ = TRAINERS[config.model](train, test, params)
    metrics = evaluate_model(model, train, test, class_names)
    result = {
        "study": best["study"],
        "trial": best["trial"],
        "model": config.model,
        "params": {**config.fixed, **best["params"]},
        "val_acc": best["val_acc"],
        **{
            k: float(metrics[k])
            for k in ("train_loss", "train_acc", "test_loss", "test_acc")
        },
    }
    logger.info(
        "Study %r, best trial %d %s: validation accuracy %.4f; retrained on the "
        "whole training split: test accuracy %.4f",
        result["study"],
        result["trial"],
        result["params"],
        result["val_acc"],
        result["test_acc"],
    )
    return result


def tuned_parameters(
    training: dict[str, Any], result: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The parameters file for ``kedro run --env tuned``, and the result's metrics.

    Returns:
        ``{"training": ..., "tuned_from": ...}``: the whole ``training`` group
        with the best setting applied to both models (the file replaces the
        group), and where it came from; then the MLflow metrics
        ``tuned.val_acc``, ``tuned.test_acc``, ``tuned.train_acc``,
        ``tuned.train_loss``, ``tuned.test_loss``.
    """
    fixed = {k: v for k, v in training.items() if k not in MODELS}
    parameters = {
        "training": {**fixed, **result["params"], **{m: {} for m in MODELS}},
        "tuned_from": {
            "study": result["study"],
            "trial": result["trial"],
            "val_acc": round(result["val_acc"], 6),
            "test_acc": round(result["test_acc"], 6),
        },
    }
    metrics = {
        k: [{"step": 0, "value": float(result[k])}]
        for k in ("val_acc", "test_acc", "train_acc", "train_loss", "test_loss")
    }
    logger.info(
        "Parameters for kedro run --env tuned written (study %r, trial %d)",
        result["study"],
        result["trial"],
    )
    return parameters, metrics
