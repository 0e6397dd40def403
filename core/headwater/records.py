"""What the store gives back: pydantic records of flow runs, task runs and states."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict

from .states import State, StateType

__all__ = ["StateRecord", "FlowRunRecord", "TaskRunRecord"]


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
