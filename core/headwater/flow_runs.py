"""Pausing a flow run until someone resumes it: ``pause_flow_run`` and ``resume_flow_run`` (Prefect 2's names).

A flow that calls ``pause_flow_run()`` is recorded Paused and waits in its own process, its
submitted tasks going on meanwhile, until ``resume_flow_run(id)`` or ``headwater runs resume RUN``
is called from any process using the same store (the store carries the request), then goes on
where it stopped. If nobody resumes it within ``timeout`` seconds, ``FlowPauseTimeout`` is raised
in the flow, which fails the run unless the flow catches it.
"""

from __future__ import annotations

from typing import Any, Optional

from .exceptions import ConfigurationError, HeadwaterError, MissingContextError, NotAvailable
from .states import PAUSED

__all__ = ["pause_flow_run", "resume_flow_run", "suspend_flow_run"]


def pause_flow_run(
    wait_for_input: Any = None, timeout: float = 3600, poll_interval: float = 1, key: Optional[str] = None
) -> Any:
    """Pause the flow run in progress until it is resumed, for at most ``timeout`` seconds.

    ``poll_interval`` is how often the store is asked whether a resume came (a read of the local
    database: once a second costs nothing). ``key`` is accepted for Prefect code and not needed:
    a flow may pause as often as it likes. In an async flow it returns an awaitable, which Prefect 2 code
    awaits (``await pause_flow_run(timeout=600)``); the flow's loop waits during the pause.
    """
    from .context import flow_run_context, task_run_context

    if wait_for_input is not None:
        raise NotAvailable(
            "pause_flow_run(wait_for_input=...) asks for input in Prefect's UI, which headwater does not have. "
            "Pause without it, and have the flow read what it needs (a file, a parameter of a later run) after resuming."
        )
    for name, value in (("timeout", timeout), ("poll_interval", poll_interval)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ConfigurationError(f"pause_flow_run: {name}={value!r} must be a positive number of seconds.")
    if task_run_context.get() is not None:
        raise HeadwaterError("pause_flow_run was called in a task run; only a flow run can pause. Call it in the flow function.")
    flow_ctx = flow_run_context.get()
    if flow_ctx is None or flow_ctx.pause is None:
        raise MissingContextError("pause_flow_run was called outside a flow run; call it in a flow function.")
    flow_ctx.pause(float(timeout), float(poll_interval))
    if flow_ctx.flow.is_async:
        return _resumed()  # an async flow awaits it, as in Prefect 2 (the pause itself is over already)
    return None


async def _resumed() -> None:
    return None


def resume_flow_run(flow_run_id: str, run_input: Any = None) -> None:
    """Resume the paused flow run ``flow_run_id`` (an id, a unique part of one, or a run's name), from any process."""
    from .environment import standalone_environment

    if run_input is not None:
        raise NotAvailable("resume_flow_run(run_input=...) is not supported: headwater's pause takes no input.")
    store, _ = standalone_environment()
    record = store.read_flow_run(flow_run_id)
    if record is None:
        raise HeadwaterError(f"No flow run matches {flow_run_id!r}. List runs with `headwater runs ls`.")
    if record.state is None or record.state.type is not PAUSED:
        state = record.state.name if record.state is not None else "no state"
        raise HeadwaterError(f"Flow run '{record.name}' is {state}, not Paused: there is nothing to resume.")
    store.add_run_request(record.id, "resume")


def suspend_flow_run(*args: Any, **kwargs: Any) -> None:
    """Not available: Prefect's suspend ends the flow's process and runs the flow again from its deployment."""
    raise NotAvailable(
        "suspend_flow_run stops the flow's process and reruns the flow from a deployment when resumed, which needs "
        "Prefect's server. headwater runs flows in the calling process: use pause_flow_run(timeout=...), which keeps "
        "the process waiting until `headwater runs resume RUN`."
    )
