"""What a submission carries besides the call: Ray options set around ``submit``, and which arguments are upstream futures.

Both are read on the thread that calls ``Task.submit`` (where the user's ``with``
block is), kept by task run id, and used when the run's function is handed to
Ray on the runner's loop.
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


class Submission:
    """The options and upstream runs of one submitted task run."""

    __slots__ = ("options", "upstream")

    def __init__(self, options: Mapping[str, Any], upstream: dict[str, str]) -> None:
        self.options = options
        #: parameter name -> the task run id of the future passed as that parameter
        self.upstream = upstream

    def arguments(self, kwargs: dict[str, Any], native: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` with each upstream value whose Ray object ref is still held replaced by that ref."""
        swapped = None
        for name, run_id in self.upstream.items():
            ref = native.get(run_id)
            if ref is not None:
                if swapped is None:
                    swapped = dict(kwargs)
                swapped[name] = ref
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
