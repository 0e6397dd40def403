"""The tables of the SQLite store, and the schema version recorded with them.

Schema history (opening an older database upgrades it in one transaction, with
``upgrade`` below, and records the new version):

1. runs, states, cache entries, inline result payloads.
2. stored log lines (``logs``), tag concurrency limits and the slots held under them.
3. ``cache_entries.task_key`` (indexed), so that a busy task's entries can be read ahead together
   (see :mod:`headwater_sqlite.read_ahead`). Entries filed before it have none and are looked up one by one.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, Float, Index, Integer, LargeBinary, MetaData, String, Table, Text, text

SCHEMA_VERSION = 3

metadata = MetaData()


def _state_columns() -> list[Column]:
    # The run's newest state, kept on the run row so listing runs needs no join.
    return [
        Column("state_type", String),
        Column("state_name", String),
        Column("state_message", Text),
        Column("state_timestamp", String),
        Column("state_storage_key", String),
    ]


def _run_columns() -> list[Column]:
    return [
        Column("id", String, primary_key=True),
        Column("name", String, nullable=False),
        Column("parameters", Text, nullable=False, default="{}"),
        Column("tags", Text, nullable=False, default="[]"),
        Column("start_time", String),
        Column("end_time", String),
        Column("created", String, nullable=False),
        Column("run_count", Integer, nullable=False, default=0),
        # The process running it (see headwater.processes): how a crashed run is told from a running one.
        Column("host", String),
        Column("pid", Integer),
        Column("process_token", String),
        *_state_columns(),
    ]


flow_runs = Table(
    "flow_runs",
    metadata,
    *_run_columns(),
    Column("flow_name", String, nullable=False),
    Column("flow_version", String),
    Column("parent_flow_run_id", String),
    Column("parent_task_run_id", String),
    Index("ix_flow_runs_flow_name_created", "flow_name", "created"),
    Index("ix_flow_runs_created", "created"),
    Index("ix_flow_runs_unfinished", "host", sqlite_where=text("state_type IN ('PENDING', 'RUNNING', 'SCHEDULED')")),
)

task_runs = Table(
    "task_runs",
    metadata,
    *_run_columns(),
    Column("task_name", String, nullable=False),
    Column("task_key", String, nullable=False),
    Column("flow_run_id", String),
    Column("cache_key", String),
    Column("dynamic_key", Integer, nullable=False, default=0),
    Index("ix_task_runs_flow_run_id", "flow_run_id"),
    Index("ix_task_runs_unfinished", "host", sqlite_where=text("state_type IN ('PENDING', 'RUNNING', 'SCHEDULED')")),
)

states = Table(
    "states",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String, nullable=False),
    Column("type", String, nullable=False),
    Column("name", String, nullable=False),
    Column("message", Text),
    Column("timestamp", String, nullable=False),
    Column("storage_key", String),
    Index("ix_states_run_id", "run_id"),
)

cache_entries = Table(
    "cache_entries",
    metadata,
    Column("key", String, primary_key=True),
    Column("storage_key", String, nullable=False),
    Column("task_run_id", String, nullable=False),
    Column("created", String, nullable=False),
    Column("expiration", String),
    Column("expiration_epoch", Float),
    Column("task_key", String),  # last: schema 3 adds it to older databases with ALTER TABLE
    Index("ix_cache_entries_task_key", "task_key"),
)

# Result payloads up to INLINE_RESULT_LIMIT bytes live here, written in the same transaction as the
# cache entry that points at them; larger ones are files in the storage folder.
results = Table(
    "results",
    metadata,
    Column("storage_key", String, primary_key=True),
    Column("payload", LargeBinary, nullable=False),
    Column("created", String, nullable=False),
)

# Every log line of a run, written by the store's writer thread in the same batches as states.
logs = Table(
    "logs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String, nullable=False),
    # The top-level flow run the line belongs to, so a flow run's logs and its task runs' read in one query.
    Column("flow_run_id", String),
    Column("level", Integer, nullable=False),
    Column("logger", String, nullable=False),
    Column("timestamp", Float, nullable=False),
    Column("message", Text, nullable=False),
    # The one index: run ids are random, and an index on them costs each task run about a hundred
    # bytes and a scattered page write per batch. A run's lines are read within its top-level run's.
    Index("ix_logs_flow_run_id", "flow_run_id", "id"),
)

# Tag concurrency limits, shared by every process that uses the database.
concurrency_limits = Table(
    "concurrency_limits",
    metadata,
    Column("tag", String, primary_key=True),
    Column("slot_limit", Integer, nullable=False),
    Column("created", String, nullable=False),
)

# One row per (tag, task run) holding a slot; the process columns let a dead holder's slot be reclaimed.
concurrency_slots = Table(
    "concurrency_slots",
    metadata,
    Column("tag", String, primary_key=True),
    Column("task_run_id", String, primary_key=True),
    Column("task_run_name", String, nullable=False),
    Column("host", String, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("process_token", String),
    Column("acquired", String, nullable=False),
)

def upgrade(conn: Any, found: int) -> None:
    """Bring a database at schema ``found`` to ``SCHEMA_VERSION`` (``conn``: a SQLAlchemy connection in a transaction)."""
    metadata.create_all(conn, checkfirst=True)  # tables added by versions 2 and 3 (with their indexes)
    if found < 3:
        columns = {row[1] for row in conn.exec_driver_sql("PRAGMA table_info(cache_entries)")}
        if "task_key" not in columns:
            conn.exec_driver_sql("ALTER TABLE cache_entries ADD COLUMN task_key VARCHAR")
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_cache_entries_task_key ON cache_entries (task_key)")


meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)
