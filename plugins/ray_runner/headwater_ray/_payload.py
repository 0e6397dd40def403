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
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    pass

__all__ = ["remote_function", "original_error"]

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
