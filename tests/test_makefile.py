"""What the Makefile's servers bind to, read from `make --dry-run`."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.processes import environment
from tests.support.project import PROJECT_ROOT

SERVERS = {"serve": "SERVE_HOST", "mlflow-ui": "MLFLOW_HOST", "viz": "VIZ_HOST"}


def dry_run(target: str, **env: str) -> str:
    result = subprocess.run(
        ["make", "--dry-run", "--directory", str(PROJECT_ROOT), target],
        capture_output=True,
        text=True,
        check=True,
        env=environment(env),
    )
    return result.stdout


@pytest.mark.parametrize("target", SERVERS)
def test_a_server_binds_to_loopback_whatever_host_the_shell_exports(target):
    commands = dry_run(target, HOST="0.0.0.0")

    assert "--host 127.0.0.1" in commands
    assert "0.0.0.0" not in commands


@pytest.mark.parametrize(("target", "variable"), SERVERS.items())
def test_a_server_binds_elsewhere_only_when_its_own_variable_says_so(target, variable):
    commands = dry_run(target, **{variable: "0.0.0.0"})

    assert "--host 0.0.0.0" in commands


@pytest.mark.parametrize("port", ["50000", "0", "http"])
def test_make_viz_refuses_a_port_kedro_viz_cannot_use_in_one_sentence(port):
    result = subprocess.run(
        ["make", "--directory", str(PROJECT_ROOT), "viz", f"VIZ_PORT={port}"],
        capture_output=True,
        text=True,
        check=False,
        env=environment(),
    )

    assert result.returncode != 0
    assert f"make viz: VIZ_PORT={port} is not a port kedro-viz accepts" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
