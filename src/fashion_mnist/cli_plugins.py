"""Start the ``kedro`` command line without importing MLflow for commands that need none.

kedro-mlflow adds ``kedro mlflow`` through the ``kedro.project_commands`` entry
point ``kedro_mlflow.framework.cli.cli:commands``, and that module imports
``mlflow`` at its top. Kedro loads every plugin's command group for every
command (to find the one asked for), so without this module ``kedro --version``,
``kedro registry list`` or ``kedro catalog …`` would each spend a second or more
importing MLflow for a command they never run.

:func:`init` runs as the project's ``kedro.init`` entry point, which the kedro
CLI calls before it loads the plugins' commands. It puts a stand-in for
kedro-mlflow's CLI module in ``sys.modules``: its ``commands`` group lists the
``mlflow`` command under the plugin's own group name and help, and imports the
real module only when ``mlflow`` itself is looked up (``kedro mlflow …``, or
``kedro --help``, which shows each command's help line). From then on the real
module is in ``sys.modules`` and everything is kedro-mlflow's own. Any other
attribute read from the stand-in loads the real module as well.

kedro-mlflow's *hook* (entry point ``kedro.hooks``) is another module, loaded
when a Kedro session starts; it imports MLflow itself and is left alone.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import logging
import os
import sys
import types
from typing import Any

import click
from kedro.framework.cli.hooks import cli_hook_impl

from fashion_mnist.noise import silence_known_noise

logger = logging.getLogger(__name__)

MLFLOW_CLI = "kedro_mlflow.framework.cli.cli"
# What the stand-in group shows before the real one is loaded: kedro-mlflow's
# own group name, help and command (tests/test_cli_speed.py compares them).
MLFLOW_GROUP_NAME = "Mlflow"
MLFLOW_GROUP_HELP = "Kedro plugin for interactions with mlflow."
MLFLOW_COMMAND = "mlflow"


def init() -> None:
    """The ``kedro.init`` entry point: silence known noise, defer kedro-mlflow's CLI."""
    silence_known_noise()
    defer_mlflow_cli()


def _real_mlflow_cli() -> types.ModuleType:
    """kedro-mlflow's CLI module, imported (with MLflow) in place of the stand-in."""
    if isinstance(sys.modules.get(MLFLOW_CLI), _StandIn):
        del sys.modules[MLFLOW_CLI]
    return importlib.import_module(MLFLOW_CLI)


class DeferredMlflowGroup(click.Group):
    """kedro-mlflow's ``commands`` group, its ``mlflow`` command loaded when asked for."""

    def __init__(self) -> None:
        super().__init__(name=MLFLOW_GROUP_NAME, help=MLFLOW_GROUP_HELP)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [MLFLOW_COMMAND]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name != MLFLOW_COMMAND:
            return None
        try:
            real = _real_mlflow_cli().commands
        except Exception as exc:  # what kedro does for a plugin that fails to load
            logger.warning(
                "Failed to load kedro-mlflow commands from %s. Full exception: %s",
                MLFLOW_CLI,
                exc,
            )
            return None
        return real.get_command(ctx, cmd_name)


class _StandIn(types.ModuleType):
    """Holds :class:`DeferredMlflowGroup` as ``commands``; anything else loads the real module."""

    def __getattr__(self, name: str) -> Any:
        # Probes for module dunders (__file__, __path__, …) must not import MLflow.
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return getattr(_real_mlflow_cli(), name)


def defer_mlflow_cli() -> None:
    """Put the stand-in for kedro-mlflow's CLI module in ``sys.modules``.

    Does nothing when that module is imported already, or kedro-mlflow is not
    installed.
    """
    if MLFLOW_CLI in sys.modules or importlib.util.find_spec("kedro_mlflow") is None:
        return
    stand_in = _StandIn(
        MLFLOW_CLI, "Stand-in for kedro-mlflow's CLI: see fashion_mnist.cli_plugins."
    )
    stand_in.commands = DeferredMlflowGroup()
    sys.modules[MLFLOW_CLI] = stand_in


class FastExit:
    """Leave the process as soon as ``kedro run`` is done, without Python's teardown.

    After a run, the interpreter spends about two seconds tearing down torch,
    MLflow and SQLAlchemy (module finalisation and the C++ destructors of
    libraries the run loaded), longer than many of the run's nodes. Nothing a
    run promises happens there: everything that must run at exit is registered
    with :mod:`atexit` (MLflow ends its runs, the project's hooks end an
    interrupted run KILLED, logging flushes its handlers), so this hook runs
    those, flushes the standard streams and ends the process with status 0.
    Only a run that succeeded leaves this way: a failed one still has its
    traceback to print, after the hooks. It is the last ``after_command_run``
    hook, so other plugins' hooks run first; other commands end as usual.
    """

    @staticmethod
    def exit_status(exit_code: Any) -> int:
        """``sys.exit``'s meaning of ``exit_code`` as the process's status."""
        if exit_code is None:
            return 0
        if isinstance(exit_code, int):
            return exit_code
        return 1

    @cli_hook_impl(trylast=True)
    def after_command_run(self, command_args: list[str], exit_code: Any) -> None:
        if not command_args or command_args[0] != "run":
            return
        status = self.exit_status(exit_code)
        if status != 0:
            return
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # closed or broken: nothing more to say
                pass
        os._exit(status)


cli_hooks = FastExit()
