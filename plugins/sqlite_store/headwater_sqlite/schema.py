"""The tables of the SQLite store, and the schema version recorded with them."""

from __future__ import annotations

from sqlalchemy import Column, Float, Index, Integer, LargeBinary, MetaData, String, Table, Text, text

SCHEMA_VERSION = 1

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

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", String, nullable=False),
)
