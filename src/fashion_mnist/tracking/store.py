"""Check the tracking store before kedro-mlflow uses it: a live server, a store made once.

``python -m fashion_mnist.tracking.store`` does the same for the commands that
are no ``kedro run`` (``make serve``, ``make mlflow-ui``): every process that
can create the embedded store creates it under the same lock.
"""

from __future__ import annotations

import base64
import contextlib
import os
import sqlite3
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import kedro.framework.project
from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl

from fashion_mnist.secrets import mask_url, split_userinfo

from .outage import causes, lost_at_start

# The MLflow UI opens an experiment of this kind on its runs, not the GenAI overview.
_KIND, _TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"
_SQLITE = "sqlite:///"
# What SQLite says of a store that this process may read but not write.
_READ_ONLY = ("readonly database", "unable to open database file", "read-only")


class TrackingServerUnavailable(click.ClickException):
    """The MLflow tracking server named in the configuration does not answer."""


class TrackingStoreUnavailable(click.ClickException):
    """The embedded store (``mlflow.db``) is locked by another process or read-only."""


def mlflow_yml(context) -> dict[str, Any]:
    """The project's ``mlflow.yml`` as kedro-mlflow reads it (``{}`` without one)."""
    return _read_mlflow_yml(context.config_loader)


def _read_mlflow_yml(config_loader) -> dict[str, Any]:
    patterns = config_loader.config_patterns
    patterns.setdefault("mlflow", ["mlflow*", "mlflow*/**", "**/mlflow*"])
    try:
        return config_loader["mlflow"] or {}
    except MissingConfigException:  # kedro-mlflow's defaults apply
        return {}


def experiment_name(config: dict[str, Any]) -> str:
    """The experiment kedro-mlflow records into: ``mlflow.yml``'s, else the package's."""
    experiment = (config.get("tracking") or {}).get("experiment") or {}
    return (
        experiment.get("name")
        or kedro.framework.project.PACKAGE_NAME
        or __name__.split(".", 1)[0]
    )


def tracking_uri(config: dict[str, Any]) -> str:
    """The tracking URI of ``mlflow.yml`` (``""`` when it names none)."""
    return str((config.get("server") or {}).get("mlflow_tracking_uri") or "")


def prepare(config: dict[str, Any], experiment: bool = True) -> None:
    """Probe an ``http(s)://`` server; create a ``sqlite:///`` store and its experiment.

    Args:
        config: ``mlflow.yml``.
        experiment: Also create the run's experiment (a ``kedro run``);
            without, an existing store is only checked (a server opens it).
    """
    uri = tracking_uri(config)
    if uri.startswith(("http://", "https://")):
        probe(uri)
    elif uri.startswith(_SQLITE):
        create_once(uri, experiment_name(config), existing_ok=not experiment)


class TrackingStoreHook:
    """Fail fast on a dead tracking server; create the embedded store once, under a lock.

    A server lost after the probe, as the run starts (in any hook, kedro-mlflow's
    included), is said in one sentence: :func:`.outage.lost_at_start`.
    """

    def __init__(self) -> None:
        self._uri = ""

    @hook_impl(wrapper=True, tryfirst=True)
    def after_context_created(self, context) -> Iterator[None]:
        """Check or create the tracking store of ``mlflow.yml`` before any run exists."""
        config = mlflow_yml(context)
        prepare(config)
        self._uri = tracking_uri(config)
        with self._said_in_one_sentence(Path(context.project_path)):
            return (yield)

    @hook_impl(wrapper=True)
    def before_pipeline_run(self, run_params: dict[str, Any]) -> Iterator[None]:
        """Around kedro-mlflow's run start and the hooks that tag the new run."""
        with self._said_in_one_sentence(Path(run_params.get("project_path") or ".")):
            return (yield)

    @contextlib.contextmanager
    def _said_in_one_sentence(self, project: Path) -> Iterator[None]:
        import mlflow

        outer = mlflow.active_run()  # a run opened before the session
        try:
            yield
        except Exception as error:
            lost = lost_at_start(
                error, self._uri, project, outer.info.run_id if outer else None
            )
            if lost is None:
                raise
            raise lost from None


def _authorization(uri: str) -> tuple[str, str | None]:
    """The URL to request and the header MLflow's client would send with it.

    The URL's own ``user:password@`` first (requests sends it as Basic auth),
    else MLflow's ``MLFLOW_TRACKING_USERNAME``/``PASSWORD`` or ``TOKEN``.
    """
    bare, basic = split_userinfo(uri)
    if basic:
        return bare, basic
    from mlflow.environment_variables import MLFLOW_TRACKING_TOKEN
    from mlflow.utils.credentials import read_mlflow_creds

    creds = read_mlflow_creds()
    if creds.username and creds.password:
        pair = f"{creds.username}:{creds.password}".encode()
        return bare, "Basic " + base64.b64encode(pair).decode()
    token = MLFLOW_TRACKING_TOKEN.get()
    return bare, f"Bearer {token}" if token else None


def probe(uri: str) -> None:
    """Raise :class:`TrackingServerUnavailable` unless ``<uri>/health`` answers 200.

    A user and password in the URI are sent as MLflow's client sends them
    (Basic auth) and never shown: every message masks the password.
    """
    timeout = float(os.environ.get("FASHION_MNIST_TRACKING_TIMEOUT_S", "10"))
    # MLflow retries a failing request 7 times with backoff (over 4 minutes);
    # two retries, after 0 s and 2 s, ride out a blip and fail a lost server
    # fast. These are MLflow's documented settings; a user's own values win.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    if mask_url(uri) != uri:
        # MLflow prints "View run ... at: <tracking URI>" with its password.
        os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    bare, auth = _authorization(uri)
    health = f"{mask_url(uri).rstrip('/')}/health"
    request = urllib.request.Request(
        f"{bare.rstrip('/')}/health", headers={"Authorization": auth} if auth else {}
    )
    advice = (
        "Start the server, or track into the project's embedded store instead: "
        "unset MLFLOW_TRACKING_URI (conf/base/mlflow.yml then uses "
        "sqlite:///<project>/mlflow.db)."
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            if response.status == 200:
                return
            problem = f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        problem = f"HTTP {exc.code} {exc.reason}"
        if exc.code in (401, 403):
            advice = (
                "Check the user and password in MLFLOW_TRACKING_URI "
                "(or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)."
            )
    except OSError as exc:
        problem = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    raise TrackingServerUnavailable(
        mask_url(
            f"The MLflow tracking server {uri} did not answer {health} "
            f"within {timeout:g} s ({problem}); nothing was run. {advice}"
        )
    )


def _check_writable(path: Path, timeout: float) -> None:
    """Open a write transaction on ``path`` and roll it back (raises sqlite3 errors)."""
    if not path.exists():
        return
    connection = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        (version,) = connection.execute("PRAGMA user_version").fetchone()
        # A write of the value it holds: it needs the file and its journal.
        connection.execute(f"PRAGMA user_version = {int(version)}")
        connection.execute("ROLLBACK")
    finally:
        connection.close()


def store_problem(path: Path, error: BaseException, waited: float) -> str | None:
    """One sentence on a locked or read-only ``path``, or ``None`` for another error."""
    for current in causes(error):
        text = str(current)
        if "database is locked" in text:
            return (
                f"The MLflow store {path} is locked by another process (SQLite: "
                f"database is locked, waited {waited:g} s); nothing was run. Close "
                f"the program that holds it (`fuser {path}` names it: an sqlite3 "
                "shell, a database browser, a stuck process) and run again."
            )
        if isinstance(current, PermissionError) or any(
            marker in text for marker in _READ_ONLY
        ):
            detail = text.splitlines()[0][:200] if text else type(current).__name__
            return (
                f"The MLflow store {path} cannot be written by this user ({detail}); "
                "nothing was run. Make the file and its folder writable "
                f"(chmod u+w {path} {path.parent}), or track elsewhere with "
                "MLFLOW_TRACKING_URI."
            )
    return None


def create_once(uri: str, experiment: str, existing_ok: bool = False) -> None:
    """Create the sqlite store and its experiment; concurrent runs wait on a file lock.

    With ``existing_ok``, a store that exists is only checked: every command
    of the project makes it under this lock, so it is whole.

    Raises:
        TrackingStoreUnavailable: The store is locked by another process
            (for ``FASHION_MNIST_STORE_TIMEOUT_S``, 10 s by default) or read-only.
    """
    from filelock import FileLock

    path = Path(uri[len(_SQLITE) :])
    timeout = float(os.environ.get("FASHION_MNIST_STORE_TIMEOUT_S", "10"))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Two runs creating mlflow.db at once corrupt its schema migration.
        with FileLock(path.with_name(path.name + ".lock")):
            _check_writable(path, timeout)
            if existing_ok and path.exists() and path.stat().st_size:
                return
            from mlflow import MlflowClient

            client = MlflowClient(uri)
            found = client.get_experiment_by_name(experiment)
            if found is None:
                client.create_experiment(experiment, tags={_KIND: _TRAINING_KIND})
            elif _KIND not in found.tags:
                client.set_experiment_tag(found.experiment_id, _KIND, _TRAINING_KIND)
    except Exception as exc:
        problem = store_problem(path, exc, timeout)
        if problem is None:
            raise
        raise TrackingStoreUnavailable(problem) from None


@click.command()
@click.option("--env", "-e", default=None, help="Kedro configuration environment.")
def main(env: str | None) -> None:
    """Check or create the project's tracking store, as ``kedro run`` does first.

    Reads ``mlflow.yml`` with the project's own config loader (settings.py),
    as a session would, without starting one: no hook, no MLflow import for
    a store that exists.
    """
    from kedro.framework.project import settings
    from kedro.framework.startup import bootstrap_project
    from kedro.utils import find_kedro_project

    project = find_kedro_project(Path.cwd()) or Path.cwd()
    bootstrap_project(project)
    config = _read_mlflow_yml(
        settings.CONFIG_LOADER_CLASS(
            conf_source=str(project / settings.CONF_SOURCE),
            env=env or os.environ.get("KEDRO_ENV"),
            **settings.CONFIG_LOADER_ARGS,
        )
    )
    prepare(config, experiment=False)
    click.echo(f"MLflow tracking store ready: {mask_url(tracking_uri(config))}")


if __name__ == "__main__":
    main()
