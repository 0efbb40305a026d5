"""`kill -9` in the middle of a registration, on real processes and a real tracking server.

A `kedro run` process of the synthetic project registers its two models on
the session's `mlflow server`, reached through a relay, under registered
model names of the test's own (the catalog's ``prefix``), so the registry
starts empty for it. The relay holds the request that registers the second
model; the test kills the process there, drops that request, and runs the
next run (in this process), which must find the half registration and mark it.
"""

from __future__ import annotations

import logging
import os
import signal
import uuid
from dataclasses import dataclass

import pytest
import yaml
from mlflow import MlflowClient

from fashion_mnist.params import MODELS
from fashion_mnist.tracking.processes import PID
from tests.support.processes import stop
from tests.support.relay import Relay
from tests.support.runs import artifacts, logged_models, start_kedro

pytestmark = pytest.mark.slow

CREATE_VERSION = "/api/2.0/mlflow/model-versions/create"
SET_ALIAS = "/api/2.0/mlflow/registered-models/alias"
REGISTRY_LOG = "fashion_mnist.datasets.registry_dataset"


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


@dataclass(frozen=True)
class Kill:
    """Where the registration is killed, and what it leaves of the first model."""

    path: str  # the request of the second model that the relay holds
    first_left: str  # the first model's version: "pending", or "pending, champion"
    first_marked: str  # what the next run marks it
    note: str


KILLS = {
    "before the second version": Kill(
        CREATE_VERSION, "pending", "abandoned", "it never became champion"
    ),
    "before the second alias": Kill(
        SET_ALIAS,
        "pending, champion",
        "complete",
        "its alias had moved: it is the champion",
    ),
}


def _killed_at(project, relay: Relay, held) -> tuple[int, int]:
    """`kedro run` through ``relay``, killed once ``held`` holds a request; its pid, status."""
    process, _ = start_kedro(
        project.path, "run", env={"MLFLOW_TRACKING_URI": relay.url}
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
        project.run(env={"MLFLOW_TRACKING_URI": tracking_server})
    finally:
        logging.getLogger(REGISTRY_LOG).removeHandler(said)
    return said.lines


@pytest.mark.parametrize("kill", KILLS.values(), ids=KILLS.keys())
def test_a_run_killed_between_two_registrations_is_marked_and_repaired_by_the_next_run(
    tmp_path, synthetic_run, tracking_server, kill
):
    project = synthetic_run.copy(tmp_path / "project", ("01_raw", "03_primary"))
    first, second = _own_registry(project)
    relay = Relay(tracking_server)
    held = relay.hold("POST", kill.path, body=f'"{second}"')
    pid, killed_rc = _killed_at(project, relay, held)
    client = MlflowClient(tracking_server)
    (half,) = _versions(client, first)
    killed = client.get_run(half.run_id)
    left = {
        "first": ", ".join(
            [half.tags["registration"]]
            + ["champion"] * (_champion(client, first) == half.version)
        ),
        "second": [
            (v.tags["registration"], _champion(client, second) == v.version)
            for v in _versions(client, second)
        ],
    }

    said = _next_run(project, tracking_server)

    assert killed_rc == -signal.SIGKILL
    assert [str(r) for r in held.requests] == [f"POST {kill.path}"]
    # What the kill left: the first model's version, pending; the second's
    # version (if any) pending and not champion.
    assert killed.info.status == "RUNNING"
    assert killed.data.tags[PID] == str(pid)
    assert half.tags["registered_with"] == ",".join(sorted(MODELS))
    assert left["first"] == kill.first_left
    assert left["second"] == (
        [] if kill.path == CREATE_VERSION else [("pending", False)]
    )
    # The run after it, in this process (the session's server holds other tests' runs).
    (after,) = client.search_runs(
        [killed.info.experiment_id],
        filter_string=f"tags.`{PID}` = '{os.getpid()}' and "
        f"attributes.start_time > {killed.info.start_time}",
    )
    killed = client.get_run(killed.info.run_id)
    assert killed.info.status == "KILLED"
    assert killed.data.tags["fashion_mnist.end_reason"] == (
        f"process {pid} on {killed.data.tags['fashion_mnist.host']} ended "
        f"without closing the run (killed, e.g. kill -9); found by run "
        f"{after.info.run_id}"
    )
    assert after.info.status == "FINISHED"
    # Every version of the half registration, marked by the next run, none lost.
    unfinished = f"registration by run {killed.info.run_id} left unfinished (its run ended KILLED)"
    marked = client.get_model_version(first, half.version)
    assert marked.tags["registration"] == kill.first_marked
    assert marked.tags["registration_note"] == f"{unfinished}; {kill.note}"
    assert marked.source == half.source
    assert f"{first} version {half.version}: {unfinished}; {kill.note}" in said
    for version in _versions(client, second):
        if version.run_id == killed.info.run_id:
            assert version.tags["registration"] == "abandoned"
            assert version.tags["registration_note"] == (
                f"{unfinished}; it never became champion"
            )
    assert {m.name: str(m.status) for m in logged_models(client, killed).values()} == {
        f"{model}_model": "READY" for model in MODELS
    }
    assert {f"{model}.final.test_acc" for model in MODELS} <= set(killed.data.metrics)
    assert "model_comparison.csv" in artifacts(client, killed.info.run_id)
    # The next run registered both models whole. Its models are no better than
    # the killed run's (same data, same seed): a champion the kill left stays.
    for name in (first, second):
        (latest,) = [
            v for v in _versions(client, name) if v.run_id == after.info.run_id
        ]
        assert latest.tags["registration"] == "complete"
    champions = {name: _champion(client, name) for name in (first, second)}
    if kill.path == CREATE_VERSION:
        assert champions == {first: "2", second: "1"}
    else:
        assert champions == {first: "1", second: "2"}
