"""What travels to a Dask worker: the task's function and its arguments, nothing of headwater's context.

The two callables here run on the worker. They take the arguments as one dict,
so that a task parameter named like a ``Client.submit`` option (``key``,
``workers``, ``priority``...) cannot be taken for one.
"""

from __future__ import annotations

# Frames of this module are left out of the tracebacks headwater logs for a failed task.
__tracebackhide__ = True

import asyncio
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    pass

__all__ = ["call_sync", "call_async"]


def call_sync(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    return fn(**kwargs)


def call_async(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    # A Dask worker runs tasks on threads without an event loop: the coroutine gets one of its own.
    return asyncio.run(fn(**kwargs))
