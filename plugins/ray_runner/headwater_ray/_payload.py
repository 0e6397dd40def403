"""What travels to a Ray worker: the task's function, its arguments, and the run's small remote context.

Each task function becomes a Ray remote function once (per process), and is reused for every run.
It is called through :meth:`headwater.remote.RemoteRunContext.call`, so ``get_run_logger()`` and
``log_prints`` work in task code. The remote function has two returns: the lines the call logged, a
small object, and the function's value, which stays the task's own object (its ref can be passed on
to other tasks as it is). Both come back in the same reply, the lines first. When the function raises, the lines
ride on the exception instead (:func:`take_lines`).
"""

from __future__ import annotations

# Frames of this module are left out of the tracebacks headwater logs for a failed task.
__tracebackhide__ = True

import functools
import re
import weakref
from typing import TYPE_CHECKING, Any, Callable, Optional

if TYPE_CHECKING:
    from headwater.remote import LogLine, RemoteRunContext

__all__ = ["remote_function", "original_error", "take_lines"]

# The attribute of a task's exception that carries the lines logged before it was raised. An
# exception's attributes are pickled with it, so they reach the flow's process inside Ray's error.
_LINES_ATTRIBUTE = "_headwater_log_lines"

_remote_functions: weakref.WeakKeyDictionary[Callable[..., Any], Any] = weakref.WeakKeyDictionary()
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _run_coroutine(fn: Callable[..., Any]) -> Callable[..., Any]:
    # Ray runs 'async def' only in actors: a task gets an event loop of its own on the worker
    # (a copy of this context: the run's context is visible inside it).
    @functools.wraps(fn)
    def run(**kwargs: Any) -> Any:
        import asyncio

        return asyncio.run(fn(**kwargs))

    return run


def _in_run_context(fn: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
    target = _run_coroutine(fn) if is_async else fn

    # The context is positional-only, so that no task parameter can be taken for it.
    def run(context: RemoteRunContext, /, **kwargs: Any) -> tuple[list[LogLine], Any]:
        lines: list[LogLine] = []
        try:
            value = context.call(target, kwargs, lines.extend)
        except BaseException as exc:
            if lines:
                try:
                    setattr(exc, _LINES_ATTRIBUTE, lines)
                except Exception:
                    pass  # an exception that takes no attributes: its lines are lost
            raise
        return lines, value

    # Named like the task function on Ray's dashboard. Not functools.wraps: Ray reads the signature
    # of the function it runs, and __wrapped__ would give it the task function's instead.
    run.__name__, run.__qualname__, run.__module__ = fn.__name__, getattr(fn, "__qualname__", fn.__name__), fn.__module__
    return run


def remote_function(fn: Callable[..., Any], is_async: bool) -> Any:
    """The Ray remote function of a task function, built once and reused.

    Called as ``remote.remote(context, **kwargs)``, it returns two refs: the lines' and the value's.
    """
    remote = _remote_functions.get(fn)
    if remote is None:
        import ray

        remote = _remote_functions[fn] = ray.remote(num_returns=2)(_in_run_context(fn, is_async))
    return remote


def take_lines(error: BaseException) -> Optional[list[LogLine]]:
    """The lines a failed call logged before it raised ``error`` (taken off it), if any."""
    lines = getattr(error, _LINES_ATTRIBUTE, None)
    if lines is not None:
        try:
            delattr(error, _LINES_ATTRIBUTE)
        except AttributeError:
            pass
    return lines


def original_error(error: BaseException) -> BaseException:
    """The task's own exception from Ray's wrapper, with the worker's traceback attached as a note."""
    cause = getattr(error, "cause", None)
    if not isinstance(cause, BaseException) or type(cause).__module__.startswith("ray."):
        return error
    if hasattr(cause, "add_note"):  # Python 3.11+: shown under the exception wherever it is printed
        cause.add_note("Raised on a Ray worker:\n" + _ANSI.sub("", str(error)))
    return cause
