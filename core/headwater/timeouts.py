"""Timeouts for sync functions: an alarm on the main thread, an asynchronous exception elsewhere."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import threading
from typing import Iterator

__all__ = ["RunTimeout", "sync_timeout"]


class RunTimeout(BaseException):
    """Raised inside a run's function when its timeout passes.

    A BaseException, so that a bare ``except Exception`` in user code does not swallow it.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(f"timed out after {seconds} seconds")
        self.seconds = seconds


@contextlib.contextmanager
def sync_timeout(seconds: float) -> Iterator[None]:
    if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
        # SIGALRM interrupts blocking calls such as time.sleep as well as Python code.
        def on_alarm(signum: int, frame: object) -> None:
            raise RunTimeout(seconds)

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return

    # Off the main thread, raise in the worker thread between two bytecodes; a blocking C call
    # finishes before it is seen.
    thread_id = threading.get_ident()
    done = threading.Event()
    lock = threading.Lock()

    def expire() -> None:
        with lock:
            if not done.is_set():
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(_ThreadTimeout))

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except _ThreadTimeout:
        raise RunTimeout(seconds) from None
    finally:
        with lock:
            done.set()
        timer.cancel()


class _ThreadTimeout(BaseException):
    pass
