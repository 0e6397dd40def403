"""What travels to a Ray worker: the task's function and its arguments, nothing of headwater's context.

Each task function becomes a Ray remote function once (per process), and is reused for every run.
"""

from __future__ import annotations

# Frames of this module are left out of the tracebacks headwater logs for a failed task.
__tracebackhide__ = True

import asyncio
import functools
import re
import weakref
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from headwater.task_engine import TaskCall

__all__ = ["remote_function", "original_error", "unpicklable_error"]

_remote_functions: weakref.WeakKeyDictionary[Callable[..., Any], Any] = weakref.WeakKeyDictionary()
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _run_coroutine(fn: Callable[..., Any]) -> Callable[..., Any]:
    # Ray runs 'async def' only in actors: a task gets an event loop of its own on the worker.
    @functools.wraps(fn)
    def run(**kwargs: Any) -> Any:
        return asyncio.run(fn(**kwargs))

    return run


def remote_function(fn: Callable[..., Any], is_async: bool) -> Any:
    """The Ray remote function of a task function, built once and reused."""
    remote = _remote_functions.get(fn)
    if remote is None:
        import ray

        remote = _remote_functions[fn] = ray.remote(_run_coroutine(fn) if is_async else fn)
    return remote


def original_error(error: BaseException) -> BaseException:
    """The task's own exception from Ray's wrapper, with the worker's traceback attached as a note."""
    cause = getattr(error, "cause", None)
    if not isinstance(cause, BaseException) or type(cause).__module__.startswith("ray."):
        return error
    if hasattr(cause, "add_note"):  # Python 3.11+: shown under the exception wherever it is printed
        cause.add_note("Raised on a Ray worker:\n" + _ANSI.sub("", str(error)))
    return cause


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
