"""Run rows read back as headwater's records (pydantic models).

A module of its own so that pydantic is imported by the processes that read records (the
client, the CLI), not by every process that runs a flow.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Optional

from headwater.records import FlowRunRecord, StateRecord, TaskRunRecord

from .store import _from_iso, _moment


def _state_of(row: sqlite3.Row) -> Optional[StateRecord]:
    if row["state_type"] is None:
        return None
    return StateRecord(
        type=row["state_type"], name=row["state_name"], message=row["state_message"],
        timestamp=_moment(row["state_timestamp"]), storage_key=row["state_storage_key"],
    )


def _common(row: sqlite3.Row) -> dict[str, Any]:
    return dict(
        id=row["id"], name=row["name"], state=_state_of(row), parameters=json.loads(row["parameters"]),
        tags=json.loads(row["tags"]), start_time=_from_iso(row["start_time"]), end_time=_from_iso(row["end_time"]),
        created=_from_iso(row["created"]), run_count=row["run_count"],
    )


def flow_record(row: sqlite3.Row) -> FlowRunRecord:
    return FlowRunRecord(
        **_common(row), flow_name=row["flow_name"], flow_version=row["flow_version"],
        parent_flow_run_id=row["parent_flow_run_id"], parent_task_run_id=row["parent_task_run_id"],
    )


def task_record(row: sqlite3.Row) -> TaskRunRecord:
    return TaskRunRecord(
        **_common(row), task_name=row["task_name"], task_key=row["task_key"], flow_run_id=row["flow_run_id"],
        cache_key=row["cache_key"],
        upstream_task_run_ids=json.loads(row["upstream_task_run_ids"]) if row["upstream_task_run_ids"] else [],
    )
