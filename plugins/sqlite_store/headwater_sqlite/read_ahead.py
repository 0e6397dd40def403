"""Reading a busy cached task's entries ahead, so that its cache hits need no query.

A flow run that calls a cached task many times with inputs seen before (a re-run, typically)
made one lookup per call, and in the flow's process that lookup cost as much as the rest of a
cache hit. Once lookups have found a task's entries often enough, :class:`ReadAhead` reads all
of that task's entries in one query and serves the later hits from memory:

* from the ``FIRST_AT_HITS``-th hit on, and only once the hits so far are at least
  ``1 / HITS_PER_ENTRY`` of the task's entries. Reading an entry ahead costs a fifth to a
  third of a lookup (measured: the query, then a Python row), so a wrong guess (the flow
  hits nothing more) costs at most about three times the lookups already made, while a
  re-run that hits them all is served from memory for nine tenths of its calls. A flow that
  hits a few of a task's many entries reads none ahead;
* only entries whose payload is at most ``PAYLOAD_LIMIT`` bytes, and ``MAX_ENTRIES`` in all;
* a miss, and an entry that has expired, are still asked of the database, which may have a
  newer entry from another process.

What was read stays right until another process deletes or replaces entries. Each such change
bumps the database's *cache generation* (a row of ``meta``); a process that has read entries
ahead checks it at most every ``CHECK_SECONDS`` and drops them all when it has moved. So a
``headwater cache clear`` in another process reaches a running flow within that time. This
process's own writes and clears reach it at once (the store calls :meth:`ReadAhead.discard`).
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
from typing import Any, Callable, Optional

from headwater.stores import CacheEntry

from .connections import transaction

FIRST_AT_HITS = 32
HITS_PER_ENTRY = 10
PAYLOAD_LIMIT = 64 * 1024
MAX_ENTRIES = 200_000
CHECK_SECONDS = 0.25

#: Run in the transaction that deletes or replaces cache entries.
BUMP_GENERATION = (
    "INSERT INTO meta (key, value) VALUES ('cache_generation', '1') "
    "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
)

_READ_TASK_ENTRIES = (
    "SELECT c.key, c.storage_key, c.task_run_id, c.created, c.expiration, r.payload, c.task_key FROM cache_entries c "
    "LEFT JOIN results r ON r.storage_key = c.storage_key "
    "WHERE c.task_key = ? AND (r.payload IS NULL OR length(r.payload) <= ?)"
)


def _generation(conn: Any) -> Optional[str]:
    row = conn.execute("SELECT value FROM meta WHERE key = 'cache_generation'").fetchone()
    return row[0] if row is not None else None


def bump_if_replacing(keys: list[str]) -> list[tuple[str, list[str]]]:
    """The statements bumping the cache generation if any of ``keys`` is already filed (before it is replaced)."""
    statements = []
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        statements.append((_BUMP_IF_FILED.format(marks=marks), chunk))
    return statements


# BUMP_GENERATION, made conditional: the writer hands its statements to another process, which runs
# them as they are (it cannot look at a query's answer and decide). A bump more than needed is harmless.
_BUMP_IF_FILED = (
    "INSERT INTO meta (key, value) SELECT 'cache_generation', '1' "
    "WHERE EXISTS (SELECT 1 FROM cache_entries WHERE key IN ({marks})) "
    "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
)


class ReadAhead:
    """The entries read ahead, by key, and what decides when to read more. Shared by the store's threads."""

    def __init__(self) -> None:
        # key -> the row read (storage_key, task_run_id, created, expiration, payload): an entry is made
        # only for the rows that hit, so reading ahead costs little more than fetching the rows.
        self.entries: dict[str, tuple] = {}
        self._hits: dict[str, int] = {}  # task_key -> hits served by a lookup in the database
        self._next_at: dict[str, int] = {}  # task_key -> at how many hits reading ahead is considered again
        self._read: set[str] = set()  # the task_keys whose entries are in ``entries``
        self._generation: Optional[str] = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def get(self, key: str, connection: Callable[[], Any]) -> Optional[CacheEntry]:
        """The entry under ``key`` if it was read ahead and has not expired; ``connection()`` gives a lookup connection."""
        if not self.entries:
            return None
        now = time.monotonic()
        if now - self._checked >= CHECK_SECONDS:
            self._check(connection(), now)
        row = self.entries.get(key)
        if row is None:
            return None
        storage_key, run_id, created, expiration, payload, task_key = row
        from_iso = _dt.datetime.fromisoformat
        entry = CacheEntry(key, storage_key, run_id, from_iso(created), from_iso(expiration) if expiration else None, payload, task_key)
        if expiration and not entry.is_valid(_dt.datetime.now(_dt.timezone.utc)):
            return None
        return entry

    def found(self, conn: Any, task_key: Optional[str]) -> None:
        """A lookup in the database found an entry filed by ``task_key``: read that task's entries ahead, if it pays."""
        if task_key is None or task_key in self._read:
            return
        hits = self._hits.get(task_key, 0) + 1
        self._hits[task_key] = hits
        if hits < self._next_at.get(task_key, FIRST_AT_HITS):
            return
        with self._lock:
            if task_key in self._read:
                return
            count = self._read_task(conn, task_key, hits)
            if count is not None:  # not worth it yet: considered again once it would be
                worth_at = -(-count // HITS_PER_ENTRY)
                self._next_at[task_key] = worth_at if worth_at > hits else hits * 2  # (too many to hold: later)

    def discard(self, key: str) -> None:
        """Forget ``key``: this process has just filed a new entry under it."""
        self.entries.pop(key, None)

    def clear(self) -> None:
        """Forget everything read ahead (this process cleared cache entries)."""
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        self.entries = {}
        self._read = set()
        self._next_at = {}  # a task that was worth reading is read again at its next hit

    def _check(self, conn: Any, now: float) -> None:
        if not self._lock.acquire(blocking=False):
            return  # another thread is checking, or reading ahead
        try:
            self._checked = now
            if _generation(conn) != self._generation:
                self._drop()
        finally:
            self._lock.release()

    def _read_task(self, conn: Any, task_key: str, hits: int) -> Optional[int]:
        """Read the task's entries if that pays now; otherwise return how many there are."""
        with transaction(conn, write=False):  # the generation and the entries, as of one moment
            (count,) = conn.execute("SELECT count(*) FROM cache_entries WHERE task_key = ?", (task_key,)).fetchone()
            if count > hits * HITS_PER_ENTRY or len(self.entries) + count > MAX_ENTRIES:
                return count
            generation = _generation(conn)
            rows = conn.execute(_READ_TASK_ENTRIES, (task_key, PAYLOAD_LIMIT)).fetchall()
        if self.entries and generation != self._generation:
            self._drop()  # what was read before is older than what is read now
        entries = self.entries
        for row in rows:
            entries[row[0]] = row[1:]
        self._read.add(task_key)
        self._generation = generation
        self._checked = time.monotonic()
        if _generation(conn) != generation:
            self._drop()  # an entry changed while they were being read (this process's writer, say)
        return None
