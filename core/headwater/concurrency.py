"""Tag concurrency limits: at most N task runs carrying a tag run at once, across every process sharing a store.

A limit is kept in the store (``headwater concurrency-limit create db 2``, or
:meth:`headwater.client.Client.create_concurrency_limit`). A task run with a
limited tag takes one *slot* per limited tag as it starts running and gives them
back when it leaves Running; while a tag is full the run waits in the
``AwaitingConcurrencySlot`` state. Each slot records the process holding it, so a
slot held by a process that died is taken back instead of leaking.

The rule that applies limits is :class:`headwater.defaults.concurrency.TagConcurrencyLimits`;
the store keeps the limits and slots (see the "tag concurrency limits" methods of
:class:`headwater.stores.Store`).
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import time
from typing import Any, Optional, Sequence

from .exceptions import ConfigurationError

__all__ = ["ConcurrencyLimit", "LimitedTags", "SlotHolder", "SlotRefusal", "check_limit", "check_tag"]


@dataclasses.dataclass(frozen=True)
class SlotHolder:
    """A task run holding a slot of a tag, and the process it runs in."""

    task_run_id: str
    task_run_name: str
    host: str
    pid: int
    acquired: _dt.datetime

    def describe(self) -> str:
        return f"'{self.task_run_name}' (pid {self.pid} on {self.host})"


@dataclasses.dataclass(frozen=True)
class ConcurrencyLimit:
    """A tag's limit and the runs holding its slots now."""

    tag: str
    limit: int
    created: _dt.datetime
    holders: tuple[SlotHolder, ...] = ()

    @property
    def active(self) -> int:
        return len(self.holders)


@dataclasses.dataclass(frozen=True)
class SlotRefusal:
    """Why a task run cannot have its slots now: the first of its tags that is full."""

    tag: str
    limit: int
    holders: tuple[SlotHolder, ...]

    def describe(self) -> str:
        if self.limit == 0:
            return (
                f"tag '{self.tag}' has a concurrency limit of 0, so task runs tagged '{self.tag}' never run; raise it "
                f"with `headwater concurrency-limit create {self.tag} N` or remove it with "
                f"`headwater concurrency-limit delete {self.tag}`"
            )
        held = ", ".join(holder.describe() for holder in self.holders[:3])
        more = f" and {len(self.holders) - 3} more" if len(self.holders) > 3 else ""
        return f"all {self.limit} slot(s) of tag '{self.tag}' are taken, by {held}{more}"


def check_tag(tag: Any) -> str:
    if not isinstance(tag, str) or not tag.strip():
        raise ConfigurationError(f"concurrency limit tag={tag!r}: give the tag as a non-empty string, e.g. 'database'.")
    return tag


def check_limit(tag: str, limit: Any) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ConfigurationError(
            f"concurrency limit for tag '{tag}': limit={limit!r} must be a whole number of 0 or more "
            "(0 stops the tag's task runs from running at all)."
        )
    return limit


def slot_holder(row: Any) -> Optional[SlotHolder]:
    """A holder from a store row ``(task_run_id, task_run_name, host, pid, acquired)``, acquired a datetime or ISO text."""
    if row is None:
        return None
    run_id, name, host, pid, acquired = row
    return SlotHolder(run_id, name, host, pid, acquired if isinstance(acquired, _dt.datetime) else _dt.datetime.fromisoformat(acquired))


class LimitedTags:
    """Which tags have a limit, read again at most every ``MAX_AGE`` seconds.

    Most tagged task runs carry no limited tag. Asking the database for each of them
    costs little alone but, on a runner's many threads, every call that leaves Python
    is a chance to lose the interpreter to another thread: a tagged task cost twice an
    untagged one. A limit created in this process applies at once; one created in
    another process, to the task runs that start at most ``MAX_AGE`` seconds later.
    """

    MAX_AGE = 0.25

    def __init__(self) -> None:
        self._tags: frozenset[str] = frozenset()
        self._read_at = -1e9

    def any_limited(self, conn: Any, tags: Sequence[str]) -> bool:
        """Whether one of ``tags`` has a limit; ``conn.execute(sql)`` reads the store's table of limits."""
        now = time.monotonic()
        if now - self._read_at > self.MAX_AGE:
            self._tags = frozenset(tag for (tag,) in conn.execute("SELECT tag FROM concurrency_limits"))
            self._read_at = now
        return not self._tags.isdisjoint(tags)

    def forget(self) -> None:
        """Read again next time (this process changed a limit)."""
        self._read_at = -1e9
