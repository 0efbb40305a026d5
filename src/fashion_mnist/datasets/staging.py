"""Whole files or none: write beside the target, in a folder that names its writer."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fashion_mnist.tracking.processes import (
    TEMP_PREFIX,
    owner_pid,
    process_alive,
    temp_name,
)

logger = logging.getLogger(__name__)


@contextmanager
def staged_file(target: Path) -> Iterator[Path]:
    """Yield a private path with ``target``'s name; rename it into place on success.

    The private folder sits beside ``target`` (same file system, so the rename
    is atomic) and carries the writer's pid in its name: ``kill -9`` or a full
    disk leaves the previous file, and :func:`remove_stale_temp_files` clears
    what a dead writer left. The file keeps its name while it is staged, so it
    can be logged to MLflow from there, before a concurrent run can replace
    ``target``.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    private = target.parent / temp_name(target.name)
    private.mkdir()
    try:
        staged = private / target.name
        yield staged
        os.replace(staged, target)
    finally:
        shutil.rmtree(private, ignore_errors=True)


def remove_stale_temp_files(root: Path) -> list[Path]:
    """Delete the temporary files and folders that dead processes left under ``root``.

    Args:
        root: The project's data folder.

    Returns:
        What was removed. Temporary files of live processes (a concurrent run)
        are kept.
    """
    removed = []
    for path in sorted(root.rglob(f"{TEMP_PREFIX}*")):
        pid = owner_pid(path.name)
        if pid is None or process_alive(pid) or not path.exists():
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    if removed:
        logger.info(
            "Removed %d temporary file(s) left by killed runs: %s",
            len(removed),
            ", ".join(str(p) for p in removed),
        )
    return removed
