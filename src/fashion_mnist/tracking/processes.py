"""Process facts shared by the run record and the datasets: liveness, temp names, tags."""

from __future__ import annotations

import os
import threading
from pathlib import Path

# Tags on every run (and tuning trial) that let a later run find what a killed
# process left RUNNING.
PID, HOST, PID_START = (
    "fashion_mnist.pid",
    "fashion_mnist.host",
    "fashion_mnist.pid_start",
)
END_REASON = "fashion_mnist.end_reason"

# Where a run's temporary files live until they are renamed into place; the
# owner's pid in the name lets a later run remove what a killed run left.
TEMP_PREFIX = ".tmp-"


def temp_name(stem: str) -> str:
    """A temporary file or folder name that records its owner's pid."""
    return f"{TEMP_PREFIX}{os.getpid()}-{threading.get_ident()}-{stem}"


def owner_pid(name: str) -> int | None:
    """The pid recorded by :func:`temp_name`, or ``None`` for any other name."""
    if not name.startswith(TEMP_PREFIX):
        return None
    head = name[len(TEMP_PREFIX) :].split("-", 1)[0]
    return int(head) if head.isdigit() else None


def process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or ``""``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def process_alive(pid: int, start: str = "") -> bool:
    """Whether process ``pid`` of this host, started at ``start`` (if given), still runs."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    # A recycled pid belongs to a process that started later.
    return not start or process_start(pid) in ("", start)
