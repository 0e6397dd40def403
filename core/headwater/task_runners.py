"""Task runners: where submitted task functions execute.

A runner only executes. The orchestration of a submitted task run (its states,
retries, cache, records) is a :class:`SubmittedRun` that stays in the flow's
process; the runner decides where the task's function itself is called.

There are two ways to write one:

* subclass :class:`TaskRunner` and implement ``submit(run)``, which returns a
  ``concurrent.futures.Future`` of the run's final state: call
  ``run.run_sync()`` to drive it on the current thread (see
  :class:`SequentialTaskRunner`);
* or subclass :class:`EventLoopTaskRunner` and implement only
  ``async execute(call)``, which calls ``call.fn(**call.kwargs)`` wherever the
  runner likes and returns its value. Orchestration then runs as coroutines on
  an event loop of the runner's own, so thousands of waiting runs hold no
  threads (see :class:`ConcurrentTaskRunner`).

Runners are registered through the ``register_task_runners`` hook and chosen
with ``@flow(task_runner=...)``: an instance, a class, or a registered name.
"""

from __future__ import annotations

import abc
import concurrent.futures
import copy
import threading
from typing import TYPE_CHECKING, Any, ClassVar, Optional

if TYPE_CHECKING:
    from .states import State
    from .task_engine import SubmittedRun, TaskCall

__all__ = ["TaskRunner", "EventLoopTaskRunner", "SequentialTaskRunner", "ConcurrentTaskRunner"]


class TaskRunner(abc.ABC):
    """Executes the task runs a flow submits. Entered (started) for one flow run, then shut down."""

    name: ClassVar[str]

    def start(self) -> None:
        """Acquire what the runner needs (threads, a cluster, a connection)."""

    def shutdown(self) -> None:
        """Release what ``start`` acquired. Called after every submitted run has finished."""

    @abc.abstractmethod
    def submit(self, run: SubmittedRun) -> concurrent.futures.Future[State]:
        """Start a submitted run; return a future of its final state."""

    def duplicate(self) -> TaskRunner:
        """A fresh, unstarted copy for another flow run (a flow may run several times, even at once)."""
        return copy.copy(self)

    def __enter__(self) -> TaskRunner:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SequentialTaskRunner(TaskRunner):
    """Runs each submitted task at once, to the end, on the flow's own thread."""

    name = "sequential"

    def submit(self, run: SubmittedRun) -> concurrent.futures.Future[State]:
        future: concurrent.futures.Future[State] = concurrent.futures.Future()
        try:
            future.set_result(run.run_sync())
        except BaseException as exc:
            future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        return future


class EventLoopTaskRunner(TaskRunner):
    """A runner whose submitted runs are orchestrated as coroutines on an event loop in a thread of its own."""

    def __init__(self) -> None:
        self._portal: Any = None
        self._portal_cm: Any = None
        self._lock = threading.Lock()

    def start(self) -> None:
        from anyio.from_thread import start_blocking_portal

        self._portal_cm = start_blocking_portal()
        self._portal = self._portal_cm.__enter__()

    def shutdown(self) -> None:
        if self._portal_cm is not None:
            cm, self._portal_cm, self._portal = self._portal_cm, None, None
            cm.__exit__(None, None, None)

    def submit(self, run: SubmittedRun) -> concurrent.futures.Future[State]:
        if self._portal is None:
            raise RuntimeError(f"{self!r} was asked to run a task before it was started")
        return self._portal.start_task_soon(run.run_async, self.execute)

    @abc.abstractmethod
    async def execute(self, call: TaskCall) -> Any:
        """Call the task's function (``await call.run_async()`` or ``call.run_sync()`` somewhere) and return its value."""


class ConcurrentTaskRunner(EventLoopTaskRunner):
    """Runs submitted tasks concurrently: sync functions on anyio worker threads, async ones on the event loop.

    :param max_workers: how many sync task functions may run at once (default: anyio's 40 threads).
    """

    name = "concurrent"

    def __init__(self, max_workers: Optional[int] = None) -> None:
        super().__init__()
        if max_workers is not None and (not isinstance(max_workers, int) or max_workers < 1):
            from .exceptions import ConfigurationError

            raise ConfigurationError(f"ConcurrentTaskRunner(max_workers={max_workers!r}): max_workers must be a positive integer, or None for the default.")
        self.max_workers = max_workers
        self._limiter: Any = None

    def start(self) -> None:
        super().start()
        if self.max_workers is not None:
            import anyio

            self._limiter = self._portal.call(lambda: anyio.CapacityLimiter(self.max_workers))

    async def execute(self, call: TaskCall) -> Any:
        if call.is_async:
            return await call.run_async()
        import anyio.to_thread

        return await anyio.to_thread.run_sync(call.run_sync, limiter=self._limiter)

    def __repr__(self) -> str:
        return f"ConcurrentTaskRunner(max_workers={self.max_workers})" if self.max_workers else "ConcurrentTaskRunner()"
