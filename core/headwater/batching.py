"""The batching writer store plugins share: run records written off the flow's thread, many at a time.

A run changes state a few times a task, from the flow's thread; committing each change there
would cost a transaction each. A store's writer instead queues each write (a state, a log
line, a cache entry) and lets one thread of its own commit everything queued, every
``GATHER_SECONDS`` or when someone waits in :meth:`BatchWriter.flush`, in one transaction.
The queuing is the hot path of every task run, measured in ``python -m bench``; the store
plugin subclasses :class:`BatchWriter` and turns a batch into its database's statements in
:meth:`~BatchWriter.write_batch`.
"""

from __future__ import annotations

import abc
import collections
import itertools
import threading
import time
from typing import Any, ClassVar, Optional

from .exceptions import StoreError

__all__ = ["BatchWriter", "GATHER_SECONDS", "MAX_QUEUED", "STATE_FIELDS", "LINE_FIELDS"]

GATHER_SECONDS = 0.05  # how long the writer lets a batch gather (a flush does not wait for it)
MAX_QUEUED = 30_000  # writes waiting for the writer thread (three or so per task run)
#: Values queued a state: the run, type, name, message, timestamp, storage key, and the run's count of runs.
STATE_FIELDS = 7
#: Values queued a log line: run id, flow run id, level, logger name, timestamp, message.
LINE_FIELDS = 6


def _take(values: collections.deque[Any], fields: int) -> list[Any]:
    """Pop the rows queued in ``values`` so far, whole rows only, as one flat list."""
    count = len(values)
    count -= count % fields  # (a row goes in by one extend, so there is never part of one)
    # popleft called count times from C (iter() with a sentinel no value equals), not from a Python loop.
    return list(itertools.islice(iter(values.popleft, _NO_VALUE), count))


_NO_VALUE = object()


class BatchWriter(abc.ABC):
    """One thread that turns queued writes into batches; a subclass commits each (:meth:`write_batch`).

    Queuing takes no lock: ``put`` appends to a deque (atomic under the GIL) and sets the wake-up
    event only if the writer is asleep. Locks are taken only by those who wait: ``flush`` (for its
    marker to be committed) and a ``put`` held back because the queue is full.
    """

    #: Queued in place of None for a state's missing message or storage key: a store whose driver
    #: binds some other value faster says so here (the SQLite store binds 0, as NULLIF(?, 0)).
    null: ClassVar[Any] = None

    def __init__(self) -> None:
        self.queue: collections.deque[tuple[str, Any, Any]] = collections.deque()
        self.wake = threading.Event()  # set when there is something to write
        # Whether ``wake`` is set, kept beside it (set before it, cleared before it): Event.is_set()
        # is a Python call, and the queuing threads asked it three to five times a task run.
        self.awake = False
        self.cond = threading.Condition()  # notified after each batch: a put() held back by a full queue waits on it
        # Whether the writer is building a batch's statements. A thread that changes a state meanwhile
        # waits (on ``cond``) until they are built: the build is Python work, and when a flow's threads
        # kept the interpreter lock, it took 20-100 ms instead of 1-5 (32 threads of the Concurrent
        # runner), which a crash would have lost too. Waiting costs them nothing: under the lock, only
        # one of them could run at a time anyway.
        self.building = False
        self.error: Optional[str] = None
        self.closed = False
        self.thread: Optional[threading.Thread] = None
        self._start_lock = threading.Lock()
        # States and log lines wait outside the queue, as flat runs of plain values (STATE_FIELDS and
        # LINE_FIELDS a row), and go with each batch (flush() makes sure a batch comes). Plain values
        # make no objects for the garbage collector to track: queued as a tuple holding its State,
        # each state change of a busy flow left two for it, alive until their batch, and those set
        # off collections of the whole heap (the writer takes them with _take).
        self.states: collections.deque[Any] = collections.deque()
        self.lines: collections.deque[Any] = collections.deque()
        self.flush_wanted = threading.Event()

    def put_state(self, run: Any, state: Any) -> None:
        if self.building or len(self.states) >= MAX_QUEUED * STATE_FIELDS:
            self._wait_for_room()
        message, storage_key, null = state.message, state.storage_key, self.null
        # One extend: atomic under the GIL, so the writer never sees half a row. The run's count of
        # runs goes with its state: the writer writes the run's row as of this state (see write_batch).
        self.states.extend(
            (
                run, state.type._value_, state.name, null if message is None else message, state.timestamp,
                null if storage_key is None else storage_key, run.run_count,
            )
        )
        if not self.awake:
            self._wake()

    def put_line(self, row: tuple) -> None:
        self.lines.extend(row)
        if len(self.lines) > MAX_QUEUED * LINE_FIELDS:  # a run that logs far more than it changes state: let the writer catch up
            self.put(("lines", None, None))
        elif not self.awake:  # a line no state follows soon (a long task that logs) goes in the next batch too
            self._wake()

    def put(self, item: tuple[str, Any, Any]) -> None:
        if len(self.queue) >= MAX_QUEUED:
            self._wait_for_room()
        self.queue.append(item)
        if not self.awake:
            self._wake()

    def _full(self) -> bool:
        return len(self.queue) >= MAX_QUEUED or len(self.states) >= MAX_QUEUED * STATE_FIELDS

    def _wake(self) -> None:
        if self.thread is None:
            self._start()
        self.awake = True
        self.wake.set()

    def _start(self) -> None:
        with self._start_lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="headwater-store-writer", daemon=True)
                self.thread.start()

    def _wait_for_room(self) -> None:
        # Backpressure: a flow that outruns the disk waits here, so memory stays bounded
        # (the flow waits for the writer at its end anyway); and a state waits for a batch being built.
        with self.cond:
            while (self.building or self._full()) and self.thread is not None and self.thread.is_alive():
                self.cond.wait(0.5)

    def flush(self) -> None:
        """Return once everything queued before this call is committed (raise if it could not be)."""
        done = threading.Event()
        self.put(("flush", done, None))  # after every line and write queued so far
        self.flush_wanted.set()  # the writer stops gathering: what is queued up to here is wanted now
        while not done.wait(0.5):
            if self.thread is None or not self.thread.is_alive():
                if self.error is None:
                    raise StoreError("headwater's store writer thread has stopped; run records queued since may be lost.")
                break
        if self.error is not None:
            error, self.error = self.error, None
            raise StoreError(f"headwater could not write run records to the database: {error}")

    def close(self) -> None:
        self.flush()
        self.closed = True
        self.wake.set()
        if self.thread is not None:
            self.thread.join(5.0)
        self.release()

    def _loop(self) -> None:
        queue, states, lines = self.queue, self.states, self.lines
        self.prepare()
        # When the oldest write now waiting was queued, at the earliest: the moment the last batch
        # was taken, or the writer woke from idling for the first write after it.
        oldest = time.monotonic()
        while True:
            self.awake = False
            self.wake.clear()  # before the queues are looked at: whatever is queued after sets it again
            if not queue and not states and not lines:
                if self.closed:
                    return
                self.wake.wait()
                oldest = time.monotonic()
                continue
            # Let a batch gather, unless someone waits in flush(): each commit rewrites every page
            # it touches into the WAL, so fewer commits keep the database files smaller (and cost
            # the writer less). The gathering ends GATHER_SECONDS after the oldest write was queued,
            # not after the last batch was committed: a batch that took long to commit is followed
            # at once, so that no write waits for longer than the crash window the docs give.
            wait = oldest + GATHER_SECONDS - time.monotonic()
            if wait > 0:
                self.flush_wanted.wait(wait)
            self.flush_wanted.clear()
            oldest = time.monotonic()  # (just before the batch takes the queues: later writes are the next batch's)
            self.building = True  # until its statements are built (see __init__)
            if self._write_batch():  # after the flushes are answered: a flow's end need not wait for the housekeeping
                self.tidy()

    def _write_batch(self) -> bool:
        """Commit everything queued, answer the flushes among it; return whether it was committed.

        A method of its own so that the batch is let go of when it returns: held by the loop, the
        last batch's runs and states stayed alive until the next one (in an idle process, for good).
        """
        queue = self.queue
        try:
            batch = [queue.popleft() for _ in range(len(queue))]
            # Taken after the queue: every state and line queued before a flush marker in the batch is in.
            committed = self.write_batch(batch, _take(self.states, STATE_FIELDS), _take(self.lines, LINE_FIELDS))
        finally:
            self._built()  # (done already, unless building the statements failed)
        for kind, marker, _ in batch:
            if kind == "flush":
                marker.set()
        with self.cond:
            self.cond.notify_all()
        return committed

    def _built(self) -> None:
        """The batch's statements are built: the threads that wait to change a state may go on."""
        if self.building:
            with self.cond:
                self.building = False
                self.cond.notify_all()

    # -- what a store's writer does -------------------------------------------------------------
    def prepare(self) -> None:
        """Called once in the writer thread before the first batch (open the connection it uses)."""

    @abc.abstractmethod
    def write_batch(self, batch: list[tuple[str, Any, Any]], state_values: list[Any], log_values: list[Any]) -> bool:
        """Commit one batch in one transaction; return whether it was committed (else set ``self.error``).

        ``batch`` holds the other writes in the order they were queued, ``(kind, first, second)``
        tuples as the store put them (``"flush"`` markers among them are answered by the caller).
        ``state_values`` are the states, ``STATE_FIELDS`` values each (the run, type, name,
        message, timestamp, storage key, the run's count of runs), oldest first; ``log_values`` the
        log lines, ``LINE_FIELDS`` values each as ``put_line`` got them. Call :meth:`_built` as soon
        as the batch no longer needs the runs as they are now (before a slow commit), so that the
        flow's threads go on.
        """

    def tidy(self) -> None:
        """Called in the writer thread after a committed batch, once the flushes are answered."""

    def release(self) -> None:
        """Called by :meth:`close` once everything is written (close the connection)."""
