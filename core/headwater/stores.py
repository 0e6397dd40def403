"""The store contract: where run records, states, cache entries and result payloads are kept.

A store plugin subclasses :class:`Store` and registers the class through the
``register_result_stores`` hook. The engines call its write methods from the
flow's process, possibly from several threads at once; the read methods serve
the client and the CLI. headwater opens one store per process and settings.
"""

from __future__ import annotations

import abc
import dataclasses
import datetime as _dt
import os
import threading
from typing import TYPE_CHECKING, Any, ClassVar, Optional, Sequence

from .exceptions import StoreError

if TYPE_CHECKING:
    from .concurrency import ConcurrencyLimit, SlotRefusal
    from .processes import ProcessIdentity
    from .records import ArtifactRecord, CacheEntryRecord, ScheduleRecord, FlowRunRecord, LogLineRecord, StateRecord, TaskRunRecord
    from .runs import FlowRun, TaskRun
    from .settings import Settings
    from .states import State

__all__ = ["Store", "CacheEntry", "DeletedRuns", "FlowRunQuery", "FlowRunCount", "get_store", "close_stores"]


@dataclasses.dataclass(frozen=True, init=False)
class CacheEntry:
    """A completed result filed under a cache key."""

    key: str
    storage_key: str
    task_run_id: str
    created: _dt.datetime
    expiration: Optional[_dt.datetime] = None
    #: The result's payload, when the store could read it with the entry (saving a second lookup).
    payload: Optional[bytes] = dataclasses.field(default=None, repr=False, compare=False)
    #: The ``task_key`` of the task that filed it: a store may read a busy task's entries ahead by it.
    task_key: Optional[str] = None

    def __init__(
        self, key: str, storage_key: str, task_run_id: str, created: _dt.datetime,
        expiration: Optional[_dt.datetime] = None, payload: Optional[bytes] = None, task_key: Optional[str] = None,
    ) -> None:
        # Every field in one assignment: a frozen dataclass's own __init__ sets each through
        # object.__setattr__, 3 us an entry (one a cache hit), against 0.7 us this way.
        object.__setattr__(self, "__dict__", {
            "key": key, "storage_key": storage_key, "task_run_id": task_run_id, "created": created,
            "expiration": expiration, "payload": payload, "task_key": task_key,
        })

    def is_valid(self, now: _dt.datetime) -> bool:
        return self.expiration is None or now < self.expiration


@dataclasses.dataclass(frozen=True)
class DeletedRuns:
    """What :meth:`Store.delete_flow_runs` removed, counted."""

    flow_runs: int = 0
    task_runs: int = 0
    states: int = 0
    log_lines: int = 0
    payloads: int = 0
    artifacts: int = 0


@dataclasses.dataclass(frozen=True)
class FlowRunQuery:
    """Which flow runs to list or count (``Store.query_flow_runs``, ``Store.count_flow_runs``).

    Every field given narrows the query; the default matches every flow run. Times are compared
    with the run's ``created``.
    """

    flow_name: Optional[str] = None
    #: Runs whose newest state has one of these types (``StateType`` values such as ``"FAILED"``).
    state_types: tuple[str, ...] = ()
    #: Runs that carry every one of these tags.
    tags: tuple[str, ...] = ()
    #: Runs created at or after ``since`` and before ``until``.
    since: Optional[_dt.datetime] = None
    until: Optional[_dt.datetime] = None
    #: The subflow runs of that flow run.
    parent_flow_run_id: Optional[str] = None

    def matches(self, run: FlowRunRecord) -> bool:
        """Whether ``run`` is one the query asks for: the meaning every store's SQL must keep."""
        if self.flow_name is not None and run.flow_name != self.flow_name:
            return False
        if self.state_types and (run.state is None or run.state.type.value not in self.state_types):
            return False
        if self.tags and not set(self.tags).issubset(run.tags):
            return False
        if self.since is not None and run.created < self.since:
            return False
        if self.until is not None and run.created >= self.until:
            return False
        return self.parent_flow_run_id is None or run.parent_flow_run_id == self.parent_flow_run_id


@dataclasses.dataclass(frozen=True)
class FlowRunCount:
    """How many flow runs of a query have newest state ``state_type`` (``None``: no state yet), in a time bucket."""

    #: The bucket's start (a multiple of the bucket size since the Unix epoch), or ``None`` when not bucketed.
    bucket: Optional[_dt.datetime]
    state_type: Optional[str]
    count: int


class Store(abc.ABC):
    """Records runs and states, files cache entries, and keeps result payloads."""

    name: ClassVar[str]
    #: Set by headwater from ``HEADWATER_STORE_DURABILITY`` (``strict``): the engines then call
    #: :meth:`flush` after each run's final state, before its result is handed back.
    flush_final_states: bool = False

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, settings: Settings) -> Store:
        """Open the store the settings point at, creating it if needed.

        Raise :class:`headwater.exceptions.StoreError` naming the path and the
        setting to change when it cannot be opened.
        """

    # -- writes, from the engines ------------------------------------------------------
    @abc.abstractmethod
    def record_state(self, run: FlowRun | TaskRun, state: State) -> None:
        """Append ``state`` to the run's history and save the run's fields as they are now.

        May be buffered; a buffered write must be durable after :meth:`flush`
        and readable by this process's own :meth:`read_cache_entry` at once.
        """

    @abc.abstractmethod
    def write_cache_entry(self, entry: CacheEntry) -> None:
        """File (or replace) the entry under ``entry.key``. Its payload is already written."""

    @abc.abstractmethod
    def read_cache_entry(self, key: str) -> Optional[CacheEntry]:
        """The entry under ``key``, expired or not, or ``None``.

        A store that can fetch the payload in the same lookup sets ``payload``;
        otherwise the caller reads it with :meth:`read_result`.
        """

    @abc.abstractmethod
    def write_result(self, storage_key: str, payload: bytes) -> None:
        """Keep ``payload`` under ``storage_key``, atomically: never leave half of it readable."""

    @abc.abstractmethod
    def read_result(self, storage_key: str) -> bytes:
        """The payload under ``storage_key``; raise ``KeyError`` when there is none."""

    def mark_crashed_runs(self) -> int:
        """Record as Crashed each unfinished run whose process is gone; return how many.

        A store calls it when it is opened; the serving layer calls it again when a run's process
        dies. A run of this host is gone when its process is (``headwater.processes.is_alive``); one
        of another host when its process's heartbeats stopped (see :meth:`record_heartbeat`). The
        message of the Crashed state names the host and the pid. The default finds none (a store
        that cannot tell dead processes from live ones).
        """
        return 0

    def record_heartbeat(self, process: ProcessIdentity, timestamp: float) -> None:
        """``process`` is alive at ``timestamp`` (seconds since the epoch). Not buffered.

        Called every ``heartbeat_interval`` seconds, from a thread of its own, by each process with
        unfinished runs (see :mod:`headwater.heartbeats`). A store that keeps heartbeats also has
        :meth:`mark_crashed_runs` record Crashed each unfinished run of another host whose process's
        newest heartbeat, or newest state when it sent none, is older than ``heartbeat_timeout``.
        The default keeps none: runs of other hosts are then never found crashed.
        """

    def flush(self) -> None:
        """Make every write so far durable and visible to other processes."""

    def close(self) -> None:
        """Flush and release what the store holds open."""
        self.flush()

    # -- stored log lines, listing the cache, deleting runs ----------------------------
    # Optional: a store written before these existed keeps the defaults below. It keeps no
    # log lines, and the commands that need the others say that this store cannot do them.

    def write_log(self, run_id: str, flow_run_id: Optional[str], level: int, logger: str, timestamp: float, message: str) -> None:
        """Keep one log line of run ``run_id``; ``timestamp`` is seconds since the epoch.

        ``flow_run_id`` is the top-level flow run the line belongs to. Called for every line a
        run logs, from the thread that logs it: it must be cheap, so buffer it like
        :meth:`record_state` (durable after :meth:`flush`). The default keeps nothing.
        """

    def read_logs(
        self, flow_run_id: str, min_level: int = 0, after_id: int = 0, limit: int = 10_000
    ) -> list[LogLineRecord]:
        """The lines of flow run ``flow_run_id`` and of every run under it (task runs, subflows, theirs),
        oldest first: those at ``min_level`` or above with an id above ``after_id``, at most ``limit``."""
        raise self._unsupported("keep log lines")

    def read_cache_entries(self, limit: int = 1_000) -> list[CacheEntryRecord]:
        """Cache entries, newest first, with the name of the task that filed each and its payload's size."""
        raise self._unsupported("list cache entries")

    def delete_flow_runs(self, run_ids: Sequence[str]) -> DeletedRuns:
        """Delete flow runs (ids) with everything under them: subflow runs, task runs, states,
        log lines, and the result payloads of those runs that no cache entry points at."""
        raise self._unsupported("delete runs")

    # -- artifacts, and requests to a run from other processes -------------------------
    def write_artifact(self, artifact: ArtifactRecord) -> None:
        """Keep an artifact a run published. May be buffered like :meth:`record_state`."""
        raise self._unsupported("keep artifacts")

    def read_artifacts(
        self, key: Optional[str] = None, flow_run_id: Optional[str] = None, latest_only: bool = False, limit: int = 100
    ) -> list[ArtifactRecord]:
        """Artifacts, newest first: all, one key's versions, or those made in flow run ``flow_run_id``
        (by it or its task runs). ``latest_only``: the newest of each key, artifacts without a key left out."""
        raise self._unsupported("keep artifacts")

    def delete_artifacts(self, key: str) -> int:
        """Delete every version of the artifact ``key``; return how many."""
        raise self._unsupported("keep artifacts")

    def add_run_request(self, run_id: str, request: str) -> None:
        """Ask the process running ``run_id`` to do ``request`` (``"resume"``), from any process. Not buffered."""
        raise self._unsupported("pass requests between processes")

    def take_run_request(self, run_id: str, request: str) -> bool:
        """Whether ``request`` was asked of ``run_id``; the request is removed, so only one taker sees it."""
        return False

    # -- served flows (headwater serve) ----------------------------------------------------
    def write_schedule(self, schedule: ScheduleRecord) -> None:
        """Create or replace the schedule ``schedule.name``, keeping whether it was paused. Not buffered."""
        raise self._unsupported("keep schedules")

    def read_schedules(self, name: Optional[str] = None) -> list[ScheduleRecord]:
        """Every schedule (or the one named), by name."""
        raise self._unsupported("keep schedules")

    def set_schedule_paused(self, name: str, paused: bool) -> bool:
        """Pause or resume a schedule; return whether there is one of that name."""
        raise self._unsupported("keep schedules")

    def claim_schedule_run(self, name: str, scheduled_time: _dt.datetime, flow_run_id: str) -> bool:
        """Claim the due time ``scheduled_time`` of schedule ``name`` for ``flow_run_id``, atomically
        across processes: True for the one caller that gets it, False for every other."""
        raise self._unsupported("keep schedules")

    def last_schedule_run(self, name: str) -> Optional[_dt.datetime]:
        """The latest due time of ``name`` claimed so far, or None."""
        raise self._unsupported("keep schedules")

    def request_schedule_run(self, name: str, parameters: dict[str, Any]) -> None:
        """Ask the process serving ``name`` for a run now, with ``parameters`` over the schedule's."""
        raise self._unsupported("keep schedules")

    def take_schedule_run_requests(self, name: str) -> list[dict[str, Any]]:
        """The parameters of each run asked of ``name`` and not yet taken; each is taken once."""
        return []

    def _unsupported(self, what: str) -> Exception:
        from .exceptions import StoreError

        return StoreError(f"The {self.name!r} store does not {what}; use the 'sqlite' store (HEADWATER_STORE=sqlite) for that.")

    # -- reads, for the client and the CLI ---------------------------------------------
    @abc.abstractmethod
    def read_flow_runs(self, flow_name: Optional[str] = None, limit: int = 100) -> list[FlowRunRecord]:
        """Flow runs, newest first."""

    @abc.abstractmethod
    def read_flow_run(self, run_id: str) -> Optional[FlowRunRecord]:
        """One flow run by id, or ``None``.

        ``run_id`` may also be the start or the end of an id (``short_run_id`` gives its last eight
        characters, what listings show), or a run's name (its newest run). Raise
        :class:`~headwater.exceptions.AmbiguousRunId` if a part of an id matches more than one run.
        """

    @abc.abstractmethod
    def read_task_runs(self, flow_run_id: Optional[str] = None, limit: int = 10_000) -> list[TaskRunRecord]:
        """Task runs of a flow run (or all of them), oldest first."""

    @abc.abstractmethod
    def read_state_history(self, run_id: str) -> list[StateRecord]:
        """Every state a run went through, oldest first."""

    # Reads for browsing a large record (the web UI). The defaults below are built on the reads
    # above and load every run; a store that holds many runs answers them in its own query language.

    def query_flow_runs(self, query: FlowRunQuery, limit: int = 50, offset: int = 0) -> list[FlowRunRecord]:
        """The flow runs ``query`` matches, newest first (by ``created``, then id), skipping ``offset``."""
        found = [run for run in self.read_flow_runs(limit=2**62) if query.matches(run)]
        return found[offset:offset + limit]

    def count_flow_runs(self, query: FlowRunQuery, bucket_seconds: Optional[float] = None) -> list[FlowRunCount]:
        """The flow runs ``query`` matches, counted by newest state type and, given ``bucket_seconds``,
        by the bucket of that many seconds (counted from the Unix epoch) each was created in.

        Ordered by bucket, then state type (``None`` first); buckets with no run are left out.
        """
        counts: dict[tuple[Optional[float], Optional[str]], int] = {}
        for run in self.read_flow_runs(limit=2**62):
            if query.matches(run):
                bucket = None if bucket_seconds is None else run.created.timestamp() // bucket_seconds * bucket_seconds
                key = (bucket, run.state.type.value if run.state else None)
                counts[key] = counts.get(key, 0) + 1
        return [
            FlowRunCount(None if bucket is None else _dt.datetime.fromtimestamp(bucket, _dt.timezone.utc), state_type, count)
            for (bucket, state_type), count in sorted(counts.items(), key=lambda item: (item[0][0] or 0, item[0][1] or ""))
        ]

    def flow_run_time_span(self, query: FlowRunQuery) -> Optional[tuple[_dt.datetime, _dt.datetime]]:
        """When the first and the last of the flow runs ``query`` matches were created (``None``: it matches none)."""
        created = [run.created for run in self.read_flow_runs(limit=2**62) if query.matches(run)]
        return (min(created), max(created)) if created else None

    def read_task_run(self, run_id: str) -> Optional[TaskRunRecord]:
        """One task run by its whole id, or ``None``."""
        return next((run for run in self.read_task_runs(limit=2**62) if run.id == run_id), None)

    def read_state_histories(self, run_ids: Sequence[str]) -> dict[str, list[StateRecord]]:
        """The state history of each of ``run_ids`` (one lookup for the task runs of a large flow run)."""
        return {run_id: self.read_state_history(run_id) for run_id in run_ids}

    @abc.abstractmethod
    def clear_cache(self, key: Optional[str] = None, expired_only: bool = False) -> int:
        """Delete cache entries (one key, the expired ones, or all); return how many."""

    # -- tag concurrency limits (see headwater.concurrency) --------------------------------
    # Optional: a store without them keeps the defaults below, and no tag is ever limited.

    def acquire_concurrency_slots(self, run: TaskRun) -> tuple[str, ...] | SlotRefusal:
        """Take one slot for each of ``run.tags`` that has a limit, all or none, atomically across processes.

        Return the tags whose slots the run now holds (empty when none of its tags is limited;
        asking again while holding them is harmless), or the refusal naming the first full tag.
        Slots held by processes that are gone are taken back.
        """
        return ()

    def release_concurrency_slots(self, run_id: str) -> None:
        """Give back every slot ``run_id`` holds. Done at once, not buffered: other processes wait on it."""

    def set_concurrency_limit(self, tag: str, limit: int) -> None:
        """Create or change the limit of ``tag`` (already validated)."""
        raise StoreError(f"The {self.name!r} store does not keep tag concurrency limits; use the 'sqlite' store.")

    def read_concurrency_limits(self, tag: Optional[str] = None) -> list[ConcurrencyLimit]:
        """Every limit (or only ``tag``'s), with the runs holding slots, dead holders already taken back."""
        return []

    def delete_concurrency_limit(self, tag: str) -> bool:
        """Remove ``tag``'s limit and its slots; return whether there was one."""
        return False


_stores: dict[tuple[int, str, str, str], Store] = {}
_stores_lock = threading.Lock()


def get_store(settings: Optional[Settings] = None) -> Store:
    """The store for the current settings, opened once per process."""
    from .plugins import get_plugins
    from .settings import get_settings

    settings = settings or get_settings()
    # The process id is part of the key: a forked child opens its own store (threads and connections do not fork).
    key = (os.getpid(), settings.store, settings.resolved_database_url, str(settings.resolved_storage_path))
    store = _stores.get(key)
    if store is None:
        with _stores_lock:
            store = _stores.get(key)
            if store is None:
                store_class: type[Store] = get_plugins().store_class(settings.store)
                store = store_class.from_settings(settings)
                _stores[key] = store
    store.flush_final_states = settings.store_durability == "strict"
    return store


def close_stores() -> None:
    """Flush and close every store this process opened (also done at exit)."""
    with _stores_lock:
        stores = [store for key, store in _stores.items() if key[0] == os.getpid()]
        _stores.clear()
    for store in stores:
        store.close()
