"""`mlflow server` on a free loopback port, against a given backend store."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import free_port, stop, wait_for


@dataclass
class TrackingServer:
    """A running `mlflow server` process and the URL it answers on."""

    url: str
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        """Terminate the server and its workers (kill them after 20 s)."""
        stop(self.process)


def start_tracking_server(
    backend_store_uri: str, artifacts: Path, log: Path
) -> TrackingServer:
    """Start `mlflow server` on 127.0.0.1 with one worker; return once /health answers.

    Args:
        backend_store_uri: where the server keeps runs, e.g. a PostgreSQL URL.
        artifacts: the server's `--artifacts-destination` folder.
        log: the file that receives the server's stdout and stderr.

    Raises:
        AssertionError: the server exited before answering.
        TimeoutError: /health did not answer within 120 s (it is stopped first).
    """
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", backend_store_uri,
            "--artifacts-destination", str(artifacts),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ],
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        # Its own process group: `stop` ends the server's workers with it.
        start_new_session=True,
    )  # fmt: skip
    server = TrackingServer(f"http://127.0.0.1:{port}", process, log)
    try:
        wait_for(f"{server.url}/health", process, log)
    except BaseException:
        server.stop()
        raise
    return server
