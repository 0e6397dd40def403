"""Per-task Dask options, set around ``.submit()`` with ``remote_options``."""

from __future__ import annotations

import contextlib
import contextvars
import types
from typing import Any, Iterator, Mapping

__all__ = ["remote_options", "current_options"]

# The keyword arguments of distributed.Client.submit that say where and how soon a task runs.
# key, pure and retries stay headwater's: it names the runs and re-submits failed ones itself.
ALLOWED = frozenset({"resources", "workers", "priority", "allow_other_workers"})

_current: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar("headwater_dask_options", default=types.MappingProxyType({}))


@contextlib.contextmanager
def remote_options(**options: Any) -> Iterator[Mapping[str, Any]]:
    """Pass Dask scheduling options to every task submitted inside the block.

    ``resources={"GPU": 1}``, ``workers=[...]``, ``priority=10``, ``allow_other_workers=True``:
    the keyword arguments of ``distributed.Client.submit``. Blocks nest; the inner one wins per key.
    """
    unknown = set(options) - ALLOWED
    if unknown:
        raise TypeError(
            f"remote_options() got {', '.join(sorted(unknown))}; it takes {', '.join(sorted(ALLOWED))} "
            "(headwater sets key and pure, and does retries itself: use @task(retries=...))."
        )
    token = _current.set({**_current.get(), **options})
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def current_options() -> Mapping[str, Any]:
    """The options of the ``remote_options`` blocks around the ``.submit()`` of the run being executed.

    Read in the runner's ``execute``: headwater runs each submitted run in a copy of its submitter's context.
    """
    return _current.get()
