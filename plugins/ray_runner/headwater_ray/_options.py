"""Per-task Ray options, set around ``.submit()`` with ``remote_options``."""

from __future__ import annotations

import contextlib
import contextvars
import types
from typing import Any, Iterator, Mapping

__all__ = ["remote_options", "current_options"]

_current: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("headwater_ray_options", default=types.MappingProxyType({}))


@contextlib.contextmanager
def remote_options(**options: Any) -> Iterator[Mapping[str, Any]]:
    """Pass Ray task options to every task submitted inside the block.

    Any keyword of ``RemoteFunction.options``: ``num_cpus=1``, ``num_gpus=1``, ``memory=...``,
    ``resources={"special": 1}``, ``scheduling_strategy=...``, ``runtime_env=...``, ``max_retries=0``.
    Blocks nest; the inner one wins per key. Ray checks the names when the block is entered.
    """
    if options:
        import ray

        ray.remote(**options)(_check_options)  # Ray's own check of names and values, raising ValueError
    token = _current.set({**_current.get(), **options})
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def _check_options() -> None:
    """A function for Ray to validate options against; never called."""


def current_options() -> Mapping[str, Any]:
    """The options of the ``remote_options`` blocks around the ``.submit()`` of the run being executed.

    Read in the runner's ``execute``: headwater runs each submitted run in a copy of its submitter's context.
    """
    return _current.get()
