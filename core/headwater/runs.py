"""The runs headwater is executing in this process: plain objects the engines update.

The store records them (see :mod:`headwater.stores`); what the client reads back
are the pydantic records in :mod:`headwater.records`.
"""

from __future__ import annotations

import datetime as _dt
import os
import random
import time
from typing import Any

from .processes import current_process
from .states import State

__all__ = ["FlowRun", "TaskRun", "new_run_id", "short_run_id"]

# uuid4() asks the kernel for randomness on every call (about 20 µs in some sandboxes);
# a generator seeded from the kernel once per process, and again after fork, is as unique.
_ids = random.Random(os.urandom(32))
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _ids.seed(os.urandom(32)))

_LOW_48 = (1 << 48) - 1  # the id's last group; the two bits above the 62 random ones are the variant (0x8000)


# A millisecond, and the text of an id up to its 1/4096 ms for it: ids come many a millisecond.
# (One tuple, replaced whole, so that a thread never sees one millisecond's number with another's text.)
_prefix_of: tuple[int, str] = (-1, "")


def new_run_id() -> str:
    """A version-7 UUID (RFC 9562) as text: the time in milliseconds, then in 1/4096 of one, then 62 random bits.

    Ids made one after the other sort in that order, so the store's indexes on run ids grow at
    their ends: a batch of run records then touches a few pages of each, where random (version-4)
    ids touched one page a row (the writer's inserts of state rows took twice the time).
    """
    global _prefix_of
    ms, within = divmod(time.time_ns(), 1_000_000)
    prefix_ms, prefix = _prefix_of
    if ms != prefix_ms:
        digits = "%012x" % ms
        prefix = f"{digits[:8]}-{digits[8:]}-7"
        _prefix_of = (ms, prefix)
    random_bits = _ids.getrandbits(62)
    return "%s%03x-%04x-%012x" % (prefix, within * 4096 // 1_000_000, 0x8000 | random_bits >> 48, random_bits & _LOW_48)


def short_run_id(run_id: str) -> str:
    """The few characters that tell a run from the others in a listing: the end of its id, which is random.

    (Its start is the time the run was made, the same for every run of the same minute.)
    """
    return run_id[-8:]


class _Run:
    __slots__ = ("id", "name", "state", "parameters", "tags", "start_time", "end_time", "run_count", "created", "process")
    kind: str = ""

    def __init__(self, name: str, parameters: dict[str, Any], tags: tuple[str, ...]) -> None:
        self.id = new_run_id()
        self.name = name
        self.state: State | None = None
        self.parameters = parameters
        self.tags = tags
        self.start_time: _dt.datetime | None = None
        self.end_time: _dt.datetime | None = None
        self.run_count = 0
        self.created = _dt.datetime.now(_dt.timezone.utc)
        #: The process that runs it: a later process tells from it whether the run was left behind by a crash.
        self.process = current_process()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, id={self.id!r}, state={self.state!r})"


class FlowRun(_Run):
    """A run of a flow: one call of a ``@flow`` function, retries included."""

    __slots__ = ("flow_name", "flow_version", "parent_task_run_id", "parent_flow_run_id")
    kind = "flow"

    def __init__(
        self,
        name: str,
        flow_name: str,
        flow_version: str | None,
        parameters: dict[str, Any],
        tags: tuple[str, ...] = (),
        parent_flow_run_id: str | None = None,
        parent_task_run_id: str | None = None,
    ) -> None:
        super().__init__(name, parameters, tags)
        self.flow_name = flow_name
        self.flow_version = flow_version
        self.parent_flow_run_id = parent_flow_run_id
        self.parent_task_run_id = parent_task_run_id


class TaskRun(_Run):
    """A run of a task: one call or submission of a ``@task`` function, retries included."""

    __slots__ = ("task_name", "task_key", "flow_run_id", "cache_key", "dynamic_key", "upstream_task_run_ids")
    kind = "task"

    def __init__(
        self,
        name: str,
        task_name: str,
        task_key: str,
        flow_run_id: str | None,
        parameters: dict[str, Any],
        tags: tuple[str, ...] = (),
        dynamic_key: int = 0,
    ) -> None:
        super().__init__(name, parameters, tags)
        self.task_name = task_name
        self.task_key = task_key
        self.flow_run_id = flow_run_id
        self.cache_key: str | None = None
        self.dynamic_key = dynamic_key
        #: The task runs whose futures or states it was given (as arguments, at any depth, or in ``wait_for``).
        self.upstream_task_run_ids: tuple[str, ...] = ()
