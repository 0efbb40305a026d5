"""Whole store writes: Ctrl-C or SIGTERM during a trial's write waits until it is done.

A ``KeyboardInterrupt`` raised inside a write to the MLflow or Optuna store
(an SQLite commit, an HTTP request) can leave the store's connection in the
middle of its transaction: the trial's next write, the one that ends its run
KILLED, then waits for a lock its own process holds. Inside :func:`whole`,
the first SIGINT or SIGTERM is held and delivered, to the handler that was
there before (the run record's), as soon as the block ends; a second one is
delivered at once, for a write that hangs.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from typing import Any

HELD = (signal.SIGINT, signal.SIGTERM)

logger = logging.getLogger(__name__)


def _deliver(handler: Any, signum: int, frame: Any) -> None:
    """Call ``handler`` (what ``signal.signal`` returned) as the signal would have."""
    if callable(handler):
        handler(signum, frame)
    elif handler == signal.SIG_DFL:
        signal.raise_signal(signum)  # its handler is back: the default action


@contextlib.contextmanager
def whole() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block ends (only the main thread gets signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[tuple[int, Any]] = []
    previous: dict[int, Any] = {}

    def hold(signum: int, frame: Any) -> None:
        if pending:  # a second one: the write hangs, stop now
            _deliver(previous[signum], signum, frame)
            return
        logger.warning(
            "%s received during a store write: stopping once it is done "
            "(send it again to stop at once)",
            signal.Signals(signum).name,
        )
        pending.append((signum, frame))

    for signum in HELD:
        previous[signum] = signal.signal(signum, hold)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:
            signum, frame = pending[0]
            _deliver(previous[signum], signum, frame)
