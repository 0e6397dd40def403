"""Futures: what ``Task.submit()`` returns, and ``wait`` for many of them."""

from __future__ import annotations

import concurrent.futures
from typing import TYPE_CHECKING, Any, Generator, Generic, Iterable, NamedTuple, Optional, TypeVar

from .states import State

if TYPE_CHECKING:
    from .runs import TaskRun
    from .task_engine import TaskRunEngine

__all__ = ["HeadwaterFuture", "AsyncFlowFuture", "FutureList", "wait", "wait_async", "DoneAndNotDone"]

R = TypeVar("R")


class HeadwaterFuture(Generic[R]):
    """The eventual final state of a submitted task run.

    ``result()`` waits and returns the task's value (or raises its exception);
    ``wait()`` waits and returns the final state; ``state`` is the run's state
    right now, without waiting.
    """

    __slots__ = ("task_run", "_future", "_outcome", "observed", "_engine")

    def __init__(self, task_run: TaskRun, future: concurrent.futures.Future, engine: Optional[TaskRunEngine] = None) -> None:
        self.task_run = task_run
        self._future: Optional[concurrent.futures.Future] = future
        # The runner's future's outcome, (final state, None) or (None, error), once it has one.
        self._outcome: Optional[tuple[Optional[State], Optional[BaseException]]] = None
        #: Set once someone asked for the result: a failure that was looked at is the caller's to handle.
        self.observed = False
        # Only cancel_run needs the engine, and a run already over cannot be cancelled: letting go of
        # it frees the engine, its logger and its context.
        state = task_run.state
        self._engine = engine if state is None or not state.is_final() else None
        future.add_done_callback(self._settle)  # at once if it is done already (the Sequential runner's)

    def _settle(self, future: concurrent.futures.Future) -> None:
        """Keep the outcome and let go of the runner's future.

        A flow keeps every future it submitted until it ends. A finished ``concurrent.futures.Future``
        still holds its ``Condition`` (a lock, its bound methods, a deque of waiters): with those, the
        garbage collector walked 18 objects a kept future, and its full collections took 25-35 us a
        task of a 10,000-task flow.
        """
        if future.cancelled():
            return  # kept: result() raises CancelledError, as the runner's future does
        error = future.exception()
        self._outcome = (None, error) if error is not None else (future.result(), None)
        self._future = None
        if error is None:
            self._engine = None  # the run is over

    def _inner(self) -> concurrent.futures.Future:
        """A ``concurrent.futures.Future`` of the run: the runner's, or a finished one made from the outcome."""
        future = self._future
        if future is not None:
            return future
        assert self._outcome is not None
        finished: concurrent.futures.Future = concurrent.futures.Future()
        state, error = self._outcome
        if error is not None:
            finished.set_exception(error)
        else:
            finished.set_result(state)
        return finished

    def _final_state(self, timeout: Optional[float]) -> State:
        """The final state, waiting up to ``timeout`` seconds (raises as ``Future.result`` does)."""
        outcome = self._outcome
        if outcome is None:
            future = self._future
            if future is not None:
                return future.result(timeout)
            outcome = self._outcome  # settled since the first look
            assert outcome is not None
        state, error = outcome
        if error is not None:
            raise error
        assert state is not None
        return state

    @property
    def task_run_id(self) -> str:
        return self.task_run.id

    @property
    def state(self) -> State:
        outcome = self._outcome
        if outcome is not None and outcome[0] is not None:
            return outcome[0]
        future = self._future
        if future is not None and future.done() and not future.cancelled() and future.exception() is None:
            return future.result()
        assert self.task_run.state is not None
        return self.task_run.state

    def get_state(self) -> State:
        """The run's state right now (Prefect 2's name for :attr:`state`)."""
        return self.state

    def done(self) -> bool:
        future = self._future
        return future is None or future.done()

    def wait(self, timeout: Optional[float] = None) -> Optional[State]:
        """Wait for the run to finish and return its final state (``None`` if ``timeout`` passed first)."""
        try:
            return self._final_state(timeout)
        except concurrent.futures.TimeoutError:
            return None

    def result(self, timeout: Optional[float] = None, raise_on_failure: bool = True) -> R:
        """Wait for the run and return its value; a failed run raises its exception."""
        try:
            state = self._final_state(timeout)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(
                f"Task run {self.task_run.name!r} did not finish within {timeout} seconds "
                f"(its state is {self.task_run.state!r})."
            ) from None
        self.observed = True
        return state.result(raise_on_failure=raise_on_failure)

    def cancel_run(self, message: str) -> bool:
        """Record the run Cancelled unless it already finished (its flow run was interrupted); return whether it was."""
        future = self._future
        if future is not None:
            future.cancel()  # a run the runner has not started yet never starts
        return self._engine is not None and self._engine.cancel(message) is not None

    def add_done_callback(self, fn: Any) -> None:
        self._inner().add_done_callback(lambda _: fn(self))

    def __await__(self) -> Generator[Any, None, State]:
        import asyncio

        return asyncio.wrap_future(self._inner()).__await__()

    def __repr__(self) -> str:
        return f"HeadwaterFuture({self.task_run.name!r}, state={self.state!r})"


async def _ready(value: Any) -> Any:
    return value


class AsyncFlowFuture(HeadwaterFuture[R]):
    """What ``submit()`` returns in an async flow, so that Prefect 2's async code runs as it is.

    ``future = await task.submit()`` gives the future itself, and from then on (as a future of
    Prefect 2's async flows) ``await future.result()`` and ``await future.wait()`` wait without
    blocking the loop, and ``await future`` gives the final state. A future that was never awaited
    behaves as any :class:`HeadwaterFuture`: ``result()`` and ``wait()`` block and return.
    """

    __slots__ = ("asynchronous",)

    def __init__(self, task_run: TaskRun, future: concurrent.futures.Future, engine: Optional[TaskRunEngine] = None) -> None:
        super().__init__(task_run, future, engine)
        #: Set once the future was awaited for itself: its result() and wait() are awaitable then.
        self.asynchronous = False

    def __await__(self) -> Generator[Any, None, Any]:
        if self.asynchronous:
            return super().__await__()
        self.asynchronous = True
        return _ready(self).__await__()

    async def _settled(self, timeout: Optional[float]) -> None:
        inner = self._future
        if inner is not None and not inner.done():
            import asyncio

            await asyncio.wait([asyncio.wrap_future(inner)], timeout=timeout)

    async def _result_async(self, timeout: Optional[float], raise_on_failure: bool) -> R:
        await self._settled(timeout)
        return HeadwaterFuture.result(self, 0 if timeout is not None else None, raise_on_failure)

    async def _wait_async(self, timeout: Optional[float]) -> Optional[State]:
        await self._settled(timeout)
        return HeadwaterFuture.wait(self, 0 if timeout is not None else None)

    def result(self, timeout: Optional[float] = None, raise_on_failure: bool = True) -> Any:
        if self.asynchronous:
            return self._result_async(timeout, raise_on_failure)
        return super().result(timeout, raise_on_failure)

    def wait(self, timeout: Optional[float] = None) -> Any:
        if self.asynchronous:
            return self._wait_async(timeout)
        return super().wait(timeout)


class FutureList(list):  # type: ignore[type-arg]
    """The futures ``map()`` returns in an async flow: a list, which ``await task.map(...)`` also gives (Prefect 2)."""

    def __await__(self) -> Generator[Any, None, FutureList]:
        for future in self:
            if isinstance(future, AsyncFlowFuture):
                future.asynchronous = True
        return _ready(self).__await__()


class DoneAndNotDone(NamedTuple):
    done: set[HeadwaterFuture]
    not_done: set[HeadwaterFuture]


def _unsettled(futures: Iterable[HeadwaterFuture]) -> tuple[set[HeadwaterFuture], dict[concurrent.futures.Future, HeadwaterFuture]]:
    """The futures already settled, and the others by their runner's future.

    A settled future is done and is not waited on: making it a finished ``concurrent.futures.Future``
    to wait on (with its Condition, lock and waiters) cost a flow of 10,000 submitted tasks a
    dozen objects a task at its end, and the garbage collections they set off.
    """
    settled: set[HeadwaterFuture] = set()
    by_inner: dict[concurrent.futures.Future, HeadwaterFuture] = {}
    for future in futures:
        inner = future._future  # read once: a worker thread may settle it meanwhile
        if inner is None:
            settled.add(future)
        else:
            by_inner[inner] = future
    return settled, by_inner


def wait(futures: Iterable[HeadwaterFuture], timeout: Optional[float] = None) -> DoneAndNotDone:
    """Wait until every future is done, or ``timeout`` seconds pass; return which are done."""
    done, by_inner = _unsettled(futures)
    if not by_inner:
        return DoneAndNotDone(done, set())
    finished, not_done = concurrent.futures.wait(by_inner, timeout=timeout)
    done.update(by_inner[f] for f in finished)
    return DoneAndNotDone(done, {by_inner[f] for f in not_done})


async def wait_async(futures: Iterable[HeadwaterFuture]) -> None:
    """Wait, without blocking the event loop, until every future is done."""
    import asyncio

    _, by_inner = _unsettled(futures)
    if by_inner:
        await asyncio.gather(*(asyncio.wrap_future(f) for f in by_inner), return_exceptions=True)
