"""What the UI shows, computed from the store: the one place the JSON API (and so every page) gets it.

Each function takes a :class:`~headwater.stores.Store` and returns pydantic models, which
FastAPI turns into JSON and into the OpenAPI document. Nothing here knows about HTTP.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
from typing import Any, Optional, Sequence

from pydantic import BaseModel

from headwater.records import (
    ArtifactRecord,
    CacheEntryRecord,
    FlowRunRecord,
    LogLineRecord,
    StateRecord,
    TaskRunRecord,
)
from headwater.exceptions import StoreError
from headwater.states import StateType
from headwater.stores import FlowRunQuery, Store

#: A result is shown on its task run's page when its payload is JSON (never unpickled here) and this small.
MAX_SHOWN_RESULT_BYTES = 64 * 1024


class StateCount(BaseModel):
    #: ``None`` for runs that have no state yet.
    state_type: Optional[StateType]
    count: int


class HistogramBucket(BaseModel):
    start: _dt.datetime
    counts: dict[str, int]


class Histogram(BaseModel):
    """Flow runs over time, counted by newest state type, in buckets of ``bucket_seconds``."""

    bucket_seconds: float
    start: Optional[_dt.datetime]
    end: Optional[_dt.datetime]
    buckets: list[HistogramBucket]


class FlowRunDetail(BaseModel):
    flow_run: FlowRunRecord
    state_history: list[StateRecord]
    #: The flow run this one ran under, when it is a subflow run.
    parent_flow_run: Optional[FlowRunRecord]
    subflow_runs: list[FlowRunRecord]
    artifacts: list[ArtifactRecord]
    #: Whether the run is in a final state: a page stops asking for news once it is.
    finished: bool


class Segment(BaseModel):
    """A span of a task run's timeline: the time it spent in one state (``end`` is ``None`` while it still is).

    ``kind`` is what the span was: ``pending`` (waiting to start, or for a concurrency slot),
    ``running`` (an attempt: ``attempt`` counts them), ``retry-wait`` (a failed attempt's delay
    before the next), ``paused``, or, for the final state, a point: ``completed``, ``cached``,
    ``failed``, ``crashed``, ``cancelled``.
    """

    kind: str
    state_type: StateType
    state_name: str
    message: Optional[str] = None
    start: _dt.datetime
    end: Optional[_dt.datetime]
    attempt: Optional[int] = None


class TimelineRow(BaseModel):
    """A task run on its flow run's timeline and in its task graph."""

    id: str
    name: str
    task_name: str
    run_count: int
    state_type: Optional[StateType]
    state_name: Optional[str]
    #: The task runs of this flow run it took inputs from or waited for (edges of the graph).
    upstream_task_run_ids: list[str]
    #: Its place in the graph (see :class:`GraphNode`).
    layer: int
    row: int
    segments: list[Segment]


class GraphNode(BaseModel):
    id: str
    name: str
    task_name: str
    state_type: Optional[StateType]
    #: Column of a left-to-right drawing: 0 for a task run with no upstream here, else one past its furthest upstream.
    layer: int
    #: Row within the column, in the order the task runs were created.
    row: int


class GraphEdge(BaseModel):
    #: The upstream task run (whose result or state fed ``target``, or which ``target`` waited for).
    source: str
    target: str


class TaskGraph(BaseModel):
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    #: Upstream task runs that are not of this flow run (a parent flow's, passed into a subflow).
    outside: list[GraphEdge]


class ShownResult(BaseModel):
    #: Whether ``value`` holds the result; if not, ``note`` says why it is not shown.
    shown: bool
    value: Any = None
    note: Optional[str] = None


class TaskRunDetail(BaseModel):
    task_run: TaskRunRecord
    state_history: list[StateRecord]
    flow_run: Optional[FlowRunRecord]
    #: Task runs of the same flow run whose results or states fed this one, and those it fed.
    upstream: list[TaskRunRecord]
    downstream: list[TaskRunRecord]
    result: ShownResult
    finished: bool


class SlotHolderView(BaseModel):
    task_run_id: str
    task_run_name: str
    host: str
    pid: int
    acquired: _dt.datetime


class ConcurrencyLimitView(BaseModel):
    tag: str
    limit: int
    active: int
    created: _dt.datetime
    holders: list[SlotHolderView]


class NotFound(LookupError):
    """No run has that id: the API answers 404 with this message."""


def flow_run_query(
    flow_name: Optional[str] = None,
    states: Sequence[StateType] = (),
    tags: Sequence[str] = (),
    since: Optional[_dt.datetime] = None,
    until: Optional[_dt.datetime] = None,
) -> FlowRunQuery:
    return FlowRunQuery(
        flow_name=flow_name or None,
        state_types=tuple(s.value for s in states),
        tags=tuple(t for t in tags if t),
        since=_utc(since),
        until=_utc(until),
    )


def _utc(moment: Optional[_dt.datetime]) -> Optional[_dt.datetime]:
    """A time from a query string: one without a zone is taken as UTC, as the store keeps times."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=_dt.timezone.utc)


def list_flow_runs(store: Store, query: FlowRunQuery, limit: int = 50, offset: int = 0) -> list[FlowRunRecord]:
    return store.query_flow_runs(query, limit=limit, offset=offset)


def count_flow_runs(store: Store, query: FlowRunQuery) -> list[StateCount]:
    return [StateCount(state_type=StateType(c.state_type) if c.state_type else None, count=c.count) for c in store.count_flow_runs(query)]


_NICE_BUCKETS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


def flow_run_histogram(store: Store, query: FlowRunQuery, buckets: int = 60) -> Histogram:
    """Flow runs over the span the query covers (its ``since``/``until``, else the first and last run
    it matches), in about ``buckets`` buckets of a round size (1 s, 5 s, 1 min, 1 h, 1 day, ...)."""
    start, end = query.since, query.until
    if start is None or end is None:
        created = store.flow_run_time_span(query)
        if created is None:
            return Histogram(bucket_seconds=60, start=start, end=end, buckets=[])
        start, end = start or created[0], end or created[1]
    span = max((end - start).total_seconds(), 1.0) / max(buckets, 1)
    size = next((b for b in _NICE_BUCKETS if b >= span), 86400 * math.ceil(span / 86400))
    counted: dict[_dt.datetime, dict[str, int]] = {}
    for count in store.count_flow_runs(query, bucket_seconds=size):
        assert count.bucket is not None
        counted.setdefault(count.bucket, {})[count.state_type or "NONE"] = count.count
    return Histogram(
        bucket_seconds=size,
        start=start,
        end=end,
        buckets=[HistogramBucket(start=bucket, counts=counts) for bucket, counts in sorted(counted.items())],
    )


def _flow_run(store: Store, run_id: str) -> FlowRunRecord:
    record = store.read_flow_run(run_id)
    if record is None:
        raise NotFound(f"No flow run has id {run_id!r}.")
    return record


def flow_run_detail(store: Store, run_id: str) -> FlowRunDetail:
    record = _flow_run(store, run_id)
    parent = store.read_flow_run(record.parent_flow_run_id) if record.parent_flow_run_id else None
    try:
        artifacts = store.read_artifacts(flow_run_id=record.id, limit=1_000)
    except StoreError:  # a store that keeps no artifacts
        artifacts = []
    return FlowRunDetail(
        flow_run=record,
        state_history=store.read_state_history(record.id),
        parent_flow_run=parent,
        subflow_runs=store.query_flow_runs(FlowRunQuery(parent_flow_run_id=record.id), limit=1_000),
        artifacts=list(reversed(artifacts)),
        finished=record.state is not None and record.state.is_final(),
    )


_POINT_KINDS = {
    StateType.COMPLETED: "completed",
    StateType.FAILED: "failed",
    StateType.CRASHED: "crashed",
    StateType.CANCELLED: "cancelled",
}


def _span(kind: str, state_type: StateType, name: str, message: Optional[str], start: Any, end: Any, attempt: Optional[int] = None) -> dict[str, Any]:
    return {"kind": kind, "state_type": state_type, "state_name": name, "message": message, "start": start, "end": end, "attempt": attempt}


def segments(history: Sequence[StateRecord]) -> list[dict[str, Any]]:
    """A task run's timeline from its state history: each state it was in, as a span up to the next."""
    spans = []
    attempt = 0
    for i, state in enumerate(history):
        end = history[i + 1].timestamp if i + 1 < len(history) else None
        state_attempt = None
        if state.type is StateType.RUNNING:
            attempt += 1
            state_attempt, kind = attempt, "running"
        elif state.type is StateType.SCHEDULED and attempt:
            kind = "retry-wait"
        elif state.type is StateType.PAUSED:
            kind = "paused"
        elif state.type is StateType.COMPLETED and state.name == "Cached":
            kind, end = "cached", state.timestamp
        elif state.type in _POINT_KINDS:
            kind = _POINT_KINDS[state.type]
            end = end or state.timestamp
        else:
            kind = "pending"
        spans.append(_span(kind, state.type, state.name, state.message, state.timestamp, end, state_attempt))
    return spans


# A run with one attempt at most went Pending (at ``created``), Running (at ``start_time``, if it
# ran) and into its final state (at ``end_time``): its record holds the whole timeline, and the
# state history is read only for the others (retried, or in another state). On a flow run of
# 10,000 task runs this leaves out 30,000 state records: 180 ms of the store's 380.
_DERIVABLE = frozenset({StateType.PENDING, StateType.RUNNING, *_POINT_KINDS})


def _needs_history(run: TaskRunRecord) -> bool:
    return run.run_count > 1 or run.state is None or run.state.type not in _DERIVABLE


def _segments_of_record(run: TaskRunRecord) -> list[dict[str, Any]]:
    state = run.state
    assert state is not None
    if state.type is StateType.PENDING:
        return [_span("pending", state.type, state.name, state.message, run.created, None)]
    ran = run.run_count > 0 and run.start_time is not None  # a cache hit has a start time, but never ran
    waited_until = run.start_time if ran else state.timestamp
    spans = [_span("pending", StateType.PENDING, "Pending", None, run.created, waited_until)]
    if ran:
        running_until = None if state.type is StateType.RUNNING else state.timestamp
        name = state.name if state.type is StateType.RUNNING else "Running"
        spans.append(_span("running", StateType.RUNNING, name, None, run.start_time, running_until, 1))
    if state.type is not StateType.RUNNING:
        kind = "cached" if state.type is StateType.COMPLETED and state.name == "Cached" else _POINT_KINDS[state.type]
        spans.append(_span(kind, state.type, state.name, state.message, state.timestamp, state.timestamp))
    return spans


def _layout(task_runs: Sequence[TaskRunRecord]) -> tuple[dict[str, tuple[int, int]], list[GraphEdge], list[GraphEdge]]:
    """Columns and rows of a left-to-right drawing of the task graph, its edges, and the inputs from
    task runs of other flow runs. A task run's column is one past its furthest upstream's."""
    known = {t.id for t in task_runs}
    layer: dict[str, int] = {}
    edges, outside = [], []
    # Task runs come oldest first, and a run is created after every run it depends on: one pass lays them out.
    for t in task_runs:
        depth = 0
        for upstream in dict.fromkeys(t.upstream_task_run_ids):
            if upstream in known:
                edges.append(GraphEdge(source=upstream, target=t.id))
                depth = max(depth, layer.get(upstream, 0) + 1)
            else:
                outside.append(GraphEdge(source=upstream, target=t.id))
        layer[t.id] = depth
    rows: dict[int, int] = {}
    places = {}
    for t in task_runs:
        column = layer[t.id]
        rows[column] = rows.get(column, -1) + 1
        places[t.id] = (column, rows[column])
    return places, edges, outside


def timeline(store: Store, run_id: str) -> list[dict[str, Any]]:
    """The task runs of a flow run, oldest first, each with its timeline and its place in the graph.

    Plain dicts in the shape of :class:`TimelineRow`, not models: for 10,000 task runs, building
    the models took longer than reading the runs (measured by ``python -m bench.ui``).
    """
    record = _flow_run(store, run_id)
    task_runs = store.read_task_runs(flow_run_id=record.id, limit=1_000_000)
    histories = store.read_state_histories([t.id for t in task_runs if _needs_history(t)])
    places, _, _ = _layout(task_runs)
    known = places.keys()
    rows = []
    for t in task_runs:
        history = histories.get(t.id)
        state = t.state
        rows.append({
            "id": t.id, "name": t.name, "task_name": t.task_name, "run_count": t.run_count,
            "state_type": state.type if state else None, "state_name": state.name if state else None,
            "upstream_task_run_ids": [u for u in t.upstream_task_run_ids if u in known] if t.upstream_task_run_ids else [],
            "layer": places[t.id][0], "row": places[t.id][1],
            "segments": segments(history) if history is not None else _segments_of_record(t),
        })
    return rows


def task_graph(store: Store, run_id: str) -> TaskGraph:
    """The task runs of a flow run and which fed which, laid out in columns (longest path from a source)."""
    record = _flow_run(store, run_id)
    task_runs = store.read_task_runs(flow_run_id=record.id, limit=1_000_000)
    places, edges, outside = _layout(task_runs)
    nodes = [
        GraphNode(
            id=t.id, name=t.name, task_name=t.task_name, state_type=t.state.type if t.state else None,
            layer=places[t.id][0], row=places[t.id][1],
        )
        for t in task_runs
    ]
    return TaskGraph(nodes=nodes, edges=edges, outside=outside)


def logs(
    store: Store,
    run_id: str,
    min_level: int = 0,
    task_run_id: Optional[str] = None,
    after_id: int = 0,
    limit: int = 1_000,
) -> list[LogLineRecord]:
    """Log lines of a flow run and every run under it, oldest first; of one of its runs with ``task_run_id``."""
    record = _flow_run(store, run_id)
    try:
        lines = store.read_logs(record.id, min_level=min_level, after_id=after_id, limit=limit if task_run_id is None else 1_000_000)
    except StoreError:  # a store that keeps no log lines
        return []
    if task_run_id is not None:
        lines = [line for line in lines if line.run_id == task_run_id][:limit]
    return lines


def shown_result(store: Store, task_run: TaskRunRecord) -> ShownResult:
    state = task_run.state
    if state is None or not state.is_completed():
        return ShownResult(shown=False, note="The task run has not completed.")
    if state.storage_key is None:
        return ShownResult(shown=False, note="The result was not persisted (persist_result=False or kept in memory only).")
    from headwater.results import loads_result, read_payload

    try:
        payload = read_payload(store, state.storage_key)
    except Exception as exc:
        return ShownResult(shown=False, note=f"The result could not be read: {exc}")
    if not payload.startswith(b"J"):
        return ShownResult(shown=False, note=f"The result is not plain data ({len(payload):,} bytes, pickled or serialized); the UI never unpickles.")
    if len(payload) > MAX_SHOWN_RESULT_BYTES:
        return ShownResult(shown=False, note=f"The result is {len(payload):,} bytes of JSON, more than the {MAX_SHOWN_RESULT_BYTES:,} the UI shows.")
    return ShownResult(shown=True, value=loads_result(payload))


def task_run_detail(store: Store, run_id: str) -> TaskRunDetail:
    record = store.read_task_run(run_id)
    if record is None:
        raise NotFound(f"No task run has id {run_id!r}.")
    flow_run = store.read_flow_run(record.flow_run_id) if record.flow_run_id else None
    upstream: list[TaskRunRecord] = []
    for upstream_id in dict.fromkeys(record.upstream_task_run_ids):
        found = store.read_task_run(upstream_id)
        if found is not None:
            upstream.append(found)
    downstream: list[TaskRunRecord] = []
    if record.flow_run_id:
        downstream = [
            t for t in store.read_task_runs(flow_run_id=record.flow_run_id, limit=1_000_000) if record.id in t.upstream_task_run_ids
        ]
    return TaskRunDetail(
        task_run=record,
        state_history=store.read_state_history(record.id),
        flow_run=flow_run,
        upstream=upstream,
        downstream=downstream,
        result=shown_result(store, record),
        finished=record.state is not None and record.state.is_final(),
    )


def cache_entries(store: Store, limit: int = 1_000) -> list[CacheEntryRecord]:
    return store.read_cache_entries(limit=limit)


def concurrency_limits(store: Store) -> list[ConcurrencyLimitView]:
    return [
        ConcurrencyLimitView(
            tag=limit.tag,
            limit=limit.limit,
            active=limit.active,
            created=limit.created,
            holders=[SlotHolderView(**dataclasses.asdict(holder)) for holder in limit.holders],
        )
        for limit in store.read_concurrency_limits()
    ]
