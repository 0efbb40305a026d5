"""``python -m fashion_mnist.serving``: serve one registered model version over HTTP.

``make serve`` runs this. The alias in the model URI (``@champion``) is
resolved once, at start: the first line says which version is served, and a
restart serves the alias's new version.
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
from pathlib import Path

from .app import DEFAULT_MAX_MB, build_app

REGISTRY = "models:/"
# The folder of its own each server downloads its model into, under the temp folder.
DOWNLOADS_PREFIX = "fashion-mnist-serve-"


class ServingError(Exception):
    """The model to serve cannot be found; the message says what to do."""


def resolve(model_uri: str, tracking_uri: str) -> tuple[str, str]:
    """The URI of the one version to serve, and the words that name it.

    Args:
        model_uri: ``models:/<name>@<alias>``, ``models:/<name>/<version>`` or
            any other model URI MLflow loads (served as it is).
        tracking_uri: The tracking store that holds the registry.

    Raises:
        ServingError: When the store does not exist or holds no such model.
    """
    if tracking_uri.startswith("sqlite:///"):
        store = Path(tracking_uri.removeprefix("sqlite:///"))
        if not store.is_file():
            raise ServingError(
                f"no tracking store at {store}: train and register a model first "
                "with `make run`"
            )
    if not model_uri.startswith(REGISTRY):
        return model_uri, model_uri
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from fashion_mnist.secrets import mask_url

    name, at, alias = model_uri.removeprefix(REGISTRY).partition("@")
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        if at:
            version = client.get_model_version_by_alias(name, alias).version
        else:
            name, _, version = name.partition("/")
            version = client.get_model_version(name, version).version
    except MlflowException as exc:
        raise ServingError(
            f"{model_uri} is not in the registry "
            f"({mask_url(exc.message.splitlines()[0])[:160]}); "
            "train and register a model with `make run`, or name another with "
            "MODEL_URI=models:/<name>/<version>"
        ) from None
    return f"{REGISTRY}{name}/{version}", f"{name} version {version} ({model_uri})"


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    """Resolve, announce, load and serve; exit 2 with one sentence when the model is missing."""
    parser = argparse.ArgumentParser(
        prog="python -m fashion_mnist.serving", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5050)
    parser.add_argument("--max-request-mb", type=float, default=DEFAULT_MAX_MB)
    args = parser.parse_args(argv)

    import mlflow.pyfunc
    import uvicorn
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

    try:
        served, named = resolve(args.model_uri, mlflow.get_tracking_uri())
    except ServingError as exc:
        sys.stderr.write(f"make serve: {exc}.\n")
        return 2
    # The first line of `make serve`: what is served, and how to follow the alias.
    sys.stdout.write(
        f"Serving {named} on http://{args.host}:{args.port}/invocations; "
        "restart `make serve` to serve the version the alias points to later.\n"
    )
    sys.stdout.flush()
    if not MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.defined:
        MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.set(False)
    # The model's files are downloaded into a folder of this server's own,
    # removed when it stops. uvicorn shuts down on Ctrl-C or SIGTERM, then
    # raises the signal again to the handler it found: both leave through
    # this block.
    with tempfile.TemporaryDirectory(prefix=DOWNLOADS_PREFIX) as downloads:
        model = mlflow.pyfunc.load_model(served, dst_path=downloads)
        app = build_app(model, args.max_request_mb)
        signal.signal(signal.SIGTERM, _exit_on_signal)
        try:
            uvicorn.run(app, host=args.host, port=args.port, log_level="info")
        except KeyboardInterrupt:
            return 128 + signal.SIGINT
    return 0


if __name__ == "__main__":
    sys.exit(main())
