"""What the store gives back: pydantic records of flow runs, task runs and states."""

from __future__ import annotations

import datetime as _dt
import logging
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict

from .states import TERMINAL_TYPES, State, StateType

__all__ = ["StateRecord", "FlowRunRecord", "TaskRunRecord", "LogLineRecord", "CacheEntryRecord", "ArtifactRecord", "ScheduleRecord"]


class StateRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: StateType
    name: str
    message: Optional[str] = None
    timestamp: _dt.datetime
    storage_key: Optional[str] = None

    def to_state(self) -> State:
        """A :class:`~headwater.states.State`; its ``result()`` loads a persisted result."""
        return State(self.type, self.name, self.message, storage_key=self.storage_key, timestamp=self.timestamp)

    def is_completed(self) -> bool:
        return self.type is StateType.COMPLETED

    def is_failed(self) -> bool:
        return self.type is StateType.FAILED

    def is_paused(self) -> bool:
        return self.type is StateType.PAUSED

    def is_final(self) -> bool:
        return self.type in TERMINAL_TYPES


class _RunRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    state: Optional[StateRecord] = None
    parameters: dict[str, Any] = {}
    tags: list[str] = []
    start_time: Optional[_dt.datetime] = None
    end_time: Optional[_dt.datetime] = None
    created: _dt.datetime
    run_count: int = 0

    @property
    def state_name(self) -> Optional[str]:
        return self.state.name if self.state else None

    @property
    def duration(self) -> Optional[_dt.timedelta]:
        if self.start_time and self.end_time:
            return self.end_time - self.start_time
        return None


class FlowRunRecord(_RunRecord):
    flow_name: str
    flow_version: Optional[str] = None
    parent_flow_run_id: Optional[str] = None
    parent_task_run_id: Optional[str] = None


class TaskRunRecord(_RunRecord):
    task_name: str
    task_key: str
    flow_run_id: Optional[str] = None
    cache_key: Optional[str] = None
    #: The task runs it depends on: whose futures or states were among its arguments (at any depth) or in ``wait_for``.
    upstream_task_run_ids: list[str] = []


class LogLineRecord(BaseModel):
    """One stored log line of a flow run or of one of its task runs."""

    model_config = ConfigDict(frozen=True)

    #: Numbers lines in the order they were written: read on from the last one seen with ``after_id``.
    id: int
    run_id: str
    #: The top-level flow run the line belongs to (``None`` for a task called outside any flow).
    flow_run_id: Optional[str] = None
    #: The name of the run that logged it, when the run is still recorded.
    run_name: Optional[str] = None
    level: int
    logger: str
    timestamp: _dt.datetime
    message: str

    @property
    def level_name(self) -> str:
        return logging.getLevelName(self.level)


class CacheEntryRecord(BaseModel):
    """A cache entry as ``headwater cache ls`` shows it."""

    model_config = ConfigDict(frozen=True)

    key: str
    storage_key: str
    task_run_id: str
    #: The name of the task whose run filed the entry (``None`` once that run is deleted).
    task_name: Optional[str] = None
    created: _dt.datetime
    expiration: Optional[_dt.datetime] = None
    #: Size of the result payload in bytes (``None`` when the payload is missing).
    payload_size: Optional[int] = None

    def is_expired(self, now: Optional[_dt.datetime] = None) -> bool:
        if self.expiration is None:
            return False
        return (now or _dt.datetime.now(_dt.timezone.utc)) >= self.expiration


class ArtifactRecord(BaseModel):
    """A markdown text, table or link a run published for people to read (see :mod:`headwater.artifacts`)."""

    model_config = ConfigDict(frozen=True)

    id: str
    #: Artifacts under one key are versions of one thing (a daily report): ``headwater artifacts ls`` shows the newest.
    key: Optional[str] = None
    #: ``"markdown"``, ``"table"`` or ``"link"``.
    type: str
    description: Optional[str] = None
    #: Markdown text for markdown and link artifacts; for a table, its rows (a list of dicts or of lists) or columns (a dict of lists).
    data: Any
    #: The flow run it was made in (a task run's flow run too), and the task run, if any.
    flow_run_id: Optional[str] = None
    task_run_id: Optional[str] = None
    created: _dt.datetime


class ScheduleRecord(BaseModel):
    """A flow served on a schedule (``headwater serve``, ``Flow.serve``), as ``headwater schedules ls`` shows it."""

    model_config = ConfigDict(frozen=True)

    name: str
    #: Where the serving process finds the flow: ``path/file.py:flow`` or ``package.module:flow``.
    entrypoint: str
    flow_name: str
    #: ``{"cron": ..., "timezone": ...}`` or ``{"interval": seconds, "anchor": iso, "timezone": ...}``.
    spec: dict[str, Any]
    parameters: dict[str, Any] = {}
    paused: bool = False
    #: The process serving it (the last to).
    host: Optional[str] = None
    pid: Optional[int] = None
    updated: _dt.datetime
