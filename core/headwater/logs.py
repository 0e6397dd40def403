"""Run loggers: lines like ``13:48:40.570 | INFO    | Flow run 'red-orca' - Beginning flow run``."""

from __future__ import annotations

import builtins
import contextvars
import io
import logging
import sys
import threading
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
            handler = logging.StreamHandler(sys.stderr)
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
