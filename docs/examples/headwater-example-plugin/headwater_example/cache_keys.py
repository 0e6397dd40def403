"""A cache-key function: a task's inputs, plus the version of the data it reads.

A cache-key function is called as ``fn(context, parameters)`` when a task run
starts. ``context`` is a :class:`headwater.context.TaskRunContext` (``task``,
``task_run``, ``flow_run``) and ``parameters`` the dict of the run's bound
arguments. It returns the key as a string, or ``None`` for "do not cache this
run". Two runs with the same key share one cached result (until it expires),
across processes that share a store.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, Optional

from headwater.tasks import task_input_hash

__all__ = ["inputs_and_data_version", "DATA_VERSION_VARIABLE"]

DATA_VERSION_VARIABLE = "HEADWATER_EXAMPLE_DATA_VERSION"


def inputs_and_data_version(context: Any, parameters: dict[str, Any]) -> Optional[str]:
    """The task's inputs and the value of ``HEADWATER_EXAMPLE_DATA_VERSION``, hashed.

    Use it for tasks whose result depends on data outside their arguments (a
    table, a bucket) that you version: bump the variable when the data changes
    (``HEADWATER_EXAMPLE_DATA_VERSION=2024-06-01``) and every such task runs
    again once, then hits the cache under the new version. Unset counts as a
    version of its own.

    Like ``task_input_hash``, it returns ``None`` (do not cache) for inputs it
    cannot hash in the same way in every process.
    """
    inputs = task_input_hash(context, parameters)
    if inputs is None:
        return None
    version = os.environ.get(DATA_VERSION_VARIABLE)
    marker = "unversioned" if version is None else "v" + hashlib.sha256(version.encode()).hexdigest()[:16]
    return f"{inputs}-{marker}"
