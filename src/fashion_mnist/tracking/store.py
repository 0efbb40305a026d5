"""Check the tracking store before kedro-mlflow uses it: a live server, a store made once."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import kedro.framework.project
from kedro.config import MissingConfigException
from kedro.framework.hooks import hook_impl

# The MLflow UI opens an experiment of this kind on its runs, not the GenAI overview.
_KIND, _TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"
_SQLITE = "sqlite:///"


class TrackingServerUnavailable(RuntimeError):
    """The MLflow tracking server named in the configuration does not answer."""


def mlflow_yml(context) -> dict[str, Any]:
    """The project's ``mlflow.yml`` as kedro-mlflow reads it (``{}`` without one)."""
    patterns = context.config_loader.config_patterns
    patterns.setdefault("mlflow", ["mlflow*", "mlflow*/**", "**/mlflow*"])
    try:
        return context.config_loader["mlflow"] or {}
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


class TrackingStoreHook:
    """Fail fast on a dead tracking server; create the embedded store once, under a lock."""

    @hook_impl(tryfirst=True)
    def after_context_created(self, context) -> None:
        """Probe ``http(s)://`` servers; create a ``sqlite:///`` store and experiment."""
        config = mlflow_yml(context)
        uri = str((config.get("server") or {}).get("mlflow_tracking_uri") or "")
        if uri.startswith(("http://", "https://")):
            probe(uri)
        elif uri.startswith(_SQLITE):
            create_once(uri, experiment_name(config))


def probe(uri: str) -> None:
    """Raise :class:`TrackingServerUnavailable` unless ``<uri>/health`` answers 200."""
    timeout = float(os.environ.get("FASHION_MNIST_TRACKING_TIMEOUT_S", "10"))
    # MLflow retries a failing request 7 times with backoff (over 4 minutes);
    # these are MLflow's documented settings, and a user's own values win.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    health = f"{uri.rstrip('/')}/health"
    try:
        with urllib.request.urlopen(health, timeout=timeout) as response:
            if response.status == 200:
                return
            problem = f"HTTP {response.status}"
    except (OSError, urllib.error.URLError) as exc:
        problem = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
    raise TrackingServerUnavailable(
        f"The MLflow tracking server {uri} did not answer {health} "
        f"within {timeout:g} s ({problem}); nothing was run. Start the server, "
        "or track into the project's embedded store instead: unset "
        "MLFLOW_TRACKING_URI (conf/base/mlflow.yml then uses "
        "sqlite:///<project>/mlflow.db)."
    )


def create_once(uri: str, experiment: str) -> None:
    """Create the sqlite store and its experiment; concurrent runs wait on a file lock."""
    from filelock import FileLock
    from mlflow import MlflowClient

    path = Path(uri[len(_SQLITE) :])
    path.parent.mkdir(parents=True, exist_ok=True)
    # Two runs creating mlflow.db at once corrupt its schema migration.
    with FileLock(path.with_name(path.name + ".lock")):
        client = MlflowClient(uri)
        found = client.get_experiment_by_name(experiment)
        if found is None:
            client.create_experiment(experiment, tags={_KIND: _TRAINING_KIND})
        elif _KIND not in found.tags:
            client.set_experiment_tag(found.experiment_id, _KIND, _TRAINING_KIND)
