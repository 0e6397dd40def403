"""Tag concurrency limits in SQLite: the slot bookkeeping behind :mod:`headwater.concurrency`.

Slots are taken in one ``BEGIN IMMEDIATE`` transaction, so two processes asking
for the last slot of a tag are served one after the other, and the second sees
the first's slot. These statements run on the store's per-thread lookup
connection (autocommit), not through the batching writer: a task run waiting
for a slot needs the answer now, and a freed slot must be visible to other
processes at once.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Optional, Sequence

from headwater.concurrency import ConcurrencyLimit, SlotRefusal, slot_holder
from headwater.processes import current_process, is_alive

from .connections import transaction

_HOLDER_COLUMNS = "task_run_id, task_run_name, host, pid, acquired, process_token"


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat()


def _limits(conn: Any, tags: Sequence[str]) -> list[tuple[str, int]]:
    marks = ", ".join("?" for _ in tags)
    return conn.execute(f"SELECT tag, slot_limit FROM concurrency_limits WHERE tag IN ({marks}) ORDER BY tag", tuple(tags)).fetchall()


def _live_holders(conn: Any, tag: str, reclaim: bool = True) -> list[tuple[Any, ...]]:
    """The rows holding ``tag``'s slots whose process is not known to be dead (deleted, with ``reclaim``)."""
    rows = conn.execute(f"SELECT {_HOLDER_COLUMNS} FROM concurrency_slots WHERE tag = ? ORDER BY acquired", (tag,)).fetchall()
    live = []
    for row in rows:
        run_id, _name, host, pid, _acquired, token = row
        if is_alive(host, pid, token) is False:
            if reclaim:
                conn.execute("DELETE FROM concurrency_slots WHERE tag = ? AND task_run_id = ?", (tag, run_id))
        else:
            live.append(row)
    return live


def _refusal(conn: Any, limits: list[tuple[str, int]], run_id: str, reclaim: bool) -> Optional[SlotRefusal]:
    for tag, limit in limits:
        holders = [row for row in _live_holders(conn, tag, reclaim) if row[0] != run_id]
        if len(holders) >= limit:
            return SlotRefusal(tag, limit, _holders(holders))
    return None


def _holders(rows: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    return tuple(slot_holder(row[:5]) for row in rows)


def acquire(conn: Any, run: Any) -> tuple[str, ...] | SlotRefusal:
    tags = tuple(dict.fromkeys(run.tags))
    limits = _limits(conn, tags)
    if not limits:  # a limit deleted since the tags were read: one read, without the write lock
        return ()
    # A run waiting for a full tag asks again and again: refuse it without taking the write lock.
    refusal = _refusal(conn, limits, run.id, reclaim=False)
    if refusal is not None:
        return refusal

    def take() -> tuple[str, ...] | SlotRefusal:
        limits_now = _limits(conn, tags)  # read again under the lock: another process may have just taken a slot
        refusal = _refusal(conn, limits_now, run.id, reclaim=True)
        if refusal is not None:
            return refusal
        me, now = current_process(), _now()
        conn.executemany(
            "INSERT OR IGNORE INTO concurrency_slots (tag, task_run_id, task_run_name, host, pid, process_token, acquired) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(tag, run.id, run.name, me.host, me.pid, me.start_token, now) for tag, _ in limits_now],
        )
        return tuple(tag for tag, _ in limits_now)

    with transaction(conn):
        return take()


def release(conn: Any, run_id: str) -> None:
    conn.execute("DELETE FROM concurrency_slots WHERE task_run_id = ?", (run_id,))


def set_limit(conn: Any, tag: str, limit: int) -> None:
    conn.execute(
        "INSERT INTO concurrency_limits (tag, slot_limit, created) VALUES (?, ?, ?) "
        "ON CONFLICT(tag) DO UPDATE SET slot_limit = excluded.slot_limit",
        (tag, limit, _now()),
    )


def read_limits(conn: Any, tag: Optional[str]) -> list[ConcurrencyLimit]:
    def read() -> list[ConcurrencyLimit]:
        where, args = ("WHERE tag = ?", (tag,)) if tag is not None else ("", ())
        rows = conn.execute(f"SELECT tag, slot_limit, created FROM concurrency_limits {where} ORDER BY tag", args).fetchall()
        return [
            ConcurrencyLimit(name, limit, _dt.datetime.fromisoformat(created), _holders(_live_holders(conn, name)))
            for name, limit, created in rows
        ]

    with transaction(conn):  # a writing one: dead holders are deleted as they are found
        return read()


def delete_limit(conn: Any, tag: str) -> bool:
    def delete() -> bool:
        conn.execute("DELETE FROM concurrency_slots WHERE tag = ?", (tag,))
        return conn.execute("DELETE FROM concurrency_limits WHERE tag = ?", (tag,)).rowcount > 0

    with transaction(conn):
        return delete()
