"""What a submission carries besides the call: Dask options set around ``submit``, and which arguments are upstream futures.

Both are read on the thread that calls ``Task.submit`` (where the user's ``with``
block is), kept by task run id, and used when the run's function is handed to
Dask on the runner's loop.
"""

from __future__ import annotations

import contextlib
import contextvars
import types
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Optional

from headwater.futures import HeadwaterFuture

if TYPE_CHECKING:
    from headwater.task_engine import SubmittedRun

__all__ = ["remote_options", "Submission", "capture"]

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


class Submission:
    """The options and upstream runs of one submitted task run."""

    __slots__ = ("options", "upstream")

    def __init__(self, options: Mapping[str, Any], upstream: dict[str, str]) -> None:
        self.options = options
        #: parameter name -> the task run id of the future passed as that parameter
        self.upstream = upstream

    def arguments(self, kwargs: dict[str, Any], native: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` with each upstream value whose Dask future is still held replaced by that future."""
        swapped = None
        for name, run_id in self.upstream.items():
            future = native.get(run_id)
            if future is not None:
                if swapped is None:
                    swapped = dict(kwargs)
                swapped[name] = future
        return kwargs if swapped is None else swapped


def capture(run: SubmittedRun) -> Optional[Submission]:
    """What to remember about ``run`` at submit time; ``None`` when there is nothing (the usual case)."""
    options = _current.get()
    # Core gap: SubmittedRun does not say which parameters were futures, so this reads the engine's.
    parameters = run.engine.parameters
    upstream = {name: value.task_run.id for name, value in parameters.items() if isinstance(value, HeadwaterFuture)}
    if not options and not upstream:
        return None
    return Submission(options, upstream)
