"""The flow run in progress (the one a task run belongs to, inside a task run); empty values outside one.

Attributes: ``id``, ``name``, ``flow_name``, ``flow_version``, ``parameters``, ``tags``,
``run_count``, ``scheduled_start_time``, ``start_time``, ``parent_flow_run_id``,
``parent_task_run_id``, ``root_flow_run_id``; and, for Prefect code, ``parent_deployment_id``,
``api_url`` and ``ui_url``, which are always ``None`` (headwater has no deployments and no server).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Optional

from ..context import flow_run_context, task_run_context
from ._attributes import module_getattr


def _context() -> tuple[Any, Optional[dict[str, Any]]]:
    """The flow run in progress, and its parameters as its function got them."""
    task_ctx = task_run_context.get()
    if task_ctx is not None and task_ctx.flow_run is not None:
        return task_ctx.flow_run, task_ctx.flow_parameters
    flow_ctx = flow_run_context.get()
    if flow_ctx is not None:
        return flow_ctx.flow_run, flow_ctx.parameters
    return None, None


def _field(name: str, empty: Any = None) -> Any:
    def read() -> Any:
        run, _ = _context()
        return getattr(run, name) if run is not None else empty

    return read


def _parameters() -> dict[str, Any]:
    run, parameters = _context()
    if run is None:
        return {}
    return dict(parameters) if parameters is not None else dict(run.parameters)


def _tags() -> list[str]:
    run, _ = _context()
    return list(run.tags) if run is not None else []


def _scheduled_start_time() -> _dt.datetime:
    """When the run was due: the moment it was made (headwater starts runs when they are made); now, outside one."""
    run, _ = _context()
    return run.created if run is not None else _dt.datetime.now(_dt.timezone.utc)


def _root_flow_run_id() -> Optional[str]:
    flow_ctx = flow_run_context.get()
    if flow_ctx is not None:
        return flow_ctx.logger.flow_run_id  # lines are kept under the top-level run: its id
    task_ctx = task_run_context.get()
    return task_ctx.logger.flow_run_id if task_ctx is not None else None


__getattr__ = module_getattr(__name__, {
    "id": _field("id"),
    "name": _field("name"),
    "flow_name": _field("flow_name"),
    "flow_version": _field("flow_version"),
    "parameters": _parameters,
    "tags": _tags,
    "run_count": _field("run_count", 0),
    "scheduled_start_time": _scheduled_start_time,
    "start_time": _field("start_time"),
    "parent_flow_run_id": _field("parent_flow_run_id"),
    "parent_task_run_id": _field("parent_task_run_id"),
    "root_flow_run_id": _root_flow_run_id,
    "parent_deployment_id": lambda: None,
    "api_url": lambda: None,
    "ui_url": lambda: None,
})
