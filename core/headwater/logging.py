"""Run loggers, where Prefect code imports them from: ``get_run_logger`` and ``disable_run_logger``."""

from __future__ import annotations

import contextlib
import logging
from typing import Iterator

from .context import get_run_logger, run_logger_disabled

__all__ = ["get_run_logger", "disable_run_logger"]

_RUN_LOGGERS = ("headwater.flow_runs", "headwater.task_runs")


@contextlib.contextmanager
def disable_run_logger() -> Iterator[None]:
    """Silence the run loggers, and let ``get_run_logger()`` work outside a run (giving a silenced logger).

    For tests that call a task's or flow's function directly (``my_task.fn()``) when it logs
    through ``get_run_logger()``.
    """
    loggers = [logging.getLogger(name) for name in _RUN_LOGGERS]
    before = [logger.disabled for logger in loggers]
    token = run_logger_disabled.set(True)
    for logger in loggers:
        logger.disabled = True
    try:
        yield
    finally:
        run_logger_disabled.reset(token)
        for logger, was in zip(loggers, before):
            logger.disabled = was
