"""Run loggers: lines like ``13:48:40.570 | INFO    | Flow run 'red-orca' - Beginning flow run``."""

from __future__ import annotations

import builtins
import collections
import contextvars
import io
import logging
import os
import sys
import threading
import time
from typing import Any, MutableMapping, Optional

__all__ = ["RunLogger", "setup_logging", "print_to_logger", "engine_logger"]

engine_logger = logging.getLogger("headwater.engine")
_FORMAT = "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(run_label)s - %(message)s"


class _RunFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "run_label"):
            record.run_label = record.name
        return super().format(record)


class RunLogger(logging.LoggerAdapter):
    """A logger whose lines say which run they come from."""

    def __init__(self, logger: logging.Logger, label: str, run_id: Optional[str] = None) -> None:
        super().__init__(logger, {"run_label": label, "run_id": run_id})

    def engine_info(self, msg: str, *args: Any) -> None:
        """An INFO line from headwater itself: built directly, skipping the caller lookup (a per-task cost)."""
        logger = self.logger
        if logger.isEnabledFor(logging.INFO):
            logger.handle(logger.makeRecord(logger.name, logging.INFO, "headwater", 0, msg, args, None, None, self.extra))

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = kwargs.get("extra")
        kwargs["extra"] = {**(self.extra or {}), **extra} if extra else self.extra
        return msg, kwargs


class BackgroundStderrHandler(logging.Handler):
    """Writes log lines to stderr from a thread of its own, many lines per write.

    A write to a terminal or a pipe is a system call that costs tens of microseconds:
    two of them per task run were the largest part of a small task's overhead. The
    calling thread only freezes the message and queues the record. ``flush()`` (called
    by ``logging.shutdown`` at exit) writes whatever is queued.
    """

    def __init__(self) -> None:
        super().__init__()
        self._queue: collections.deque[logging.LogRecord] = collections.deque()
        self._wake = threading.Event()
        self._write_lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._pid = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # Freeze what the record says now: its arguments may change after this call returns.
            record.msg, record.args = record.getMessage(), None
            if record.exc_info:
                record.exc_text = self.formatException(record.exc_info)
                record.exc_info = None
            self._queue.append(record)
            if self._thread is None or self._pid != os.getpid():
                self._start()
            if not self._wake.is_set():
                self._wake.set()
        except Exception:
            self.handleError(record)

    def formatException(self, exc_info: Any) -> str:
        return (self.formatter or logging.Formatter()).formatException(exc_info)

    def _start(self) -> None:
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="headwater-log-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            time.sleep(0.002)  # let a burst of lines gather into one write
            self._wake.clear()
            self.flush()

    def flush(self) -> None:
        with self._write_lock:
            lines = []
            while self._queue:
                lines.append(self.format(self._queue.popleft()))
            if lines:
                stream = sys.stderr  # looked up each time: test runners swap it
                try:
                    stream.write("\n".join(lines) + "\n")
                    stream.flush()
                except (OSError, ValueError):
                    pass  # stderr closed (a pipe whose reader left): nothing to be done


_configured: Optional[str] = None
_configure_lock = threading.Lock()


def setup_logging(level: str) -> None:
    """Give headwater's loggers a handler on stderr, once, unless the application configured its own."""
    global _configured
    if _configured == level:
        return
    with _configure_lock:
        root = logging.getLogger("headwater")
        if _configured is None and not root.handlers:
            handler = BackgroundStderrHandler()
            handler.setFormatter(_RunFormatter(_FORMAT, datefmt="%H:%M:%S"))
            root.addHandler(handler)
        root.setLevel(level)
        _configured = level


# -- log_prints: print() inside a run goes to the run's logger -----------------------------------

_print_target: contextvars.ContextVar[Optional[logging.LoggerAdapter]] = contextvars.ContextVar("headwater_print_target", default=None)
_original_print = builtins.print
_print_installed = False


def _print(*args: Any, sep: Optional[str] = " ", end: Optional[str] = "\n", file: Any = None, flush: bool = False) -> None:
    target = _print_target.get()
    if target is None or file not in (None, sys.stdout):
        _original_print(*args, sep=sep, end=end, file=file, flush=flush)
        return
    buffer = io.StringIO()
    _original_print(*args, sep=sep, end="", file=buffer)
    target.info("%s", buffer.getvalue())


def print_to_logger(logger: Optional[logging.LoggerAdapter]) -> contextvars.Token:
    """Send ``print`` calls in this context to ``logger`` (``None``: to stdout). Returns a token to reset."""
    global _print_installed
    if logger is not None and not _print_installed:
        builtins.print = _print
        _print_installed = True
    return _print_target.set(logger)


def reset_print(token: contextvars.Token) -> None:
    _print_target.reset(token)
