"""The tuning worker's loop on synthetic tables: progress, what trials see, faults.

The progress lines and what each trial trains on are read in this process;
a tracking server lost in a trial and Ctrl-C inside a trial's store write are
real `kedro run --pipelines tuning` processes, each stopped at an explicit
event (a request held by a relay, a statement logged by the store).
"""

import logging
import re
import signal
import sqlite3

import optuna
import pytest
import yaml
from mlflow import MlflowClient

import fashion_mnist.softmax
from fashion_mnist.study import best_trial
from fashion_mnist.tracking.outage import KEPT_ENDS
from fashion_mnist.tracking.processes import END_REASON
from tests.pipelines.tuning.small_study import (
    run_small_study,
    small_tuning,
)
from tests.support.processes import wait_for_log
from tests.support.project import ProjectCopy
from tests.support.relay import Relay
from tests.support.runs import client_for, finish, start_kedro, wait_for_text

PASSWORD = "s3cr3tpw"
# The writes and transaction ends SQLAlchemy's echo logs (first word of each).
WRITE_OR_END = re.compile(
    r"^\S+ [\d:,]+ INFO sqlalchemy\.engine\.Engine (INSERT|UPDATE|DELETE|COMMIT|ROLLBACK)\b",
    re.MULTILINE,
)


def test_each_trial_logs_one_line_with_its_score_the_best_so_far_and_the_trials_left(
    storage, splits, caplog
):
    caplog.set_level(logging.INFO, logger="fashion_mnist")

    trials = run_small_study(storage, splits, n_trials=3)

    lines = [r.getMessage() for r in caplog.records if " trial " in r.getMessage()]
    ended = [line for line in lines if re.search(r"trial \d (finished|pruned)", line)]
    best = best_trial(trials)
    assert len(ended) == 3
    assert re.fullmatch(
        r"Study 'test-study': trial 0 finished: val acc [01]\.\d{4}, best so far "
        r"[01]\.\d{4} \(trial 0\), 1 of 3, about \d+ s left",
        ended[0],
    )
    assert ended[-1].endswith(
        f"best so far {best['val_acc']:.4f} (trial {best['trial']}), 3 of 3"
    )


def test_a_worker_logs_its_expected_duration_before_its_first_trial_then_refines_it(
    storage, splits, caplog
):
    fit, _ = splits
    caplog.set_level(logging.INFO, logger="fashion_mnist")

    run_small_study(storage, splits, n_trials=2)

    messages = [r.getMessage() for r in caplog.records]
    (before,) = [m for m in messages if "timed before the first trial" in m]
    (after,) = [m for m in messages if "now expect about" in m]
    # SMALL_SPACE searches num_epochs from 2 to 4: 4 epochs a trial at most.
    found = re.match(
        r"Study 'test-study': expect about (\d+) s for 2 trials of up to 4 epochs "
        rf"\(timed before the first trial, on the {len(fit)} fit images at batch size "
        r"32: (\d+\.\d\d) s an epoch, (\d+\.\d\d) s a trial's setting up; without "
        r"the per-epoch MLflow and Optuna writes",
        before,
    )
    assert found, before
    total, epoch, setup = (float(g) for g in found.groups())
    assert total == pytest.approx((setup + 4 * epoch) * 2, abs=0.5 + 0.005 * 10)
    assert re.match(
        r"Study 'test-study': now expect about \d+ s for 2 trials of up to 4 epochs "
        r"\(this worker's first trial: \d+\.\d\d s to its first epoch's end, "
        r"setting up included, then \d+\.\d\d s an epoch, MLflow and Optuna writes "
        r"included",
        after,
    )
    epochs = [m for m in messages if re.match(r"scratch: epoch \d", m)]
    # The timed epochs are no trial's: every epoch line is a trial's.
    assert sum(m.startswith("scratch: epoch 1/") for m in epochs) == 2
    assert all(" val acc " in m and "test acc" not in m for m in epochs)
    started = messages.index("Study 'test-study': trial 0 started (MLflow run None)")
    assert messages.index(before) < started < messages.index(epochs[0])
    # Refined after the first trial's second epoch (SMALL_SPACE: 2 epochs at least).
    assert messages.index(epochs[1]) < messages.index(after) < messages.index(epochs[2])


def test_a_worker_claims_its_trial_before_the_trial_suggests_anything(
    storage, splits, monkeypatch
):
    claims = []
    original = fashion_mnist.softmax.TRAINERS["scratch"]

    def recording(train, test, hyper, on_epoch=None):
        study = optuna.load_study(study_name="test-study", storage=storage)
        if study.trials:  # a trial's, not the epochs timed before the first
            claims.append(study.trials[-1].user_attrs)
        return original(train, test, hyper, on_epoch)

    monkeypatch.setitem(fashion_mnist.softmax.TRAINERS, "scratch", recording)

    run_small_study(storage, splits, n_trials=1)

    (attrs,) = claims
    assert {"host", "pid", "pid_start"} <= set(attrs)


def test_trials_train_on_the_fit_split_and_are_scored_on_the_validation_split(
    storage, splits, monkeypatch
):
    fit, validation = splits
    seen = []
    original = fashion_mnist.softmax.TRAINERS["scratch"]

    def recording(train, test, hyper, on_epoch=None):
        seen.append((len(train), len(test)))
        return original(train, test, hyper, on_epoch)

    monkeypatch.setitem(fashion_mnist.softmax.TRAINERS, "scratch", recording)

    run_small_study(storage, splits, n_trials=2)

    # The epochs timed before the first trial, then each trial: all on the fit split.
    assert seen == [(len(fit), len(validation))] * 3


def _blocked_write(output: str) -> bool:
    """Whether the store's last logged transaction has a write and no end yet.

    While the test holds the store's write lock, such a write waits for it:
    the process is inside a store write (see :mod:`fashion_mnist.pipelines.tuning.signals`).
    A statement is logged before it runs, so the write may have been logged
    before the lock was taken, or after.
    """
    statements = WRITE_OR_END.findall(output)
    return bool(statements) and statements[-1] not in {"COMMIT", "ROLLBACK"}


def _tuning_project(
    source, target, study: str, n_trials: int, epochs: int = 2
) -> ProjectCopy:
    """A copy of ``source`` whose study runs ``n_trials`` trials of ``epochs`` or one more."""
    project = source.copy(target, layers=("01_raw", "03_primary"), store=True)
    tuning = small_tuning(study_name=study, n_trials=n_trials).model_dump()
    tuning["fixed"] = {"batch_size": 32}
    tuning["search_space"]["num_epochs"] = {
        "type": "int",
        "low": epochs,
        "high": epochs + 1,
    }
    (project.path / "conf/local/parameters_tuning.yml").write_text(
        yaml.safe_dump({"tuning": tuning})
    )
    return project


@pytest.mark.slow
def test_a_tracking_server_lost_in_a_trial_stops_the_worker_and_the_next_run_ends_every_run_failed(
    synthetic_run, tracking_server, tmp_path
):
    project = _tuning_project(synthetic_run, tmp_path / "project", "lost", 3)
    relay = Relay(tracking_server)
    uri = f"http://alice:{PASSWORD}@127.0.0.1:{relay.port}"
    # Trial 0's first per-epoch write waits in the relay; the server dies under it.
    first_epoch = relay.hold("POST", "/api/2.0/mlflow/runs/log-batch", body="val_acc")
    try:
        process, log = start_kedro(
            project.path,
            "run",
            "--pipelines",
            "tuning",
            env={"MLFLOW_TRACKING_URI": uri},
        )
        first_epoch.wait(timeout=300)
        relay.cut()
        code, output = finish(process, log, timeout=300)
    finally:
        relay.cut()
    (kept,) = (project.path / KEPT_ENDS).glob("*.json")
    study = optuna.load_study(
        study_name="lost", storage=f"sqlite:///{project.path / 'optuna.db'}"
    )
    client = MlflowClient(tracking_server)
    (trial_run_id,) = [t.user_attrs["mlflow_run_id"] for t in study.trials]
    while_lost = [client.get_run(i).info.status for i in (kept.stem, trial_run_id)]

    project.run(
        pipeline_names=["ingestion"], env={"MLFLOW_TRACKING_URI": tracking_server}
    )

    worker, trial_run = (client.get_run(i) for i in (kept.stem, trial_run_id))
    assert code != 0
    errors = [line for line in output.splitlines() if line.startswith("Error: ")]
    assert errors == [
        f"Error: The MLflow tracking server http://alice:***@127.0.0.1:{relay.port} "
        "stopped answering during the run ([Errno 111] Connection refused); the run "
        "stopped at its first failed request, and the next run that reaches the "
        f"server ends run {kept.stem} FAILED with this reason (kept in {kept})."
    ], output[-4000:]
    assert "Traceback" not in output
    assert PASSWORD not in output
    assert [p for p in project.path.rglob("*") if p.is_file() and PASSWORD.encode()
            in p.read_bytes()] == []  # fmt: skip
    # The worker stopped at once: one trial, ended FAIL in Optuna, none RUNNING.
    (trial,) = study.trials
    assert trial.state.name == "FAIL"
    assert trial.user_attrs["fail_reason"] == (
        "the MLflow tracking server stopped answering ([Errno 111] Connection refused)"
    )
    assert while_lost == ["RUNNING", "RUNNING"]
    reason = (
        "the MLflow tracking server stopped answering during the run "
        "([Errno 111] Connection refused)"
    )
    assert worker.info.status == "FAILED"
    assert worker.data.tags[END_REASON].startswith(f"{reason}; recorded by run ")
    assert trial_run.info.status == "FAILED"
    assert trial_run.data.tags["mlflow.parentRunId"] == kept.stem
    assert trial_run.data.tags[END_REASON].startswith(
        f"{reason} (its parent run {kept.stem}); recorded by run "
    )
    assert trial_run.info.end_time == worker.info.end_time
    assert not kept.exists()
    # The expected duration came before trial 0's first epoch.
    lines = output.splitlines()
    before = next(i for i, t in enumerate(lines) if "timed before the first" in t)
    assert before < next(i for i, t in enumerate(lines) if "scratch: epoch 1/" in t)


@pytest.mark.slow
def test_ctrl_c_during_a_trials_epoch_write_ends_the_trial_failed_and_its_run_killed(
    synthetic_run, tmp_path
):
    project = _tuning_project(synthetic_run, tmp_path / "project", "ctrl-c", 3, 1000)
    # SQLAlchemy logs each statement of the MLflow store before running it.
    echo = {"MLFLOW_SQLALCHEMYSTORE_ECHO": "true"}
    process, log = start_kedro(project.path, "run", "--pipelines", "tuning", env=echo)
    wait_for_text(log, "scratch: epoch 2/", process)
    store = sqlite3.connect(project.path / "mlflow.db", isolation_level=None)
    try:
        # From now on every write to the MLflow store waits for the lock (a
        # reserved one: an exclusive one can deadlock a write begun with a
        # read, which then fails at once); the next one is a trial's per-epoch
        # write, and it waits less than the store's busy timeout (20 s).
        store.execute("BEGIN IMMEDIATE")
        wait_for_log(log, _blocked_write, process, "a write waiting for the lock")
        process.send_signal(signal.SIGINT)
    finally:
        store.execute("ROLLBACK")
        store.close()
    code, output = finish(process, log, timeout=300)
    study = optuna.load_study(
        study_name="ctrl-c", storage=f"sqlite:///{project.path / 'optuna.db'}"
    )
    client = client_for(project.path)

    # Ctrl-C stopped the worker in its first trial, which ended FAIL.
    assert [t.state.name for t in study.trials] == ["FAIL"]
    trial_run = client.get_run(study.trials[0].user_attrs["mlflow_run_id"])
    worker = client.get_run(trial_run.data.tags["mlflow.parentRunId"])
    assert code != 0
    assert "SIGINT received during a store write: stopping once it is done" in output
    assert "SIGINT received: stopping; the MLflow run" in output
    assert trial_run.info.status == "KILLED", (trial_run.data.tags, output[-3000:])
    assert trial_run.data.tags["reason"] == "interrupted"
    assert worker.info.status == "KILLED"
