"""What is running now: the flow run and task run contexts, and ``tags``."""

from __future__ import annotations

import contextlib
import contextvars
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Union

from .exceptions import HeadwaterError, MissingContextError

if TYPE_CHECKING:
    from .flows import Flow
    from .futures import HeadwaterFuture
    from .logs import RunLogger
    from .plugins import Plugins
    from .runs import FlowRun, TaskRun
    from .stores import Store
    from .task_runners import TaskRunner
    from .tasks import Task

__all__ = ["FlowRunContext", "TaskRunContext", "get_run_context", "tags", "get_run_logger", "current_tags", "logs_prints"]


def logs_prints(option: Optional[bool], flow_ctx: Optional[FlowRunContext]) -> bool:
    """Whether ``print`` goes to the run's logger: ``log_prints`` as given, else as the flow run it is in
    does, else ``HEADWATER_LOGGING_LOG_PRINTS`` (as in Prefect: a flow's ``log_prints=True`` reaches its tasks)."""
    if option is not None:
        return option
    if flow_ctx is not None:
        return flow_ctx.log_prints
    from .settings import last_settings

    return last_settings().logging_log_prints  # (a top-level run has just read them)


class FlowRunContext:
    """The flow run in progress, and what its task runs share."""

    def __init__(self, flow: Flow, flow_run: FlowRun, store: Store, plugins: Plugins, logger: RunLogger, task_runner: Optional[TaskRunner] = None) -> None:
        self.flow = flow
        self.flow_run = flow_run
        self.store = store
        self.plugins = plugins
        self.logger = logger
        self.task_runner = task_runner
        self.futures: list[HeadwaterFuture] = []
        #: The flow run's parameters as the flow function receives them (validated, secrets unmasked).
        self.parameters: dict[str, Any] = {}
        #: Whether ``print`` in the flow, and in its tasks and subflows that leave ``log_prints`` unset, is logged.
        self.log_prints = False
        self._counters: dict[str, int] = {}
        self._lock = threading.Lock()
        #: ``pause(timeout, poll_interval)``: what ``pause_flow_run`` calls (the flow run engine's).
        self.pause: Optional[Callable[[float, float], None]] = None

    @classmethod
    def get(cls) -> Optional[FlowRunContext]:
        """The flow run in progress in this thread, or ``None``."""
        return flow_run_context.get()

    def next_dynamic_key(self, task_key: str) -> int:
        """The counter in task run names: 0 for a task's first run in this flow run, then 1, 2, ..."""
        with self._lock:
            count = self._counters.get(task_key, 0)
            self._counters[task_key] = count + 1
            return count


class TaskRunContext:
    """The task run in progress: what a cache-key function and ``get_run_logger`` see."""

    __slots__ = ("task", "task_run", "flow_run", "logger", "flow_parameters", "parameters")

    def __init__(
        self, task: Task, task_run: TaskRun, flow_run: Optional[FlowRun], logger: RunLogger,
        flow_parameters: Optional[dict[str, Any]] = None, parameters: Optional[dict[str, Any]] = None,
    ) -> None:
        self.task = task
        self.task_run = task_run
        self.flow_run = flow_run
        self.logger = logger
        #: The parameters of the flow run this task run belongs to, as its flow function got them.
        self.flow_parameters = flow_parameters
        #: The task run's own parameters, as its function gets them (upstream values resolved, once they are).
        self.parameters = parameters if parameters is not None else {}

    @classmethod
    def get(cls) -> Optional[TaskRunContext]:
        """The task run in progress in this thread, or ``None``."""
        return task_run_context.get()


flow_run_context: contextvars.ContextVar[Optional[FlowRunContext]] = contextvars.ContextVar("headwater_flow_run", default=None)
task_run_context: contextvars.ContextVar[Optional[TaskRunContext]] = contextvars.ContextVar("headwater_task_run", default=None)
_tags: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("headwater_tags", default=())


def current_tags() -> tuple[str, ...]:
    return _tags.get()


@contextlib.contextmanager
def tags(*new_tags: str) -> Iterator[tuple[str, ...]]:
    """Add tags to every task run and flow run created inside the block."""
    for tag in new_tags:
        if not isinstance(tag, str):
            raise TypeError(f"tags() takes strings; got {tag!r}")
    merged = tuple(dict.fromkeys(_tags.get() + new_tags))
    token = _tags.set(merged)
    try:
        yield merged
    finally:
        _tags.reset(token)


#: Set by :func:`headwater.logging.disable_run_logger`.
run_logger_disabled: contextvars.ContextVar[bool] = contextvars.ContextVar("headwater_run_logger_disabled", default=False)


def get_run_logger() -> Any:
    """The logger of the task run or flow run in progress; its lines name the run."""
    task_ctx = task_run_context.get()
    if task_ctx is not None:
        return task_ctx.logger
    flow_ctx = flow_run_context.get()
    if flow_ctx is not None:
        return flow_ctx.logger
    if run_logger_disabled.get():  # within headwater.logging.disable_run_logger(): a logger that drops its lines
        import logging

        return logging.getLogger("headwater.task_runs")
    raise MissingContextError(
        "get_run_logger() was called outside a flow run or task run; call it inside a @flow or @task function "
        "(to call a task's .fn() in a test, wrap the call in headwater.logging.disable_run_logger())."
    )


def get_run_context() -> Union[TaskRunContext, FlowRunContext]:
    """The context of the task run in progress, else of the flow run in progress.

    A :class:`TaskRunContext` has ``task``, ``task_run``, ``parameters``, ``flow_run`` and ``logger``;
    a :class:`FlowRunContext` has ``flow``, ``flow_run``, ``parameters``, ``task_runner`` and ``logger``.
    Raises :class:`~headwater.exceptions.MissingContextError` outside any run.
    """
    task_ctx = task_run_context.get()
    if task_ctx is not None:
        return task_ctx
    flow_ctx = flow_run_context.get()
    if flow_ctx is not None:
        return flow_ctx
    raise MissingContextError(
        "No run context available: get_run_context() was called outside a flow run or task run. "
        "Call it inside a @flow or @task function (headwater.runtime gives None and empty values outside runs)."
    )
