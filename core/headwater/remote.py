"""A task run's context on a worker of an out-of-process runner (Dask, Ray), and the way back for its log lines.

The flow's process makes a :class:`RemoteRunContext` from the call it hands to
the runner (:meth:`headwater.task_engine.TaskCall.remote_context`). It holds only
plain values, so it pickles in a few dozen bytes. On the worker,
:meth:`RemoteRunContext.call` calls the task's function inside the run's context:
``get_run_logger()`` gives a logger whose lines name the task run as they would in
the flow's process, and ``print`` goes to it when the task has ``log_prints``. The
lines are not written anywhere on the worker: they are collected as
:data:`LogLine` tuples and handed to the runner's ``deliver`` callback, which sends
them back by a channel of its engine. In the flow's process, :func:`replay_lines`
passes them through the run's own logger, so they reach the console and the store
like every other line of the run.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Optional, Sequence, Tuple, cast

from .context import TaskRunContext, task_run_context
from .logs import RunLogger, print_to_logger, reset_print

__all__ = ["RemoteRunContext", "LogLine", "replay_lines"]

#: One collected line: ``(created, levelno, message, exc_text, stack_info)``, the message already
#: formatted and any traceback already text. Plain values only: msgpack and pickle both carry it.
LogLine = Tuple[float, int, str, Optional[str], Optional[str]]

_engine_logger = logging.getLogger("headwater.engine")
_plain_formatter = logging.Formatter()


class _LineCollector(logging.Logger):
    """A logger of one call on a worker: it keeps its records as :data:`LogLine` tuples and writes nothing.

    Not registered with :mod:`logging` (each call has its own, so that concurrent calls on one
    worker keep their lines apart) and without handlers: the worker's own logging is left alone.
    """

    def __init__(self, name: str, level: int) -> None:
        super().__init__(name, level)
        self.propagate = False
        self.lines: list[LogLine] = []

    def handle(self, record: logging.LogRecord) -> None:
        exc_text = record.exc_text
        if record.exc_info and not exc_text:
            exc_text = _plain_formatter.formatException(record.exc_info)
        self.lines.append((record.created, record.levelno, record.getMessage(), exc_text, record.stack_info))


class RemoteRunContext:
    """What a worker needs to run a task function as its task run: ids, name, ``log_prints``, level.

    Made in the flow's process by ``call.remote_context()``; sent with the function and its arguments.
    """

    __slots__ = ("task_run_id", "task_run_name", "flow_run_id", "log_flow_run_id", "log_prints", "level")

    def __init__(
        self,
        task_run_id: str,
        task_run_name: str,
        flow_run_id: Optional[str],
        log_flow_run_id: Optional[str],
        log_prints: bool,
        level: int,
    ) -> None:
        self.task_run_id = task_run_id
        self.task_run_name = task_run_name
        #: The flow run the task run belongs to.
        self.flow_run_id = flow_run_id
        #: The top-level flow run its lines are stored under (the same one for a subflow's task runs).
        self.log_flow_run_id = log_flow_run_id
        self.log_prints = log_prints
        #: Records below this level are never made, as in the flow's process.
        self.level = level

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return RemoteRunContext, tuple(getattr(self, name) for name in self.__slots__)

    def __repr__(self) -> str:
        return f"RemoteRunContext(task_run={self.task_run_name!r}, id={self.task_run_id!r})"

    def call(self, fn: Callable[..., Any], kwargs: dict[str, Any], deliver: Callable[[list[LogLine]], None]) -> Any:
        """On the worker: return ``fn(**kwargs)``, called inside the task run's context.

        The lines logged during the call go to ``deliver(lines)`` once the call ends, whether it
        returned or raised, and only if there are any. ``deliver`` sends them to the flow's process;
        an error it raises is logged on the worker and never replaces the task's outcome.
        """
        collector = _LineCollector("headwater.task_runs", self.level)
        logger = RunLogger(collector, f"Task run '{self.task_run_name}'", self.task_run_id, self.log_flow_run_id)
        # Only the logger is known here: get_run_logger() is what task code reads on a worker.
        context = TaskRunContext(cast(Any, None), cast(Any, None), None, logger)
        task_token = task_run_context.set(context)
        print_token = print_to_logger(logger) if self.log_prints else None
        try:
            return fn(**kwargs)
        finally:
            if print_token is not None:
                reset_print(print_token)
            task_run_context.reset(task_token)
            if collector.lines:
                try:
                    deliver(collector.lines)
                except Exception:
                    _engine_logger.warning(
                        "Could not send the log lines of task run '%s' to the flow's process.", self.task_run_name, exc_info=True
                    )


def replay_lines(logger: RunLogger, lines: Iterable[Sequence[Any]]) -> None:
    """In the flow's process: log lines collected on a worker through the run's ``logger``.

    Each keeps the time it was logged at on the worker; the run's handlers (the console, the
    store) see it as any line of the run.
    """
    target = logger.logger
    extra = logger.extra
    for created, level, message, exc_text, stack_info in lines:
        if not target.isEnabledFor(level):
            continue
        record = target.makeRecord(target.name, level, "(worker)", 0, message, None, None, None, extra)  # type: ignore[arg-type]
        record.created = created
        record.msecs = int((created - int(created)) * 1000) + 0.0
        record.exc_text = exc_text
        record.stack_info = stack_info
        target.handle(record)
