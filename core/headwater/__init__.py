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


#: Prefect's top-level names that need its server: using one says what to do instead.
_SERVER_ONLY = {
    "serve": "To serve several flows, serve each with flow.serve(...) or `headwater serve FILE.py:FLOW`, one process each.",
    "deploy": "Serve the flow with flow.serve(...) or `headwater serve FILE.py:FLOW`, or call it from a script.",
    "aserve": "Serve the flow with flow.serve(...) or `headwater serve FILE.py:FLOW`.",
}


def __getattr__(name: str) -> object:
    # pluggy is only imported when a plugin asks for the marker.
    if name == "hookimpl":
        from .hookspecs import hookimpl

        return hookimpl
    if name in _SERVER_ONLY:
        from ._server_only import not_available

        not_available(f"headwater.{name}", _SERVER_ONLY[name])
    raise AttributeError(f"module 'headwater' has no attribute {name!r}")
