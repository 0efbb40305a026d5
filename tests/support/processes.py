"""Child processes: their environment, ports from the OS, waiting for an event, stopping."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# How often a wait looks again: often enough to act at once, rarely enough to
# leave the core to the process being watched.
POLL_S = 0.05


def environment(changes: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """This process's environment for a child: telemetry off, wide logs, no MLflow store.

    The test process's own MLflow store (``MLFLOW_TRACKING_URI``) is left out,
    so a project copy tracks into its own ``mlflow.db``.

    Args:
        changes: Variables to set; a value of ``None`` removes the variable.
    """
    env = {
        **os.environ,
        "KEDRO_DISABLE_TELEMETRY": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        "COLUMNS": "200",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    for name, value in (changes or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def free_port(below: int | None = None) -> int:
    """A TCP port on 127.0.0.1 that the OS hands out (bind to port 0), then releases.

    For servers that take a port number on their command line. Where a test
    only needs a port that refuses connections, use :func:`refused_port`.

    Args:
        below: Ask again until the OS hands out a port below this one (kedro-viz
            refuses ports above 49151, inside the OS's ephemeral range).
    """
    for _ in range(1000):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if below is None or port < below:
            return port
    raise RuntimeError(f"The OS handed out no port below {below} in 1000 tries")


@contextlib.contextmanager
def refused_port() -> Iterator[int]:
    """A loopback port that refuses every connection while the block runs.

    The socket is bound by the OS and never listens: nothing else can take
    the port, and a connection to it is refused at once.
    """
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@dataclass
class SilentServer:
    """A loopback server that accepts connections and never answers."""

    port: int
    accepted: list[socket.socket] = field(default_factory=list)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def silent_server() -> Iterator[SilentServer]:
    """A :class:`SilentServer` on a port from the OS, closed after the block."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = SilentServer(sock.getsockname()[1])

    def accept() -> None:
        while True:
            try:
                connection, _ = sock.accept()
            except OSError:  # closed
                return
            server.accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        thread.join(timeout=5)
        for connection in server.accepted:
            connection.close()


def _ended(process: subprocess.Popen, log: Path, waiting_for: str) -> AssertionError:
    return AssertionError(
        f"{process.args!r} exited {process.returncode} before {waiting_for}:\n"
        + log.read_text(errors="replace")[-4000:]
    )


def wait_for(
    url: str, process: subprocess.Popen, log: Path, timeout: float = 120
) -> None:
    """Wait until ``url`` answers 200, looking every :data:`POLL_S` seconds.

    Raises:
        AssertionError: The process exited first (the message ends with its log).
        TimeoutError: ``url`` did not answer 200 within ``timeout`` seconds.
    """
    # No proxy from the environment: the server is on this machine.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise _ended(process, log, f"{url} answered")
        try:
            with opener.open(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(POLL_S)
    raise TimeoutError(f"{url} did not answer 200 within {timeout} s")


def wait_for_text(
    log: Path, text: str, process: subprocess.Popen, timeout: float = 300
) -> None:
    """Wait until ``text`` appears in the process's log, looking every :data:`POLL_S` s.

    Raises:
        AssertionError: The process exited first, or ``text`` did not appear
            within ``timeout`` seconds (the process is then stopped).
    """
    wait_for_log(log, lambda output: text in output, process, repr(text), timeout)


def wait_for_log(
    log: Path,
    holds: Callable[[str], bool],
    process: subprocess.Popen,
    what: str,
    timeout: float = 300,
) -> None:
    """Wait until ``holds(log text)``, looking every :data:`POLL_S` s.

    Raises:
        AssertionError: The process exited first, or ``holds`` was still false
            after ``timeout`` seconds (the process is then stopped); both name
            ``what`` was awaited.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if holds(log.read_text(errors="replace")):
            return
        if process.poll() is not None:
            raise _ended(process, log, f"printing {what}")
        time.sleep(POLL_S)
    stop(process)
    raise AssertionError(f"{what} did not appear within {timeout} s")


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM the process, SIGKILL it after ``timeout`` seconds; wait for it.

    A process started with ``start_new_session=True`` (``make``, a CLI that
    starts a server) is stopped with its whole process group, and the wait
    lasts until every member of the group is gone.
    """
    # A group whose id is the process's pid is the one it leads: pids are not
    # reused while a group carries them.
    whole_group = process.pid != os.getpgrp() and _group_alive(process.pid)
    if process.poll() is not None and not whole_group:
        return

    def send(signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if whole_group:
                os.killpg(process.pid, signum)
            else:
                process.send_signal(signum)

    def gone() -> bool:
        process.poll()  # reap the leader, or its group never looks empty
        if whole_group:
            return not _group_alive(process.pid)
        return process.returncode is not None

    send(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while not gone():
        if time.monotonic() > deadline:
            send(signal.SIGKILL)
            break
        time.sleep(POLL_S)
    process.wait(timeout=timeout)
