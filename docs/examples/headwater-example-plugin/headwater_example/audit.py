"""An audit trail: one JSON line per state change of every flow run and task run, appended to a file.

The event hooks ``on_flow_run_state_change`` and ``on_task_run_state_change``
are called in the flow's process, on the thread that made the change, right
after it was recorded. They are for observing: what they return is ignored, an
exception they raise is logged and the run goes on. They run for every change
of every run, so keep them quick.

Set ``HEADWATER_EXAMPLE_AUDIT_FILE`` to a path to turn the trail on; unset, each
call costs one look-up of the variable. Lines are appended whole (one ``write``
of a file opened in append mode), so several threads, or several processes,
can share one file.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any, Optional

__all__ = ["AUDIT_VARIABLE", "audit_line", "append_line"]

AUDIT_VARIABLE = "HEADWATER_EXAMPLE_AUDIT_FILE"

_lock = threading.Lock()


def audit_line(run: Any, old_state: Optional[Any], new_state: Any) -> dict[str, Any]:
    """What one line of the trail says about one state change."""
    line = {
        "time": new_state.timestamp.isoformat(),
        "kind": run.kind,
        "run_id": run.id,
        "run_name": run.name,
        "from": old_state.name if old_state is not None else None,
        "to": new_state.name,
        "type": new_state.type.value,
        "message": new_state.message,
    }
    if run.kind == "flow":
        line["flow_name"] = run.flow_name
    else:
        line["task_name"] = run.task_name
        line["flow_run_id"] = run.flow_run_id
    return line


def append_line(run: Any, old_state: Optional[Any], new_state: Any) -> None:
    """Append the change to the file ``HEADWATER_EXAMPLE_AUDIT_FILE`` names, if it names one."""
    path = os.environ.get(AUDIT_VARIABLE)
    if not path:
        return
    text = json.dumps(audit_line(run, old_state, new_state), default=str) + "\n"
    with _lock, open(path, "a", encoding="utf-8") as file:
        file.write(text)
