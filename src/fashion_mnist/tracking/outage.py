"""A tracking server that stops answering mid-run: one sentence, and the run's true end kept.

When a request of the run to its MLflow tracking server fails (the server
was killed, its host went away), the run stops there and says so in one
sentence. The server cannot record how the run ended, so its end (FAILED,
and why) is kept in a small file under the project, named after the run; the
next run that reaches the server records it, instead of finding the run
RUNNING and taking it for a killed process. A server lost after the
startup probe, while the run starts, is said in one sentence too
(:func:`lost_at_start`).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import click

from fashion_mnist.secrets import mask_url

from . import run

# Under the project: each file is named after the run whose end it keeps.
KEPT_ENDS = Path(".mlflow-run-ends")
_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\"()\\]+")


class TrackingServerLost(click.ClickException):
    """The MLflow tracking server stopped answering during the run."""


def causes(error: BaseException) -> Iterator[BaseException]:
    """``error``, then its cause or context, then theirs, each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def lost_server(error: BaseException, tracking_uri: str | None) -> str | None:
    """Why ``error`` is a request to the ``http(s)://`` tracking server that got no answer.

    MLflow's client raises ``API request to <tracking URI>/... failed with
    exception ...`` once its retries are spent (connection refused or reset,
    a timeout, a proxy's 5xx); a server that answers with an error is not lost.

    Returns:
        The transport's own words (``[Errno 111] Connection refused``), or
        ``None`` for any other error.
    """
    if not (tracking_uri or "").startswith(("http://", "https://")):
        return None
    prefix = f"API request to {tracking_uri.rstrip('/')}/"
    for cause in causes(error):
        text = str(cause)
        if text.startswith(prefix) and " failed with " in text:
            found = _ERRNO.search(text)
            if found:
                return found.group(0).strip()
            if "timed out" in text or "timeout" in text:
                return "the request timed out"
            return mask_url(text.split(" failed with ", 1)[1])[:200]
    return None


@contextlib.contextmanager
def without_retries() -> Iterator[None]:
    """MLflow's requests give up at once inside the block (the server is known lost)."""
    saved = {
        name: os.environ.get(name)
        for name in ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MLFLOW_HTTP_REQUEST_TIMEOUT")
    }
    os.environ.update(
        MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="2"
    )
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def keep_end(project: Path, run_id: str, status: str, reason: str) -> Path:
    """Write the run's end to ``<project>/.mlflow-run-ends/<run_id>.json``; return its path."""
    folder = project / KEPT_ENDS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_id}.json"
    end = {"status": status, "reason": reason, "end_time": int(time.time() * 1000)}
    staged = path.with_name(f".{path.name}.{os.getpid()}")
    staged.write_text(json.dumps(end))
    staged.replace(path)
    return path


def kept_ends(project: Path) -> Iterator[tuple[str, dict, Path]]:
    """Each kept end under the project: run id, ``{status, reason, end_time}``, file."""
    for path in sorted((project / KEPT_ENDS).glob("*.json")):
        try:
            end = json.loads(path.read_text())
        except (OSError, ValueError):  # being written, or half-written by a kill
            continue
        yield path.stem, end, path


def end_lost_run(run_id: str, project: Path, reason: str) -> str:
    """Keep the run's end under the project, then end it in this process only.

    Returns:
        ``kept in <file>``, or ``not kept: <why>`` when the file cannot be written.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        kept = f"kept in {keep_end(project, run_id, 'FAILED', reason)}"
    except OSError as exc:
        kept = f"not kept: {exc}"
    with without_retries():
        while (active := mlflow.active_run()) and active.info.run_id == run_id:
            # Pops the run, then fails to tell the server: nothing is left open.
            with contextlib.suppress(MlflowException):
                mlflow.end_run("FAILED")
    return kept


def lost_at_start(
    error: BaseException, tracking_uri: str, project: Path, outer: str | None
) -> TrackingServerLost | None:
    """The one sentence for a server lost between the probe and the first node.

    A run already created (it is MLflow's active run, and not ``outer``, a
    run opened before the session) is ended here and its end kept.

    Returns:
        The error to raise instead of ``error``, or ``None`` when ``error``
        is not a lost server.
    """
    import mlflow

    lost = lost_server(error, tracking_uri)
    if lost is None:
        return None
    said = (
        f"The MLflow tracking server {mask_url(tracking_uri)} stopped answering "
        f"as the run was starting ({lost})"
    )
    active = mlflow.active_run()
    if active is None or active.info.run_id == outer:
        return TrackingServerLost(
            f"{said}; nothing was run. Start the server again and rerun, or "
            "unset MLFLOW_TRACKING_URI to track into the project's embedded store."
        )
    run_id = active.info.run_id
    kept = end_lost_run(
        run_id,
        project,
        f"the MLflow tracking server stopped answering as the run was starting ({lost})",
    )
    if run.current_run_id() == run_id:  # bound by the run record hook: forget it
        run.unbind()
    return TrackingServerLost(
        f"{said}; no node ran, and the next run that reaches the server ends run "
        f"{run_id} FAILED with this reason ({kept})."
    )
