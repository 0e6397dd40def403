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
import collections
import concurrent.futures
import contextvars
import copy
import queue
import threading
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Optional

if TYPE_CHECKING:
    import asyncio

    from .states import State
    from .task_engine import SubmittedRun, TaskCall

__all__ = ["TaskRunner", "EventLoopTaskRunner", "SequentialTaskRunner", "ConcurrentTaskRunner", "WorkerThreads"]


class TaskRunner(abc.ABC):
    """Executes the task runs a flow submits. Entered (started) for one flow run, then shut down."""

    name: ClassVar[str]

    def start(self) -> None:
        """Acquire what the runner needs (threads, a cluster, a connection)."""

    def shutdown(self) -> None:
        """Release what ``start`` acquired. Called after every submitted run has finished."""

    def cancel(self) -> None:
        """Stop at once: the flow run was interrupted (Ctrl-C, SIGTERM) and its unfinished task runs are
        already recorded Cancelled. Called instead of ``shutdown``; drop queued work, do not wait for
        running work, release what ``start`` acquired. By default, ``shutdown()``."""
        self.shutdown()

    @abc.abstractmethod
    def submit(self, run: SubmittedRun) -> concurrent.futures.Future[State]:
        """Start a submitted run; return a future of its final state."""

    def duplicate(self) -> TaskRunner:
        """A fresh, unstarted copy for another flow run (a flow may run several times, even at once)."""
        return copy.copy(self)

    def __enter__(self) -> TaskRunner:
        self.start()
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc is not None and not isinstance(exc, Exception):
            self.cancel()
        else:
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
    """A runner whose submitted runs are orchestrated as coroutines on an asyncio loop in a thread of its own.

    Subclasses implement :meth:`execute`. (A plain asyncio loop rather than an
    anyio blocking portal: handing a coroutine to it costs about a fifth as much.)
    """

    def __init__(self) -> None:
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._started = False
        self._lock = threading.Lock()
        self._arrivals: collections.deque[tuple[SubmittedRun, concurrent.futures.Future[State], contextvars.Context]] = collections.deque()
        self._wakeup_pending = False
        #: The runs' coroutines on the loop (only these are cancelled on an interrupt, not an engine client's own).
        self._running: set[asyncio.Task[State]] = set()

    def start(self) -> None:
        # The loop starts with the first submission: most flow runs that call tasks directly never need it.
        self._started = True

    def _start_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                if not self._started:
                    raise RuntimeError(f"{self!r} was asked to run a task before it was started")
                import asyncio  # here: a flow that only calls tasks directly never needs it (30-40 ms to import)

                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=f"headwater-{self.name}-loop", daemon=True)
                thread.start()
                try:
                    self.loop_started(loop)
                except BaseException:
                    # A runner that could not start (an unreachable cluster) leaves no thread behind.
                    loop.call_soon_threadsafe(loop.stop)
                    thread.join()
                    loop.close()
                    raise
                self._loop, self._thread = loop, thread
            return self._loop

    def duplicate(self) -> TaskRunner:
        twin = copy.copy(self)
        EventLoopTaskRunner.__init__(twin)  # its own loop, thread and lock
        return twin

    def loop_started(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called once the runner's loop runs, before the first run is handed to it: acquire resources here."""

    def shutdown(self) -> None:
        loop, thread = self._loop, self._thread
        self._loop = self._thread = None
        self._started = False
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    def cancel(self) -> None:
        loop = self._loop
        if loop is not None:
            # Each run's coroutine gets CancelledError: an engine that had not yet recorded it does so now.
            done: concurrent.futures.Future[None] = concurrent.futures.Future()
            loop.call_soon_threadsafe(_cancel_tasks, list(self._running), done)
            done.result()
        self.shutdown()

    def submit(self, run: SubmittedRun) -> concurrent.futures.Future[State]:
        loop = self._loop or self._start_loop()
        future: concurrent.futures.Future[State] = concurrent.futures.Future()
        # The run's coroutine runs in a copy of the submitter's context: `execute` sees the context
        # variables set around `.submit()` (a runner's per-task options, say).
        self._arrivals.append((run, future, contextvars.copy_context()))
        # Waking the loop is a system call: one wake-up serves every run submitted before it drains.
        if not self._wakeup_pending:
            self._wakeup_pending = True
            loop.call_soon_threadsafe(self._start_arrivals)
        return future

    def _start_arrivals(self) -> None:
        self._wakeup_pending = False  # before draining: a run appended after this schedules its own wake-up
        arrivals, loop = self._arrivals, self._loop
        assert loop is not None
        while arrivals:
            run, future, context = arrivals.popleft()
            if future.set_running_or_notify_cancel():
                task = context.run(loop.create_task, run.run_async(self.execute))  # the task takes a copy of `context`
                task.add_done_callback(partial(_settle, future))
                self._running.add(task)
                task.add_done_callback(self._running.discard)

    @abc.abstractmethod
    async def execute(self, call: TaskCall) -> Any:
        """Call the task's function (``await call.run_async()`` or ``call.run_sync()`` somewhere) and return its value."""


def _cancel_tasks(tasks: list[asyncio.Task[State]], done: concurrent.futures.Future[None]) -> None:
    tasks = [task for task in tasks if not task.done()]
    for task in tasks:
        task.cancel()
    if not tasks:
        done.set_result(None)
        return
    # Let the cancelled coroutines run their except clauses before the loop stops.
    import asyncio

    gathered = asyncio.gather(*tasks, return_exceptions=True)
    gathered.add_done_callback(lambda _: done.set_result(None))


def _settle(future: concurrent.futures.Future[State], task: asyncio.Task[State]) -> None:
    """Hand a finished coroutine's outcome to the future the submitter holds."""
    if task.cancelled():
        future.cancel()
    elif task.exception() is not None:
        future.set_exception(task.exception())
    else:
        future.set_result(task.result())


class ConcurrentTaskRunner(EventLoopTaskRunner):
    """Runs submitted tasks concurrently: sync functions on worker threads, async ones on the runner's event loop.

    :param max_workers: how many sync task functions may run at once (default 32).
    """

    name = "concurrent"

    def __init__(self, max_workers: Optional[int] = None) -> None:
        super().__init__()
        if max_workers is not None and (not isinstance(max_workers, int) or isinstance(max_workers, bool) or max_workers < 1):
            from .exceptions import ConfigurationError

            raise ConfigurationError(
                f"ConcurrentTaskRunner(max_workers={max_workers!r}): max_workers must be a positive integer, or None for the default."
            )
        self.max_workers = max_workers
        self._executor: Optional[WorkerThreads] = None

    def loop_started(self, loop: asyncio.AbstractEventLoop) -> None:
        self._executor = WorkerThreads(self.max_workers or 32, name="headwater-task")

    def shutdown(self) -> None:
        super().shutdown()
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    def cancel(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)  # a running function cannot be stopped
            self._executor = None
        super().cancel()

    def submit(self, run: SubmittedRun) -> concurrent.futures.Future[State]:
        if not run.task.is_async and run.inputs_ready():
            # Nothing to wait for: the whole run goes straight to a worker thread, one hand-over
            # instead of three (caller -> loop -> worker -> loop).
            if self._executor is None:
                self._start_loop()
            assert self._executor is not None
            return self._executor.submit(run.run_sync)
        return super().submit(run)

    async def execute(self, call: TaskCall) -> Any:
        if call.is_async:
            return await call.run_async()
        assert self._loop is not None
        return await self._loop.run_in_executor(self._executor, call.run_sync)

    def __repr__(self) -> str:
        return f"ConcurrentTaskRunner(max_workers={self.max_workers})" if self.max_workers else "ConcurrentTaskRunner()"


class WorkerThreads(concurrent.futures.Executor):
    """A pool of daemon threads for sync task functions.

    Unlike ``ThreadPoolExecutor``, whose threads the interpreter joins at exit, an
    interrupted flow's process can exit while a task function still runs on one of
    these (the run is recorded Cancelled by then). Threads start as work arrives,
    up to ``max_workers``, and an idle thread takes the next item first.
    """

    def __init__(self, max_workers: int, name: str = "headwater-worker") -> None:
        self.max_workers = max_workers
        self.name = name
        self._queue: queue.SimpleQueue[Optional[tuple[concurrent.futures.Future[Any], Any, tuple[Any, ...], dict[str, Any]]]] = queue.SimpleQueue()
        # One token for each item a thread finished: a submit that finds one takes it instead of
        # starting a thread. (A deque, whose append and pop need no lock: a Semaphore cost 1.6 us
        # a task run, against 0.07.)
        self._idle: collections.deque[None] = collections.deque()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self.name}: cannot take work after shutdown")
            self._queue.put((future, fn, args, kwargs))
            try:
                self._idle.pop()
            except IndexError:
                if len(self._threads) < self.max_workers:
                    self._start_thread()
        return future

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._work, name=f"{self.name}-{len(self._threads)}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, fn, args, kwargs = item
            del item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as exc:
                    future.set_exception(exc)
            del future, fn, args, kwargs  # drop the result before idling
            self._idle.append(None)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join()
