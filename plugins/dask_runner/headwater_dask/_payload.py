"""What travels to a Dask worker: the task's function, its arguments, and the run's small remote context.

The callables here run on the worker. They take the arguments as one dict,
so that a task parameter named like a ``Client.submit`` option (``key``,
``workers``, ``priority``...) cannot be taken for one. The function is called
through :meth:`headwater.remote.RemoteRunContext.call`, so ``get_run_logger()``
and ``log_prints`` work in task code; the lines it collects go back to the
flow's process as a Dask event on :data:`LOG_TOPIC`, while the function's value
stays the Dask future's value.
"""

from __future__ import annotations

# Frames of this module are left out of the tracebacks headwater logs for a failed task.
__tracebackhide__ = True

from functools import partial
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from headwater.remote import LogLine, RemoteRunContext

__all__ = ["call_sync", "call_async", "LOG_TOPIC"]

#: The Dask event topic of task runs' log lines. One topic for every headwater client of a
#: scheduler: the scheduler keeps a bounded backlog per topic, so a topic per client would leave
#: one backlog behind for each flow run a long-lived scheduler serves. A client ignores the lines
#: of runs that are not its own.
LOG_TOPIC = "headwater-task-run-logs"


def _publish(run_id: str, lines: list[LogLine]) -> None:
    from distributed import get_worker

    # Rides the worker's batched stream to the scheduler, ahead of the task's completion: the
    # client gets the event before it learns that the task finished. No round trip.
    get_worker().log_event(LOG_TOPIC, {"run": run_id, "lines": lines})


def call_sync(fn: Callable[..., Any], kwargs: dict[str, Any], context: RemoteRunContext) -> Any:
    return context.call(fn, kwargs, partial(_publish, context.task_run_id))


def _run_coroutine(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    # A Dask worker runs tasks on threads without an event loop: the coroutine gets one of its own
    # (a copy of this context: the run's context is visible inside it).
    import asyncio

    return asyncio.run(fn(**kwargs))


def call_async(fn: Callable[..., Any], kwargs: dict[str, Any], context: RemoteRunContext) -> Any:
    return context.call(_run_coroutine, {"fn": fn, "kwargs": kwargs}, partial(_publish, context.task_run_id))
