"""Timeouts for sync functions: an alarm on the main thread, an asynchronous exception elsewhere.

Timeouts nest: a task with a timeout inside a flow with a timeout. Each ``sync_timeout``
block turns only its own expiry into :class:`RunTimeout`; an enclosing block's expiry
passes through it as :class:`TimeoutExpired`, to be turned into that block's RunTimeout.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal
import threading
import time
from typing import Any, Callable, Iterator, Optional

__all__ = ["RunTimeout", "TimeoutExpired", "sync_timeout", "call_with_timeout", "await_with_timeout"]


class RunTimeout(BaseException):
    """Raised by a ``sync_timeout`` block whose own timeout passed.

    A BaseException, so that a bare ``except Exception`` in user code does not swallow it.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(f"timed out after {seconds} seconds")
        self.seconds = seconds


class TimeoutExpired(BaseException):
    """Raised inside the code when one of the enclosing timeouts passes (``entry`` says which)."""

    entry: Optional["_Entry"] = None

    def __str__(self) -> str:
        seconds = self.entry.seconds if self.entry is not None else "?"
        return f"the timeout of an enclosing run ({seconds} seconds) passed"


class _Entry:
    __slots__ = ("seconds", "deadline")

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds


# -- on the main thread: one SIGALRM timer, armed for the nearest deadline ---------------------

_stack: list[_Entry] = []
_previous_handler: object = None


def _on_alarm(signum: int, frame: object) -> None:
    now = time.monotonic()
    expired = next((entry for entry in _stack if entry.deadline <= now + 1e-3), None)
    if expired is None:
        _arm()
        return
    error = TimeoutExpired()
    error.entry = expired
    raise error


def _arm() -> None:
    if _stack:
        remaining = min(entry.deadline for entry in _stack) - time.monotonic()
        signal.setitimer(signal.ITIMER_REAL, max(remaining, 1e-4))
    else:
        signal.setitimer(signal.ITIMER_REAL, 0)


@contextlib.contextmanager
def _main_thread_timeout(entry: _Entry) -> Iterator[None]:
    global _previous_handler
    if not _stack:
        _previous_handler = signal.signal(signal.SIGALRM, _on_alarm)
    _stack.append(entry)
    _arm()
    try:
        yield
    finally:
        _stack.remove(entry)
        _arm()
        if not _stack:
            signal.signal(signal.SIGALRM, _previous_handler)  # type: ignore[arg-type]


# -- elsewhere: raise in the worker thread between two bytecodes ---------------------------------
# (a blocking C call, such as a long time.sleep, finishes before the exception is seen)


@contextlib.contextmanager
def _worker_thread_timeout(entry: _Entry) -> Iterator[None]:
    thread_id = threading.get_ident()
    # The exception is given as a class; a class of its own tells this block's expiry from others'.
    expired = type("TimeoutExpired", (TimeoutExpired,), {"entry": entry})
    done = False
    lock = threading.Lock()

    def expire() -> None:
        with lock:
            if not done:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(expired))

    timer = threading.Timer(entry.seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        with lock:
            done = True
        timer.cancel()


@contextlib.contextmanager
def sync_timeout(seconds: float) -> Iterator[None]:
    entry = _Entry(seconds)
    on_main = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    guard = _main_thread_timeout(entry) if on_main else _worker_thread_timeout(entry)
    try:
        with guard:
            yield
    except TimeoutExpired as exc:
        if exc.entry is entry:
            raise RunTimeout(seconds) from None
        raise


def call_with_timeout(fn: Callable[..., Any], kwargs: dict[str, Any], seconds: Optional[float]) -> Any:
    """``fn(**kwargs)``, raising :class:`RunTimeout` if it takes more than ``seconds`` (``None``: no limit)."""
    if seconds is None:
        return fn(**kwargs)
    with sync_timeout(seconds):
        return fn(**kwargs)


async def await_with_timeout(fn: Callable[..., Any], kwargs: dict[str, Any], seconds: Optional[float]) -> Any:
    """``await fn(**kwargs)``, raising :class:`RunTimeout` if it takes more than ``seconds`` (``None``: no limit)."""
    if seconds is None:
        return await fn(**kwargs)
    import anyio

    try:
        with anyio.fail_after(seconds):
            return await fn(**kwargs)
    except TimeoutError:
        raise RunTimeout(seconds) from None
