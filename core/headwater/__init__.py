"""headwater: flows and tasks with names, versions, retries, caching and pluggable task runners.

Every run and every state change is recorded in an embedded SQLite store.
"""

from .__about__ import __version__
from .context import get_run_logger, tags
from .flow_runs import pause_flow_run, resume_flow_run, suspend_flow_run
from .flows import Flow, flow
from .states import State, StateType
from .tasks import Task, exponential_backoff, task
from .utilities.annotations import allow_failure, unmapped

__all__ = [
    "__version__",
    "flow",
    "task",
    "Flow",
    "Task",
    "get_run_logger",
    "tags",
    "unmapped",
    "allow_failure",
    "exponential_backoff",
    "pause_flow_run",
    "resume_flow_run",
    "suspend_flow_run",
    "State",
    "StateType",
    "hookimpl",
]


def __getattr__(name: str) -> object:
    # pluggy is only imported when a plugin asks for the marker.
    if name == "hookimpl":
        from .hookspecs import hookimpl

        return hookimpl
    raise AttributeError(f"module 'headwater' has no attribute {name!r}")
