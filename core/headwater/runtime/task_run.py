"""The task run in progress; empty values outside one.

Attributes: ``id``, ``name``, ``task_name``, ``tags``, ``run_count``, ``parameters``,
``start_time``, ``flow_run_id``.
"""

from __future__ import annotations

from typing import Any

from ..context import task_run_context
from ._attributes import module_getattr


def _field(name: str, empty: Any = None) -> Any:
    def read() -> Any:
        ctx = task_run_context.get()
        return getattr(ctx.task_run, name) if ctx is not None and ctx.task_run is not None else empty

    return read


def _tags() -> list[str]:
    ctx = task_run_context.get()
    return list(ctx.task_run.tags) if ctx is not None and ctx.task_run is not None else []


def _parameters() -> dict[str, Any]:
    ctx = task_run_context.get()
    return dict(ctx.parameters) if ctx is not None else {}


__getattr__ = module_getattr(__name__, {
    "id": _field("id"),
    "name": _field("name"),
    "task_name": _field("task_name"),
    "tags": _tags,
    "run_count": _field("run_count", 0),
    "parameters": _parameters,
    "start_time": _field("start_time"),
    "flow_run_id": _field("flow_run_id"),
})
