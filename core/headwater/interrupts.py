"""Interrupts: Ctrl-C and SIGTERM stop a flow run, which records itself and its task runs Cancelled on the way out.

Python raises KeyboardInterrupt in the main thread on Ctrl-C. For SIGTERM (what
``kill``, systemd, Docker and Kubernetes send) headwater does the same while a
top-level flow run is in progress in the main thread, by raising
:class:`headwater.exceptions.TerminationSignal`, unless the program installed a
SIGTERM handler of its own, which is left alone.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Any, Iterator

from .exceptions import TerminationSignal
from .timeouts import RunTimeout

__all__ = ["is_interrupt", "describe_interrupt", "sigterm_raises"]


def is_interrupt(error: BaseException) -> bool:
    """Whether ``error`` stops the whole flow (Ctrl-C, SIGTERM, SystemExit) rather than failing one run."""
    return not isinstance(error, (Exception, RunTimeout))


def describe_interrupt(error: BaseException) -> str:
    if isinstance(error, TerminationSignal):
        return f"a termination signal ({error})"
    if isinstance(error, KeyboardInterrupt):
        return "KeyboardInterrupt (Ctrl-C)"
    if type(error).__name__ == "CancelledError":  # asyncio's: asyncio.run cancels its task on Ctrl-C or SIGTERM
        return "the cancellation of its asyncio task"
    return type(error).__name__


def _raise_termination(signum: int, _frame: Any) -> None:
    raise TerminationSignal(signum)


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """While the block runs, SIGTERM raises TerminationSignal (main thread, default SIGTERM handling only)."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _raise_termination)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
