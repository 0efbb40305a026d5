"""Optuna hyperparameter sweep over the training parameters, one MLflow run per trial.

Usage::

    python -m fashion_mnist.sweep [--model concise] [--n-trials 40] [--storage URL]

Every worker started with the same ``--storage`` and study name joins the same
study (Optuna's RDB storage: SQLite for one machine, PostgreSQL for many).
Trials call the project's own training and evaluation functions on the tables
from the Kedro catalog; nothing of the training code is copied here.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import matplotlib

matplotlib.use("Agg")  # a script, not a node: Optuna's plots use pyplot

import mlflow
import optuna
import pandas as pd
import sqlalchemy.exc
import yaml
from kedro.framework.session import KedroSession
from kedro.framework.startup import bootstrap_project
from matplotlib import pyplot as plt
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fashion_mnist.pipelines.evaluation.nodes import evaluate_model
from fashion_mnist.pipelines.training.nodes import (
    Hyperparameters,
    resolve_hyperparameters,
    split_validation,
    train_concise,
    train_scratch,
)

logger = logging.getLogger(__name__)

TRAINERS: dict[str, Callable] = {"scratch": train_scratch, "concise": train_concise}
# A trial that counts towards n_trials, whichever way it ended.
FINISHED_STATES = (
    optuna.trial.TrialState.COMPLETE,
    optuna.trial.TrialState.PRUNED,
    optuna.trial.TrialState.FAIL,
)
SEARCHABLE = sorted(set(Hyperparameters.model_fields) - {"seed", "device"})


class SweepError(ValueError):
    """The sweep's configuration cannot work; raised before any trial starts."""


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


def parse_search_space(space: dict[str, dict[str, Any]]) -> list[Dimension]:
    """Check the search space and turn it into dimensions.

    Args:
        space: ``{parameter: {type: float|int, low, high, log} | {type:
            categorical, choices}}``.

    Returns:
        One :class:`Dimension` per entry.

    Raises:
        SweepError: Naming the entry, for an entry that is not a mapping, an
            unknown parameter or type, a bound that is not a number, an empty
            range (``low >= high``, no choices), a log range that is not
            positive, or a value that training would reject.
    """
    if not space:
        raise SweepError(
            "sweep.search_space is empty: name at least one training parameter"
        )
    dimensions = []
    for name, spec in space.items():
        where = f"sweep.search_space.{name}"
        if name not in SEARCHABLE:
            raise SweepError(
                f"{where}: unknown parameter; searchable ones are {SEARCHABLE}"
            )
        if not isinstance(spec, dict):
            raise SweepError(
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
            raise SweepError(
                f"{where}: type must be float, int or categorical, got {kind!r}"
            )
        for value in samples:
            try:
                Hyperparameters.model_validate({name: value})
            except ValidationError as exc:
                message = exc.errors()[0]["msg"]
                raise SweepError(
                    f"{where}: value {value!r} is invalid: {message}"
                ) from None
        dimensions.append(dimension)
    return dimensions


def _bound(spec: dict[str, Any], key: str, where: str) -> float | int | None:
    """``spec[key]`` when it is a number (or absent); a clear error otherwise."""
    value = spec.get(key)
    if value is not None and (
        isinstance(value, bool) or not isinstance(value, int | float)
    ):
        raise SweepError(f"{where}.{key} = {value!r}: must be a number")
    return value


def _range_dimension(
    name: str, kind: Literal["float", "int"], spec: dict[str, Any], where: str
) -> Dimension:
    """A float or int dimension from ``low``, ``high`` and ``log``."""
    low, high = _bound(spec, "low", where), _bound(spec, "high", where)
    log = bool(spec.get("log", False))
    if low is None or high is None or not low < high:
        raise SweepError(
            f"{where}: empty range low={low}, high={high}; need low < high"
        )
    if log and low <= 0:
        raise SweepError(f"{where}: a log range needs low > 0, got low={low}")
    return Dimension(name, kind, float(low), float(high), log)


def _categorical_dimension(name: str, spec: dict[str, Any], where: str) -> Dimension:
    """A categorical dimension from its non-empty list of ``choices``."""
    choices = spec.get("choices") or ()
    if not isinstance(choices, list | tuple):
        raise SweepError(f"{where}.choices = {choices!r}: must be a list of values")
    if not choices:
        raise SweepError(f"{where}: no choices")
    return Dimension(name, "categorical", choices=tuple(choices))


class SweepConfig(BaseModel):
    """The ``sweep`` parameter group (``conf/base/parameters_sweep.yml``)."""

    model_config = ConfigDict(extra="forbid")

    model: Literal["scratch", "concise"] = "scratch"
    study_name: str = "fashion_mnist_softmax"
    storage: str = "sqlite:///optuna.db"
    n_trials: int = Field(24, ge=1)
    timeout_s: float | None = Field(None, gt=0)
    sampler_seed: int = 0
    worker: int = Field(0, ge=0)
    validation: dict[str, int] = {"size": 10000, "seed": 0}
    pruner: dict[str, int] = {"n_startup_trials": 5, "n_warmup_steps": 3}
    output_dir: str = "data/08_reporting/sweep"
    search_space: dict[str, dict[str, Any]]


def _with_retries(action: Callable[[], Any], attempts: int = 4) -> Any:
    """Run ``action``, again after a pause when a concurrent worker got in its way.

    Workers that start together race to create the same tables, study or
    experiment; the loser sees an integrity or "already exists" error and
    succeeds on the next try. A storage that cannot be reached fails at once.
    """
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.ArgumentError):
            raise
        except Exception:
            if attempt == attempts:
                raise
            time.sleep(0.5 * attempt)
    return None


def open_study(config: SweepConfig) -> optuna.Study:
    """Create the study, or join it when another worker already did.

    Raises:
        SweepError: When the storage cannot be reached, naming its URL.
    """

    def create() -> optuna.Study:
        return optuna.create_study(
            study_name=config.study_name,
            storage=optuna.storages.RDBStorage(config.storage, heartbeat_interval=60),
            direction="maximize",
            load_if_exists=True,
            # Each worker its own seed, or they would all propose the same trials;
            # the constant liar keeps concurrent workers away from running trials.
            sampler=optuna.samplers.TPESampler(
                seed=config.sampler_seed + config.worker, constant_liar=True
            ),
            pruner=optuna.pruners.MedianPruner(**config.pruner),
        )

    try:
        return _with_retries(create)
    except Exception as exc:  # SQLAlchemy raises many types; all mean "cannot open it"
        raise SweepError(
            f"cannot open the Optuna storage {config.storage!r}: {exc}. Check the URL "
            "(sweep.storage or OPTUNA_STORAGE) and that the database is reachable."
        ) from None


def _parent_run(client: MlflowClient, experiment_id: str, config: SweepConfig) -> str:
    """The study's one parent run, shared by every worker of the running study.

    A worker joins the parent that is still RUNNING for this study name (a
    finished one belongs to an earlier sweep). Workers that start together each
    create a candidate, then all agree on the earliest and the others delete
    theirs, so concurrent workers nest their trials under one run.
    """
    query = (
        f"tags.`optuna.study` = '{config.study_name}' and tags.`sweep.role` = 'parent' "
        "and attributes.status = 'RUNNING'"
    )
    existing = client.search_runs(
        [experiment_id], query, order_by=["attributes.start_time ASC"]
    )
    if existing:
        return existing[0].info.run_id
    mine = client.create_run(
        experiment_id,
        run_name=f"sweep {config.study_name} ({config.model})",
        tags={
            "optuna.study": config.study_name,
            "sweep.role": "parent",
            "sweep.model": config.model,
        },
    ).info.run_id
    candidates = client.search_runs([experiment_id], query)
    canonical = min(
        candidates, key=lambda r: (r.info.start_time, r.info.run_id)
    ).info.run_id
    if canonical != mine:
        client.delete_run(mine)
    return canonical


@dataclass
class SweepResult:
    """What a worker leaves behind once the study is complete."""

    best_params: dict[str, Any]
    best_val_acc: float
    test_acc: float
    parent_run_id: str
    best_params_path: Path


class Sweep:
    """One worker of a study: trials on a validation split, then the final test."""

    def __init__(
        self,
        config: SweepConfig,
        *,
        train: pd.DataFrame,
        test: pd.DataFrame,
        training: dict[str, Any],
        class_names: list[str],
        experiment_name: str = "fashion_mnist",
    ) -> None:
        self.config = config
        self.dimensions = parse_search_space(config.search_space)
        resolve_hyperparameters(
            training, config.model
        )  # the fixed values must be valid too
        self.training = {
            k: v for k, v in training.items() if k not in ("scratch", "concise")
        }
        self.train, self.test, self.class_names = train, test, class_names
        self.fit, self.validation = split_validation(
            train, config.validation["size"], config.validation["seed"]
        )
        self.study = open_study(config)
        self.client = MlflowClient()
        experiment = _with_retries(lambda: mlflow.set_experiment(experiment_name))
        self.experiment_id = experiment.experiment_id
        self.parent_run_id = _parent_run(self.client, self.experiment_id, config)

    def _training_params(self, values: dict[str, Any]) -> dict[str, Any]:
        return {**self.training, **values, "scratch": {}, "concise": {}}

    def objective(self, trial: optuna.Trial) -> float:
        values = {d.name: d.suggest(trial) for d in self.dimensions}
        run_id = self.client.create_run(
            self.experiment_id,
            run_name=f"trial {trial.number}",
            tags={
                "mlflow.parentRunId": self.parent_run_id,
                "optuna.study": self.config.study_name,
                "optuna.trial_number": str(trial.number),
                "sweep.role": "trial",
            },
        ).info.run_id
        trial.set_user_attr("mlflow_run_id", run_id)
        self.client.log_batch(
            run_id, params=[Param(f"training.{k}", str(v)) for k, v in values.items()]
        )

        def on_epoch(row: dict[str, float]) -> None:
            now = int(time.time() * 1000)
            epoch = int(row["epoch"])
            self.client.log_batch(
                run_id,
                metrics=[
                    Metric("val_acc", row["test_acc"], now, epoch),
                    Metric("train_loss", row["train_loss"], now, epoch),
                ],
            )
            if not math.isfinite(row["train_loss"]):
                raise FloatingPointError(
                    f"training diverged at epoch {epoch} (loss {row['train_loss']})"
                )
            trial.report(row["test_acc"], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {epoch}")

        try:
            model, _ = TRAINERS[self.config.model](
                self.fit,
                self.validation,
                self._training_params(values),
                on_epoch=on_epoch,
            )
            metrics = evaluate_model(model, self.fit, self.validation, self.class_names)
        except optuna.TrialPruned as exc:
            self.client.log_batch(
                run_id,
                tags=[RunTag("pruned", "true"), RunTag("pruned_reason", str(exc))],
            )
            self.client.set_terminated(run_id, "KILLED")
            raise
        except Exception as exc:
            self.client.log_batch(
                run_id,
                tags=[RunTag("pruned", "false"), RunTag("error", repr(exc)[:5000])],
            )
            self.client.set_terminated(run_id, "FAILED")
            raise
        now = int(time.time() * 1000)
        self.client.log_batch(
            run_id,
            metrics=[
                Metric("final.val_acc", metrics["test_acc"], now, 0),
                Metric("final.val_loss", metrics["test_loss"], now, 0),
                Metric("final.train_acc", metrics["train_acc"], now, 0),
                Metric("final.train_loss", metrics["train_loss"], now, 0),
            ],
            tags=[RunTag("pruned", "false")],
        )
        self.client.set_terminated(run_id, "FINISHED")
        return metrics["test_acc"]

    def _finished(self) -> int:
        return len(self.study.get_trials(deepcopy=False, states=FINISHED_STATES))

    def optimize(self) -> None:
        """Run trials until the study holds ``n_trials`` finished ones (or time runs out)."""
        optuna.storages.fail_stale_trials(self.study)  # trials of workers that died
        remaining = self.config.n_trials - self._finished()
        if remaining <= 0:
            return
        self.study.optimize(
            self.objective,
            n_trials=remaining,
            timeout=self.config.timeout_s,
            catch=(Exception,),
            callbacks=[
                optuna.study.MaxTrialsCallback(
                    self.config.n_trials, states=FINISHED_STATES
                )
            ],
            gc_after_trial=False,
        )

    def finish(self) -> SweepResult | None:
        """Retrain the best setting on the whole training split; score it once on test.

        Returns:
            The result, or ``None`` when trials of other workers are still
            running (the last worker to finish does this step).

        Raises:
            SweepError: When no trial of the study completed.
        """
        if self.study.get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)
        ):
            logger.info(
                "Other workers still run trials; the last one to finish reports the study"
            )
            return None
        completed = self.study.get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)
        )
        if not completed:
            self.client.set_terminated(self.parent_run_id, "FAILED")
            raise SweepError(
                f"no trial of study {self.config.study_name!r} completed; see the failed "
                "trials' 'error' tags in MLflow"
            )
        best = self.study.best_trial
        model, _ = TRAINERS[self.config.model](
            self.train, self.test, self._training_params(best.params)
        )
        test_acc = evaluate_model(model, self.train, self.test, self.class_names)[
            "test_acc"
        ]
        output = Path(self.config.output_dir)
        output.mkdir(parents=True, exist_ok=True)
        best_params_path = output / "best_params.yml"
        partial = best_params_path.with_name(
            f".{best_params_path.name}.{os.getpid()}.part"
        )
        partial.write_text(
            "# Best setting of the Optuna study "
            f"{self.config.study_name!r} (validation accuracy {best.value:.4f}, "
            f"test accuracy {test_acc:.4f}).\n"
            "# Use it: mkdir -p conf/tuned && cp this file conf/tuned/parameters_training.yml"
            " && kedro run --env tuned\n"
            + yaml.safe_dump({"training": dict(best.params)}, sort_keys=True)
        )
        partial.replace(best_params_path)  # two workers finishing together never mix
        figures = self._figures(output)
        run = self.parent_run_id
        self.client.log_batch(
            run,
            params=[
                Param(f"best.training.{k}", str(v)) for k, v in best.params.items()
            ],
            metrics=[
                Metric("best_val_acc", best.value, int(time.time() * 1000), 0),
                Metric("final_test_acc", test_acc, int(time.time() * 1000), 0),
            ],
            tags=[RunTag("best_trial_number", str(best.number))],
        )
        for path in [best_params_path, *figures]:
            self.client.log_artifact(run, str(path))
        self.client.set_terminated(run, "FINISHED")
        logger.info(
            "Best trial %d: %s, validation accuracy %.4f; retrained on the full training "
            "split: test accuracy %.4f. Written to %s",
            best.number, best.params, best.value, test_acc, best_params_path,
        )  # fmt: skip
        return SweepResult(
            dict(best.params), best.value, test_acc, run, best_params_path
        )

    def _figures(self, output: Path) -> list[Path]:
        paths = []
        plots = {
            "optimization_history": optuna.visualization.matplotlib.plot_optimization_history
        }
        completed = self.study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
        if len(completed) >= 2 and len(self.dimensions) >= 2:
            plots["param_importances"] = (
                optuna.visualization.matplotlib.plot_param_importances
            )
        for name, plot in plots.items():
            ax = plot(self.study)
            path = output / f"{name}.png"
            ax.figure.savefig(path, dpi=100, bbox_inches="tight")
            plt.close(ax.figure)
            paths.append(path)
        return paths


def load_project_inputs(project_path: Path, env: str | None) -> dict[str, Any]:
    """Read the tables and parameters through a KedroSession, running ingestion if needed."""
    bootstrap_project(project_path)
    with KedroSession.create(project_path=project_path, env=env) as session:
        catalog = session.load_context().catalog
        if not catalog.exists("fashion_mnist_train") or not catalog.exists(
            "fashion_mnist_test"
        ):
            logger.info("No flattened tables yet: running the ingestion pipeline first")
            session.run(pipeline_names=["ingestion"])
    with KedroSession.create(project_path=project_path, env=env) as session:
        context = session.load_context()
        return {
            "train": context.catalog.load("fashion_mnist_train"),
            "test": context.catalog.load("fashion_mnist_test"),
            "params": context.params,
            "experiment": context.mlflow.tracking.experiment.name,
        }


def main(argv: list[str] | None = None) -> SweepResult | None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--project", type=Path, default=Path.cwd(), help="Kedro project folder"
    )
    parser.add_argument("--env", default=None, help="Kedro environment")
    parser.add_argument("--model", choices=sorted(TRAINERS))
    parser.add_argument("--n-trials", type=int)
    parser.add_argument("--timeout-s", type=float)
    parser.add_argument("--storage", help="Optuna RDB storage URL")
    parser.add_argument("--study-name")
    parser.add_argument(
        "--worker",
        type=int,
        help="this worker's number (0, 1, …): seeds its sampler apart",
    )
    args = parser.parse_args(argv)
    # Relative paths in conf (optuna.db, mlflow.db, data/) are the project's.
    os.chdir(args.project.resolve())
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    inputs = load_project_inputs(args.project.resolve(), args.env)
    overrides = {
        key: value
        for key, value in {
            "model": args.model,
            "n_trials": args.n_trials,
            "timeout_s": args.timeout_s,
            "storage": args.storage,
            "study_name": args.study_name,
            "worker": args.worker,
        }.items()
        if value is not None
    }
    try:
        config = SweepConfig.model_validate({**inputs["params"]["sweep"], **overrides})
    except ValidationError as exc:
        raise SweepError(f"invalid sweep parameters: {exc}") from None
    sweep = Sweep(
        config,
        train=inputs["train"],
        test=inputs["test"],
        training=inputs["params"]["training"],
        class_names=inputs["params"]["class_names"],
        experiment_name=inputs["experiment"],
    )
    sweep.optimize()
    return sweep.finish()


if __name__ == "__main__":
    main()
