"""What travels to a Dask worker: the task's function and its arguments, nothing of headwater's context.

The two callables here run on the worker. They take the arguments as one dict,
so that a task parameter named like a ``Client.submit`` option (``key``,
``workers``, ``priority``...) cannot be taken for one.
"""

from __future__ import annotations

# Frames of this module are left out of the tracebacks headwater logs for a failed task.
__tracebackhide__ = True

import asyncio
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from headwater.task_engine import TaskCall

__all__ = ["call_sync", "call_async", "unpicklable_error"]


def call_sync(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    return fn(**kwargs)


def call_async(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    # A Dask worker runs tasks on threads without an event loop: the coroutine gets one of its own.
    return asyncio.run(fn(**kwargs))


def unpicklable_error(call: TaskCall, engine: str, error: BaseException) -> Optional[TypeError]:
    """If ``error`` came from an argument (or the function) that cannot be pickled, an error that names it.

    Only called once submitting failed, so pickling each argument again costs nothing on the usual path.
    """
    import cloudpickle

    def fails(value: Any) -> Optional[Exception]:
        try:
            cloudpickle.dumps(value)
        except Exception as exc:
            return exc
        return None

    for name, value in call.kwargs.items():
        problem = fails(value)
        if problem is not None:
            return TypeError(
                f"Task {call.task.name!r}: argument {name!r} (a {type(value).__module__}.{type(value).__qualname__}) "
                f"cannot be pickled to send it to {engine}: {problem}. Pass something picklable (a path, a "
                "connection string) and open the resource inside the task, or use a runner that runs tasks in "
                "this process ('concurrent')."
            )
    problem = fails(call.fn)
    if problem is not None:
        return TypeError(
            f"Task {call.task.name!r}: its function cannot be pickled to send it to {engine}: {problem}. "
            "A function that refers to unpicklable globals (locks, open connections) cannot run on workers."
        )
    return None
