"""A store that keeps everything in memory: for tests, notebooks and throwaway runs.

A store is a subclass of :class:`headwater.stores.Store` registered through the
``register_result_stores`` hook; ``HEADWATER_STORE=<its name>`` selects it and
headwater opens it once per process with ``StoreClass.from_settings(settings)``.
The engines write to it from the flow's process, from several threads at once;
the client and the CLI read from it.

This one implements the whole required contract with dicts under one lock. It
writes nothing to disk, so a flow run with it leaves no database behind and is
gone when the process exits: ``headwater runs ls`` in another process sees
nothing. The optional parts of the contract (stored log lines, tag concurrency
limits, deleting runs) keep :class:`~headwater.stores.Store`'s defaults.
"""

from __future__ import annotations

import datetime as _dt
import json
import threading
from typing import Any, Optional

from headwater.exceptions import AmbiguousRunId
from headwater.records import FlowRunRecord, StateRecord, TaskRunRecord
from headwater.stores import CacheEntry, Store

__all__ = ["MemoryStore"]


class MemoryStore(Store):
    """Run records, states, cache entries and result payloads in this process's memory."""

    name = "memory"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flow_runs: dict[str, FlowRunRecord] = {}
        self._task_runs: dict[str, TaskRunRecord] = {}
        self._states: dict[str, list[StateRecord]] = {}
        self._cache: dict[str, CacheEntry] = {}
        self._results: dict[str, bytes] = {}

    @classmethod
    def from_settings(cls, settings: Any) -> MemoryStore:
        return cls()  # nothing to open: no setting applies

    # -- writes, from the engines --------------------------------------------------------------
    def record_state(self, run: Any, state: Any) -> None:
        # The run is a live object the engine keeps changing: keep a frozen record of it as it is now.
        record = StateRecord(
            type=state.type, name=state.name, message=state.message, timestamp=state.timestamp, storage_key=state.storage_key
        )
        common = dict(
            id=run.id, name=run.name, state=record,
            # Through JSON, as a database would keep them: the records hold plain data, not the live objects.
            parameters=json.loads(json.dumps(run.parameters, default=repr)), tags=list(run.tags),
            start_time=run.start_time, end_time=run.end_time, created=run.created, run_count=run.run_count,
        )
        with self._lock:
            if run.kind == "flow":
                self._flow_runs[run.id] = FlowRunRecord(
                    **common, flow_name=run.flow_name, flow_version=run.flow_version,
                    parent_flow_run_id=run.parent_flow_run_id, parent_task_run_id=run.parent_task_run_id,
                )
            else:
                self._task_runs[run.id] = TaskRunRecord(
                    **common, task_name=run.task_name, task_key=run.task_key, flow_run_id=run.flow_run_id, cache_key=run.cache_key,
                )
            self._states.setdefault(run.id, []).append(record)

    def write_cache_entry(self, entry: CacheEntry) -> None:
        with self._lock:
            self._cache[entry.key] = entry

    def read_cache_entry(self, key: str) -> Optional[CacheEntry]:
        with self._lock:
            return self._cache.get(key)

    def write_result(self, storage_key: str, payload: bytes) -> None:
        with self._lock:
            self._results[storage_key] = bytes(payload)  # one assignment: readers see all of it or none

    def read_result(self, storage_key: str) -> bytes:
        with self._lock:
            return self._results[storage_key]  # KeyError when there is none, as the contract asks

    # -- reads, for the client and the CLI -----------------------------------------------------
    def read_flow_runs(self, flow_name: Optional[str] = None, limit: int = 100) -> list[FlowRunRecord]:
        with self._lock:
            runs = [run for run in self._flow_runs.values() if flow_name is None or run.flow_name == flow_name]
        return sorted(runs, key=lambda run: run.created, reverse=True)[:limit]

    def read_flow_run(self, run_id: str) -> Optional[FlowRunRecord]:
        with self._lock:
            runs = list(self._flow_runs.values())
        exact = [run for run in runs if run.id == run_id]
        part = [run for run in runs if run.id.startswith(run_id) or run.id.endswith(run_id)]
        found = exact or part or [run for run in runs if run.name == run_id]
        if len(found) > 1:
            raise AmbiguousRunId(f"{run_id!r} matches more than one flow run; give more of its id")
        return found[0] if found else None

    def read_task_runs(self, flow_run_id: Optional[str] = None, limit: int = 10_000) -> list[TaskRunRecord]:
        with self._lock:
            runs = [run for run in self._task_runs.values() if flow_run_id is None or run.flow_run_id == flow_run_id]
        return sorted(runs, key=lambda run: (run.created, run.name))[:limit]

    def read_state_history(self, run_id: str) -> list[StateRecord]:
        with self._lock:
            return list(self._states.get(run_id, ()))

    def clear_cache(self, key: Optional[str] = None, expired_only: bool = False) -> int:
        now = _dt.datetime.now(_dt.timezone.utc)
        with self._lock:
            if key is not None:
                doomed = [key] if key in self._cache else []
            elif expired_only:
                doomed = [k for k, entry in self._cache.items() if not entry.is_valid(now)]
            else:
                doomed = list(self._cache)
            for k in doomed:
                del self._cache[k]
        return len(doomed)
