"""Prefect's events, which go to Prefect's server."""

from ._server_only import server_only_names

_HOOKS = (
    "To act on runs, implement the on_flow_run_state_change / on_task_run_state_change hooks in a plugin, "
    "or pass on_completion= / on_failure= to the flow or task."
)

__getattr__ = server_only_names(__name__, {"emit_event": _HOOKS, "Event": _HOOKS})
