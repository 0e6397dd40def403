"""Opening the store's database: its URL, its connections, their transactions.

Every connection is a plain ``sqlite3`` one in autocommit mode: the store begins its
transactions itself, so that a writing one can take the write lock at its start
(``BEGIN IMMEDIATE``) and queue behind another process's instead of failing half-way.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Iterator

from headwater.exceptions import StoreError

BUSY_TIMEOUT_SECONDS = 60.0
# SQLite reuses the write-ahead log from its start after each complete checkpoint but never shrinks
# it: one big commit would leave the file that large for good. At that reuse it is cut back to this.
WAL_SIZE_LIMIT = 4 * 1024 * 1024

#: Run on every connection as it opens (the writer's in its child process too).
PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA cache_size=-32768",  # 32 MiB: the indexes of a big flow stay in memory while it runs
    f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}",
)

_SCHEMES = ("sqlite:///", "sqlite+pysqlite:///")


def database_path(url: str) -> str:
    """The file named by ``url``: ``sqlite:///relative/path.db`` or ``sqlite:////absolute/path.db``."""
    scheme = next((s for s in _SCHEMES if url.startswith(s)), None)
    path = url[len(scheme) :] if scheme else ""
    if scheme is None or not path or path == ":memory:" or "?" in path:
        why = (
            "names no database file: the store's records are shared by threads and processes and outlive the process"
            if url.startswith(("sqlite:", "sqlite+pysqlite:"))
            else "is not a SQLite URL: the sqlite store keeps its records in a SQLite file (another database needs another store plugin, chosen with HEADWATER_STORE)"
        )
        raise StoreError(
            f"HEADWATER_DATABASE_URL={url!r} {why}. Give it as sqlite:///<path>, for example "
            "sqlite:////home/me/.headwater/headwater.db (four slashes for an absolute path)."
        )
    return path


def connect(path: str, cached_statements: int = 128) -> sqlite3.Connection:
    """A connection to the database file ``path``, in autocommit mode, usable from any thread (one at a time)."""
    conn = sqlite3.connect(
        path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False, cached_statements=cached_statements
    )
    for pragma in PRAGMAS:
        conn.execute(pragma)
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, write: bool = True) -> Iterator[sqlite3.Connection]:
    """Run the block in one transaction, committed if it returns and rolled back if it raises.

    A writing transaction takes the write lock at once; a reading one (``write=False``) sees the
    database as of its first statement, whatever other processes commit meanwhile.
    """
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # (SQLite has already rolled back after some errors)
            conn.execute("ROLLBACK")
        raise
