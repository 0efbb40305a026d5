"""Project hooks: a run record that tells the truth, and what it takes to reproduce it.

kedro-mlflow starts one MLflow run per ``kedro run``. These hooks make that
record trustworthy around it: a dead tracking server fails fast, the embedded
store is created once however many runs start together, every thread logs to
the one run, the run is named after what ran, an interrupted or killed run
ends KILLED or FAILED with the reason, and a run killed with SIGKILL is found
and ended by the next run.

Heavy libraries (torch, MLflow) are imported inside the hooks, never at module
import: every ``kedro`` command imports this module through ``settings.py``.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import platform
import re
import signal
import socket
import subprocess
import threading
import urllib.error
import urllib.request
from importlib.metadata import version
from pathlib import Path
from typing import Any

from kedro.framework.hooks import hook_impl

from fashion_mnist import tracking
from fashion_mnist.tracking import process_alive, process_start

logger = logging.getLogger(__name__)

END_REASON = "fashion_mnist.end_reason"
PID, HOST, PID_START = (
    "fashion_mnist.pid",
    "fashion_mnist.host",
    "fashion_mnist.pid_start",
)
_FILTERS = {
    "from_nodes": "from-nodes",
    "to_nodes": "to-nodes",
    "node_names": "nodes",
    "tags": "tags",
    "namespaces": "namespaces",
    "from_inputs": "from-inputs",
    "to_outputs": "to-outputs",
}
# The MLflow UI opens an experiment of this kind on its runs, not the GenAI overview.
_KIND, _TRAINING_KIND = "mlflow.experimentKind", "custom_model_development"
_WORKING_RUNNERS = "SequentialRunner (the default, also with --async) or ThreadRunner"


class TrackingServerUnavailable(RuntimeError):
    """The MLflow tracking server named in the configuration does not answer."""


class UnsupportedRunnerError(RuntimeError):
    """A runner that cannot keep one truthful MLflow record was asked for."""


def _git(project_path: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", *args], cwd=project_path, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip()


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return {
            k: v
            for key, item in value.items()
            for k, v in _flatten(
                f"{prefix}.{key}" if prefix else str(key), item
            ).items()
        }
    return {prefix: value}


def runner_name(run_params: dict[str, Any]) -> str:
    """The runner's class name, from Kedro's ``run_params["runner"]`` (a repr)."""
    match = re.search(r"(\w*Runner)\b", str(run_params.get("runner") or ""))
    return match.group(1) if match else "SequentialRunner"


def node_filters(run_params: dict[str, Any]) -> dict[str, str]:
    """The ``kedro run`` options that select part of the pipelines, as ``--option`` text."""
    return {
        option: ",".join(map(str, run_params[key]))
        for key, option in _FILTERS.items()
        if run_params.get(key)
    }


def run_name(run_params: dict[str, Any], is_async: bool = False) -> str:
    """A run name that says what ran: pipelines, node filters, runner, parameters.

    Args:
        run_params: Kedro's ``run_params`` (``pipeline_names``, the node
            filters, ``runner``, ``runtime_params``).
        is_async: Whether the run loads and saves asynchronously.

    Returns:
        For example ``"__default__ defaults"``,
        ``"__default__ --from-nodes=train_scratch training.lr=0.05"`` or
        ``"training ThreadRunner defaults"``.
    """
    parts = ["+".join(run_params.get("pipeline_names") or ["__default__"])]
    parts += [f"--{k}={v}" for k, v in node_filters(run_params).items()]
    runner = runner_name(run_params)
    if runner != "SequentialRunner":
        parts.append(runner)
    if is_async:
        parts.append("--async")
    overrides = " ".join(
        f"{k}={v}"
        for k, v in sorted(_flatten("", run_params.get("runtime_params") or {}).items())
    )
    parts.append(overrides or "defaults")
    return " ".join(parts)


def _fail_pending_models(client, run) -> None:
    from mlflow.entities import LoggedModelStatus

    models = client.search_logged_models(
        experiment_ids=[run.info.experiment_id],
        filter_string=f"source_run_id = '{run.info.run_id}'",
    )
    for model in models:
        if model.status == LoggedModelStatus.PENDING:
            client.finalize_logged_model(model.model_id, LoggedModelStatus.FAILED)


def _mlflow_config(context) -> dict[str, Any]:
    patterns = context.config_loader.config_patterns
    patterns.setdefault("mlflow", ["mlflow*", "mlflow*/**", "**/mlflow*"])
    try:
        return context.config_loader["mlflow"] or {}
    except Exception:  # no mlflow.yml: kedro-mlflow's defaults apply
        return {}


class TrackingStoreHook:
    """Check the tracking store before kedro-mlflow uses it."""

    @hook_impl(tryfirst=True)
    def after_context_created(self, context) -> None:
        """Fail fast on a dead server; create the embedded store once, under a lock."""
        config = _mlflow_config(context)
        uri = str((config.get("server") or {}).get("mlflow_tracking_uri") or "")
        experiment = ((config.get("tracking") or {}).get("experiment") or {}).get(
            "name"
        ) or context._package_name
        if uri.startswith(("http://", "https://")):
            self._probe(uri)
        elif uri.startswith("sqlite:///"):
            self._create_once(uri, experiment)

    @staticmethod
    def _probe(uri: str) -> None:
        timeout = float(os.environ.get("FASHION_MNIST_TRACKING_TIMEOUT_S", "10"))
        # MLflow retries a failing request 7 times with backoff (over 4 minutes).
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
        try:
            with urllib.request.urlopen(
                f"{uri.rstrip('/')}/health", timeout=timeout
            ) as response:
                if response.status == 200:
                    return
                problem = f"HTTP {response.status}"
        except (OSError, urllib.error.URLError) as exc:
            problem = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
        raise TrackingServerUnavailable(
            f"The MLflow tracking server {uri} did not answer {uri.rstrip('/')}/health "
            f"within {timeout:g} s ({problem}); nothing was run. Start the server, "
            "or track into the project's embedded store instead: unset "
            "MLFLOW_TRACKING_URI (conf/base/mlflow.yml then uses "
            "sqlite:///<project>/mlflow.db)."
        )

    @staticmethod
    def _create_once(uri: str, experiment: str) -> None:
        from mlflow import MlflowClient

        path = Path(uri[len("sqlite:///") :])
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(path.name + ".lock"), "w") as lock:
            # Two runs creating mlflow.db at once corrupt its schema migration.
            fcntl.flock(lock, fcntl.LOCK_EX)
            client = MlflowClient(uri)
            found = client.get_experiment_by_name(experiment)
            if found is None:
                client.create_experiment(experiment, tags={_KIND: _TRAINING_KIND})
            elif _KIND not in found.tags:
                client.set_experiment_tag(found.experiment_id, _KIND, _TRAINING_KIND)


class RunnerCheckHook:
    """Refuse what cannot give a truthful record, before any MLflow run exists."""

    @hook_impl(tryfirst=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline, catalog
    ) -> None:
        """Refuse a runner that would split or lose the record, and bad parameters."""
        runner = runner_name(run_params)
        if runner == "ParallelRunner":
            raise UnsupportedRunnerError(
                "ParallelRunner is not supported by this project: its worker "
                "processes cannot log to the run's MLflow record, nor share the "
                "in-memory results that keep concurrent runs apart. Nothing was "
                f"run. Use {_WORKING_RUNNERS}, e.g. kedro run --runner ThreadRunner."
            )
        from fashion_mnist.contracts import validate_parameters

        # Only the groups this pipeline reads: `tuning` belongs to the tuning pipeline.
        groups = {
            name.removeprefix("params:").split(".")[0]
            for name in pipeline.inputs()
            if name.startswith("params:")
        }
        parameters = catalog.load("parameters")
        validate_parameters({k: v for k, v in parameters.items() if k in groups})


class RunRecordHook:
    """One truthful MLflow run per ``kedro run``, whatever the runner or the ending."""

    def __init__(self) -> None:
        self._run_id: str | None = None
        self._signal: str | None = None
        self._previous_handlers: dict[int, Any] = {}
        self._atexit_registered = False
        self._async_tagged = False
        self._run_params: dict[str, Any] = {}

    @hook_impl(tryfirst=True)
    def after_context_created(self) -> None:
        """End a run of this process that an interrupt left open (a notebook goes on)."""
        self._end_interrupted_run()

    @hook_impl(trylast=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline, catalog
    ) -> None:
        """Bind the run kedro-mlflow started; name and tag it; watch for signals."""
        import mlflow

        from fashion_mnist.datasets.staging import remove_stale_temp_files

        project_path = Path(run_params.get("project_path") or ".")
        remove_stale_temp_files(project_path / "data")
        active = mlflow.active_run()
        self._run_id = active.info.run_id if active else None
        self._signal = None
        self._async_tagged = False
        self._run_params = run_params
        tracking.bind(self._run_id, mlflow.get_tracking_uri(), pipeline.all_outputs())
        if self._run_id is None:  # tracking disabled for this pipeline
            return
        client = tracking.client()
        filters = node_filters(run_params)
        overrides = _flatten("", run_params.get("runtime_params") or {})
        tags = {
            "mlflow.runName": run_name(run_params),
            "runner": runner_name(run_params),
            "kedro.runner": runner_name(run_params),
            "kedro.async": "false",
            "kedro.pipelines": ",".join(
                run_params.get("pipeline_names") or ["__default__"]
            ),
            "kedro.partial": str(bool(filters)).lower(),
            **{f"kedro.{k}": v for k, v in filters.items()},
            "kedro.params": " ".join(f"{k}={v}" for k, v in sorted(overrides.items()))
            or "defaults",
            PID: str(os.getpid()),
            HOST: socket.gethostname(),
            PID_START: process_start(os.getpid()),
            **{
                f"fashion_mnist.model_source.{model}": source
                for model, source in self._model_sources(pipeline, catalog).items()
            },
        }
        from mlflow.entities import RunTag

        client.log_batch(self._run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        self._end_abandoned_runs(client, active.info.experiment_id)
        self._watch_signals()
        if not self._atexit_registered:
            # Registered after MLflow's own exit handler, so it runs first.
            atexit.register(self._end_interrupted_run)
            self._atexit_registered = True

    @hook_impl
    def before_node_run(self, is_async: bool) -> None:
        """Name the run ``--async`` once a node shows that it runs asynchronously."""
        if is_async and self._run_id and not self._async_tagged:
            self._async_tagged = True
            client = tracking.client()
            client.set_tag(self._run_id, "kedro.async", "true")
            client.set_tag(
                self._run_id, "mlflow.runName", run_name(self._run_params, True)
            )

    @hook_impl
    def after_pipeline_run(self) -> None:
        """Forget the run: kedro-mlflow ends it FINISHED."""
        self._release()

    @hook_impl(tryfirst=True)
    def on_pipeline_error(self, error: Exception) -> None:
        """Say why the run failed before kedro-mlflow ends it FAILED."""
        if self._run_id:
            client = tracking.client()
            reason = f"{type(error).__name__}: {error}".strip()
            client.set_tag(self._run_id, END_REASON, reason[:5000])
            _fail_pending_models(client, client.get_run(self._run_id))
        self._release()

    def _release(self) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers = {}
        self._run_id = None
        tracking.unbind()

    def _watch_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            logger.warning(
                "kedro run is not in the main thread: SIGINT and SIGTERM cannot be "
                "recorded; an interrupted run may stay RUNNING until the next run."
            )
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._previous_handlers[signum] = signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, frame) -> None:
        self._signal = signal.Signals(signum).name
        logger.warning(
            "%s received: stopping; the MLflow run %s ends KILLED",
            self._signal,
            self._run_id,
        )
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    def _end_interrupted_run(self) -> None:
        """A run still bound was interrupted; end it KILLED (a signal) or FAILED.

        Called at exit, and when the next session of the same process starts.
        """
        run_id = tracking.current_run_id()
        if run_id is None:
            return
        import mlflow

        status = "KILLED" if self._signal else "FAILED"
        reason = (
            f"{self._signal} received"
            if self._signal
            else "the process exited before the pipeline finished"
        )
        client = tracking.client()
        client.set_tag(run_id, END_REASON, reason)
        _fail_pending_models(client, client.get_run(run_id))
        while (active := mlflow.active_run()) and active.info.run_id == run_id:
            mlflow.end_run(status)
        client.set_terminated(run_id, status)
        self._release()

    @staticmethod
    def _model_sources(pipeline, catalog) -> dict[str, str]:
        """Per model the run reports on: ``this run``, or the run that trained it."""
        if "model_provenance" not in catalog:
            return {}
        inputs = pipeline.inputs()
        return {
            model: "this run" if source["this_run"] else source["run_id"] or "unknown"
            for model, source in catalog.load("model_provenance").items()
            if source["this_run"]
            or any(name.startswith(f"{model}.") for name in inputs)
        }

    @staticmethod
    def _end_abandoned_runs(client, experiment_id: str) -> None:
        """End the RUNNING runs of this host whose process is gone (``kill -9``)."""
        me = tracking.current_run_id()
        host = socket.gethostname()
        runs = client.search_runs(
            [experiment_id],
            filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST}` = '{host}'",
        )
        for run in runs:
            tags = run.data.tags
            pid = tags.get(PID, "")
            if run.info.run_id == me or not pid.isdigit():
                continue
            if process_alive(int(pid), tags.get(PID_START, "")):
                continue
            client.set_tag(
                run.info.run_id,
                END_REASON,
                f"process {pid} on {host} ended without closing the run "
                f"(killed, e.g. kill -9); found by run {me}",
            )
            _fail_pending_models(client, run)
            client.set_terminated(run.info.run_id, "KILLED")
            logger.warning(
                "MLflow run %s was left RUNNING by process %s, which is gone: "
                "marked KILLED",
                run.info.run_id,
                pid,
            )


class ReproducibilityTagsHook:
    """Tag the run kedro-mlflow started: code, data, library versions, device, seed."""

    @hook_impl(trylast=True)
    def before_pipeline_run(
        self, run_params: dict[str, Any], pipeline, catalog
    ) -> None:
        import mlflow

        active = mlflow.active_run()
        if active is None:  # tracking disabled for this pipeline
            return
        from fashion_mnist.datasets import VerifiedIDXDataset
        from fashion_mnist.softmax import resolve_device

        project_path = Path(run_params.get("project_path") or ".")
        commit = _git(project_path, "rev-parse", "HEAD")
        status = _git(project_path, "status", "--porcelain")
        training = (
            catalog.load("params:training") if "params:training" in catalog else {}
        )
        try:
            device = str(resolve_device(training.get("device", "auto")))
        except ValueError:  # the training node reports it, naming the parameter
            device = f"invalid: {training.get('device')!r}"
        tags = {
            "git_commit": commit or "unknown (not a git checkout)",
            "git_dirty": "unknown" if status is None else str(bool(status)).lower(),
            "torch_version": version("torch"),
            "kedro_version": version("kedro"),
            "mlflow_version": version("mlflow"),
            "python_version": platform.python_version(),
            "seed": str(training.get("seed", "")),
            "device": device,
        }
        for name in pipeline.datasets():
            if name in catalog and isinstance(
                dataset := catalog.get(name), VerifiedIDXDataset
            ):
                tags[f"data_md5.{dataset.file}"] = dataset.md5
        from mlflow.entities import RunTag

        mlflow.MlflowClient().log_batch(
            active.info.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()]
        )


def _batched_mlflow_hook_class():
    """kedro-mlflow's ``MlflowHook``, made cheaper per node (imports mlflow)."""
    import threading as _threading

    import mlflow
    from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook, _flatten_dict
    from mlflow.entities import Param, RunTag
    from mlflow.utils.validation import MAX_PARAM_VAL_LENGTH

    class BatchedMlflowHook(MlflowHook):
        """The same run, parameters and datasets, with two requests fewer per node.

        Upstream resumes the run at every node (a store round trip, so that a
        worker thread finds it: kedro-mlflow #613/#615) and logs each parameter
        of each node in a request of its own, again for every node that reads
        it. Here the run is resumed only in a thread where it is not active,
        and a node's parameters not yet logged go in one ``log_batch``.
        """

        def __init__(self) -> None:
            super().__init__()
            self._logged: dict[str, str] = {}
            self._lock = _threading.Lock()

        def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
            with self._lock:
                self._logged = {}
            super().before_pipeline_run(run_params, pipeline, catalog)

        def before_node_run(self, node, catalog, inputs, is_async) -> None:
            if self.run_id is None:
                return
            active = mlflow.active_run()
            if active is None or active.info.run_id != self.run_id:
                mlflow.start_run(
                    run_id=self.run_id, nested=self.mlflow_config.tracking.run.nested
                )
            if not self._is_mlflow_enabled:
                return
            params = {k[7:]: v for k, v in inputs.items() if k.startswith("params:")}
            if "parameters" in inputs:
                params["parameters"] = inputs["parameters"]
            if self.flatten:
                params = _flatten_dict(d=params, recursive=self.recursive, sep=self.sep)
            params = {self.sanitize_param_name(k): str(v) for k, v in params.items()}
            with self._lock:
                new = {k: v for k, v in params.items() if self._logged.get(k) != v}
                self._logged.update(new)
            self._log_params(new)

        def _log_params(self, params: dict[str, str]) -> None:
            short, long = [], []
            for name, value in params.items():
                if len(value) <= MAX_PARAM_VAL_LENGTH:
                    short.append(Param(name, value))
                elif self.long_params_strategy == "fail":
                    raise ValueError(
                        f"Parameter '{name}' length is {len(value)}, while mlflow "
                        f"forces it to be lower than '{MAX_PARAM_VAL_LENGTH}'. Set "
                        "long_params_strategy to 'tag' or 'truncate' in mlflow.yml."
                    )
                elif self.long_params_strategy == "tag":
                    long.append(RunTag(name, value))
                else:  # truncate
                    short.append(Param(name, value[:MAX_PARAM_VAL_LENGTH]))
            if short or long:
                mlflow.MlflowClient().log_batch(self.run_id, params=short, tags=long)

    return BatchedMlflowHook


class TrackingHook:
    """kedro-mlflow's hook, imported when a session first needs it, and batched.

    ``settings.DISABLE_HOOKS_FOR_PLUGINS`` turns off the plugin's own instance:
    importing it imports mlflow, which every ``kedro`` command would pay for.
    This stand-in delegates each hook to a :func:`_batched_mlflow_hook_class`
    instance created at the first call (a session's ``after_context_created``),
    so commands that create no session never import mlflow.
    """

    def __init__(self) -> None:
        self._hook = None

    @property
    def hook(self):
        if self._hook is None:
            self._hook = _batched_mlflow_hook_class()()
        return self._hook

    @hook_impl
    def after_context_created(self, context) -> None:
        self.hook.after_context_created(context)

    @hook_impl
    def after_catalog_created(  # noqa: PLR0913, PLR0917 (kedro's hook signature)
        self, catalog, conf_catalog, conf_creds, parameters, save_version, load_versions
    ) -> None:
        self.hook.after_catalog_created(
            catalog, conf_catalog, conf_creds, parameters, save_version, load_versions
        )

    @hook_impl
    def before_pipeline_run(self, run_params, pipeline, catalog) -> None:
        self.hook.before_pipeline_run(run_params, pipeline, catalog)

    @hook_impl
    def before_node_run(self, node, catalog, inputs, is_async) -> None:
        self.hook.before_node_run(node, catalog, inputs, is_async)

    @hook_impl
    def after_pipeline_run(self, run_params, pipeline, catalog) -> None:
        self.hook.after_pipeline_run(run_params, pipeline, catalog)

    @hook_impl
    def on_pipeline_error(self, error, run_params, pipeline, catalog) -> None:
        self.hook.on_pipeline_error(error, run_params, pipeline, catalog)
