"""Opening the store's database: its URL, its connections, their transactions.

Every connection is a plain ``sqlite3`` one in autocommit mode: the store begins its
transactions itself, so that a writing one can take the write lock at its start
(``BEGIN IMMEDIATE``) and queue behind another process's instead of failing half-way.
"""

from __future__ import annotations

import sqlite3

from headwater.exceptions import StoreError

from . import committer
from .committer import transaction  # (one place for it: the writer's child process runs it too)

__all__ = ["BUSY_TIMEOUT_SECONDS", "PRAGMAS", "WAL_SIZE_LIMIT", "connect", "database_path", "transaction"]

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
    return committer.connect(path, BUSY_TIMEOUT_SECONDS, PRAGMAS, cached_statements)
