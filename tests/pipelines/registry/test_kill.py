"""`kill -9` in the middle of a registration, on real processes and a real tracking server.

A `kedro run` process of the synthetic project registers its two models on
the session's `mlflow server`, reached through a relay, under registered
model names of the test's own (the catalog's ``prefix``), so the registry
starts empty for it. The relay holds the request that registers the second
model; the test kills the process there, drops that request, and runs the
next run (in this process), which must find the half registration and mark it.
A registration that dies between the alias moves (marked ``complete``, its
alias moved) is checked in process: tests/datasets/test_registry_dataset.py
and tests/pipelines/registry/test_pipeline.py.
"""

from __future__ import annotations

import logging
import signal
import uuid

import pytest
import yaml
from mlflow import MlflowClient

from fashion_mnist.params import MODELS
from fashion_mnist.tracking.processes import PID
from tests.support.processes import stop
from tests.support.relay import Relay
from tests.support.runs import (
    artifacts,
    logged_models,
    runs_of_this_process,
    start_kedro,
)

pytestmark = pytest.mark.slow

CREATE_VERSION = "/api/2.0/mlflow/model-versions/create"
REGISTRY_LOG = "fashion_mnist.datasets.registry_dataset"
# Enough for the gate on the synthetic images: registration is the point, not training.
EPOCHS = ("--params", "training.num_epochs=3")


def _own_registry(project) -> tuple[str, str]:
    """Point the copy's registry entries at names no other test uses; return its two names."""
    prefix = f"kill_{uuid.uuid4().hex[:8]}_fashion_mnist_"
    conf = project.path / "conf"
    base = yaml.safe_load((conf / "base" / "catalog.yml").read_text())
    local = yaml.safe_load((conf / "local" / "catalog.yml").read_text())
    for entry in ("registered_models", "registry_champions"):
        local[entry] = {**base[entry], "prefix": prefix}
    (conf / "local" / "catalog.yml").write_text(yaml.safe_dump(local))
    first, second = (f"{prefix}{model}" for model in MODELS)
    return first, second


class _Said(logging.Handler):
    """What the registry dataset logs during the next run."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _versions(client: MlflowClient, name: str) -> list:
    return sorted(
        client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version)
    )


def _champion(client: MlflowClient, name: str) -> str | None:
    """The version the champion alias points at, or None."""
    aliases = client.get_registered_model(name).aliases
    return aliases.get("champion")


def _killed_at(project, relay: Relay, held) -> tuple[int, int]:
    """`kedro run` through ``relay``, killed once ``held`` holds a request; its pid, status."""
    process, _ = start_kedro(
        project.path, "run", *EPOCHS, env={"MLFLOW_TRACKING_URI": relay.url}
    )
    try:
        held.wait(timeout=600)
        process.send_signal(signal.SIGKILL)
        return process.pid, process.wait(timeout=60)
    finally:
        relay.cut()  # the held request never reaches the server
        stop(process)


def _next_run(project, tracking_server: str) -> list[str]:
    """Run the copy again in this process; return what the registry dataset said."""
    said = _Said()
    logging.getLogger(REGISTRY_LOG).addHandler(said)
    try:
        project.run(
            runtime_params={"training": {"num_epochs": 3}},
            env={"MLFLOW_TRACKING_URI": tracking_server},
        )
    finally:
        logging.getLogger(REGISTRY_LOG).removeHandler(said)
    return said.lines


def test_a_run_killed_between_two_registrations_is_marked_and_repaired_by_the_next_run(
    tmp_path, synthetic_run, tracking_server
):
    project = synthetic_run.copy(tmp_path / "project", ("01_raw", "03_primary"))
    first, second = _own_registry(project)
    relay = Relay(tracking_server)
    held = relay.hold("POST", CREATE_VERSION, body=f'"{second}"')
    pid, killed_rc = _killed_at(project, relay, held)
    client = MlflowClient(tracking_server)
    (half,) = _versions(client, first)
    killed = client.get_run(half.run_id)
    left = {
        "first": (half.tags["registration"], _champion(client, first)),
        "second": _versions(client, second),
    }

    said = _next_run(project, tracking_server)

    assert killed_rc == -signal.SIGKILL
    assert [str(r) for r in held.requests] == [f"POST {CREATE_VERSION}"]
    # What the kill left: the first model's version pending and no champion
    # (every version is registered before any alias moves); the second, nothing.
    assert killed.info.status == "RUNNING"
    assert killed.data.tags[PID] == str(pid)
    assert half.tags["registered_with"] == ",".join(sorted(MODELS))
    assert left == {"first": ("pending", None), "second": []}
    # The run after it, in this process (the session's server holds other tests' runs).
    (after,) = runs_of_this_process(client, killed.info.start_time + 1)
    killed = client.get_run(killed.info.run_id)
    assert killed.info.status == "KILLED"
    assert killed.data.tags["fashion_mnist.end_reason"] == (
        f"process {pid} on {killed.data.tags['fashion_mnist.host']} ended "
        f"without closing the run (killed, e.g. kill -9); found by run "
        f"{after.info.run_id}"
    )
    assert after.info.status == "FINISHED"
    # The half registration, marked by the next run, nothing lost.
    note = (
        f"registration by run {killed.info.run_id} left unfinished (its run ended "
        "KILLED); it never became champion"
    )
    marked = client.get_model_version(first, half.version)
    assert marked.tags["registration"] == "abandoned"
    assert marked.tags["registration_note"] == note
    assert marked.source == half.source
    assert f"{first} version {half.version}: {note}" in said
    assert {m.name: str(m.status) for m in logged_models(client, killed).values()} == {
        f"{model}_model": "READY" for model in MODELS
    }
    assert {f"{model}.final.test_acc" for model in MODELS} <= set(killed.data.metrics)
    assert "model_comparison.csv" in artifacts(client, killed.info.run_id)
    # The next run registered both models whole, and they became champions.
    for name in (first, second):
        (latest,) = [
            v for v in _versions(client, name) if v.run_id == after.info.run_id
        ]
        assert latest.tags["registration"] == "complete"
        assert _champion(client, name) == latest.version
