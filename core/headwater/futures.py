"""Futures: what ``Task.submit()`` returns, and ``wait`` for many of them."""

from __future__ import annotations

import concurrent.futures
from typing import TYPE_CHECKING, Any, Generator, Generic, Iterable, NamedTuple, Optional, TypeVar

from .states import State

if TYPE_CHECKING:
    from .runs import TaskRun
    from .task_engine import TaskRunEngine

__all__ = ["HeadwaterFuture", "wait", "wait_async", "DoneAndNotDone"]

R = TypeVar("R")


class HeadwaterFuture(Generic[R]):
    """The eventual final state of a submitted task run.

    ``result()`` waits and returns the task's value (or raises its exception);
    ``wait()`` waits and returns the final state; ``state`` is the run's state
    right now, without waiting.
    """

    __slots__ = ("task_run", "_future", "observed", "_engine")

    def __init__(self, task_run: TaskRun, future: concurrent.futures.Future, engine: Optional[TaskRunEngine] = None) -> None:
        self.task_run = task_run
        self._future = future
        #: Set once someone asked for the result: a failure that was looked at is the caller's to handle.
        self.observed = False
        # Only cancel_run needs the engine, and a run already over cannot be cancelled: letting go of
        # it frees the engine, its logger and its context, a third of what a kept future holds for
        # the garbage collector to walk (the Sequential runner's futures are all over at once).
        state = task_run.state
        self._engine = engine if state is None or not state.is_final() else None

    @property
    def task_run_id(self) -> str:
        return self.task_run.id

    @property
    def state(self) -> State:
        if self._future.done() and self._future.exception() is None:
            return self._future.result()
        assert self.task_run.state is not None
        return self.task_run.state

    def done(self) -> bool:
        return self._future.done()

    def wait(self, timeout: Optional[float] = None) -> Optional[State]:
        """Wait for the run to finish and return its final state (``None`` if ``timeout`` passed first)."""
        try:
            return self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            return None

    def result(self, timeout: Optional[float] = None, raise_on_failure: bool = True) -> R:
        """Wait for the run and return its value; a failed run raises its exception."""
        try:
            state = self._future.result(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(
                f"Task run {self.task_run.name!r} did not finish within {timeout} seconds "
                f"(its state is {self.task_run.state!r})."
            ) from None
        self.observed = True
        return state.result(raise_on_failure=raise_on_failure)

    def cancel_run(self, message: str) -> bool:
        """Record the run Cancelled unless it already finished (its flow run was interrupted); return whether it was."""
        self._future.cancel()  # a run the runner has not started yet never starts
        return self._engine is not None and self._engine.cancel(message) is not None

    def add_done_callback(self, fn: Any) -> None:
        self._future.add_done_callback(lambda _: fn(self))

    def __await__(self) -> Generator[Any, None, State]:
        import asyncio

        return asyncio.wrap_future(self._future).__await__()

    def __repr__(self) -> str:
        return f"HeadwaterFuture({self.task_run.name!r}, state={self.state!r})"


class DoneAndNotDone(NamedTuple):
    done: set[HeadwaterFuture]
    not_done: set[HeadwaterFuture]


def wait(futures: Iterable[HeadwaterFuture], timeout: Optional[float] = None) -> DoneAndNotDone:
    """Wait until every future is done, or ``timeout`` seconds pass; return which are done."""
    futures = list(futures)
    by_inner = {f._future: f for f in futures}
    done, not_done = concurrent.futures.wait(by_inner, timeout=timeout)
    return DoneAndNotDone({by_inner[f] for f in done}, {by_inner[f] for f in not_done})


async def wait_async(futures: Iterable[HeadwaterFuture]) -> None:
    """Wait, without blocking the event loop, until every future is done."""
    import asyncio

    await asyncio.gather(*(asyncio.wrap_future(f._future) for f in futures), return_exceptions=True)
