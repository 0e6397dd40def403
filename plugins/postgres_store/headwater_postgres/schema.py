"""The tables of the PostgreSQL store, and the schema version recorded with them.

The same record as the SQLite store's tables, in PostgreSQL's types: moments are
``timestamptz``, tags and upstream task runs are ``text[]`` (a tag filter is an array
containment, served by a GIN index), payloads ``bytea``. The run tables carry the run's
newest state, so listing runs needs no join.

Schema history (``upgrade`` brings an older database to ``SCHEMA_VERSION`` in one transaction):

1. Everything the store contract of headwater 0.x keeps.

Creating or upgrading takes a transaction-level advisory lock, so two processes that open a
new database at the same moment both succeed: the second waits, then finds the tables made.
"""

from __future__ import annotations

from typing import Any, Optional

SCHEMA_VERSION = 1

#: Any number, the same in every process: the advisory lock taken around creating the schema.
SCHEMA_LOCK = 0x68656164  # "head"

_RUN_COLUMNS = """
    id text PRIMARY KEY,
    name text NOT NULL,
    parameters text NOT NULL,
    tags text[] NOT NULL,
    start_time timestamptz,
    end_time timestamptz,
    created timestamptz NOT NULL,
    run_count integer NOT NULL,
    host text,
    pid integer,
    process_token text,
    state_type text,
    state_name text,
    state_message text,
    state_timestamp timestamptz,
    state_storage_key text"""

#: Runs a process is still working on: a crashed process leaves them so, and they are marked Crashed.
UNFINISHED = "state_type IN ('PENDING', 'RUNNING', 'SCHEDULED', 'PAUSED')"

TABLES = {
    "hw_meta": "(key text PRIMARY KEY, value text NOT NULL)",
    "flow_runs": f"""({_RUN_COLUMNS},
    flow_name text NOT NULL,
    flow_version text,
    parent_flow_run_id text,
    parent_task_run_id text)""",
    "task_runs": f"""({_RUN_COLUMNS},
    task_name text NOT NULL,
    task_key text NOT NULL,
    flow_run_id text,
    cache_key text,
    dynamic_key integer NOT NULL,
    upstream_task_run_ids text[])""",
    "states": """(
    id bigserial PRIMARY KEY,
    run_id text NOT NULL,
    type text NOT NULL,
    name text NOT NULL,
    message text,
    timestamp timestamptz NOT NULL,
    storage_key text)""",
    "cache_entries": """(
    key text PRIMARY KEY,
    storage_key text NOT NULL,
    task_run_id text NOT NULL,
    created timestamptz NOT NULL,
    expiration timestamptz,
    task_key text)""",
    # Payloads up to INLINE_RESULT_LIMIT bytes; larger ones are files in the storage folder.
    "results": "(storage_key text PRIMARY KEY, payload bytea NOT NULL, created timestamptz NOT NULL)",
    # flow_run_id is the top-level flow run the line belongs to; timestamp is seconds since the epoch.
    "logs": """(
    id bigserial PRIMARY KEY,
    run_id text NOT NULL,
    flow_run_id text,
    level integer NOT NULL,
    logger text NOT NULL,
    timestamp double precision NOT NULL,
    message text NOT NULL)""",
    "concurrency_limits": "(tag text PRIMARY KEY, slot_limit integer NOT NULL, created timestamptz NOT NULL)",
    "concurrency_slots": """(
    tag text NOT NULL,
    task_run_id text NOT NULL,
    task_run_name text NOT NULL,
    host text NOT NULL,
    pid integer NOT NULL,
    process_token text,
    acquired timestamptz NOT NULL,
    PRIMARY KEY (tag, task_run_id))""",
    "artifacts": """(
    id text PRIMARY KEY,
    key text,
    type text NOT NULL,
    description text,
    data text NOT NULL,
    flow_run_id text,
    task_run_id text,
    created timestamptz NOT NULL)""",
    "run_requests": "(run_id text NOT NULL, request text NOT NULL, created timestamptz NOT NULL, PRIMARY KEY (run_id, request))",
    "schedules": """(
    name text PRIMARY KEY,
    entrypoint text NOT NULL,
    flow_name text NOT NULL,
    spec text NOT NULL,
    parameters text NOT NULL,
    paused boolean NOT NULL,
    host text,
    pid integer,
    updated timestamptz NOT NULL)""",
    "schedule_runs": """(
    schedule text NOT NULL,
    scheduled_time timestamptz NOT NULL,
    flow_run_id text NOT NULL,
    PRIMARY KEY (schedule, scheduled_time))""",
    "schedule_requests": "(id bigserial PRIMARY KEY, schedule text NOT NULL, parameters text NOT NULL, created timestamptz NOT NULL)",
    # process_token is '' where the process has none, so that the key is never NULL.
    "heartbeats": """(
    host text NOT NULL,
    pid integer NOT NULL,
    process_token text NOT NULL,
    last_seen double precision NOT NULL,
    PRIMARY KEY (host, pid, process_token))""",
}

INDEXES = {
    "ix_flow_runs_created": "flow_runs (created)",
    "ix_flow_runs_flow_name_created": "flow_runs (flow_name, created)",
    "ix_flow_runs_state_type_created": "flow_runs (state_type, created)",
    "ix_flow_runs_tags": "flow_runs USING gin (tags)",
    "ix_flow_runs_parent_flow_run_id": "flow_runs (parent_flow_run_id) WHERE parent_flow_run_id IS NOT NULL",
    "ix_flow_runs_unfinished": f"flow_runs (host) WHERE {UNFINISHED}",
    "ix_task_runs_flow_run_id": "task_runs (flow_run_id)",
    "ix_task_runs_unfinished": f"task_runs (host) WHERE {UNFINISHED}",
    "ix_states_run_id": "states (run_id)",
    "ix_cache_entries_task_key": "cache_entries (task_key)",
    "ix_logs_flow_run_id": "logs (flow_run_id, id)",
    "ix_artifacts_key_created": "artifacts (key, created)",
    "ix_artifacts_flow_run_id": "artifacts (flow_run_id)",
}


def version(conn: Any) -> Optional[int]:
    """The schema version the database records, or None for a database without one."""
    if conn.execute("SELECT to_regclass('hw_meta')").fetchone()[0] is None:
        return None
    row = conn.execute("SELECT value FROM hw_meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row is not None else None


def create(conn: Any) -> None:
    """Create every table and index of ``SCHEMA_VERSION`` (``conn`` in a transaction)."""
    for name, columns in TABLES.items():
        conn.execute(f"CREATE TABLE IF NOT EXISTS {name} {columns}")
    for name, on in INDEXES.items():
        conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")
    conn.execute(
        "INSERT INTO hw_meta (key, value) VALUES ('schema_version', %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(SCHEMA_VERSION),),
    )


def upgrade(conn: Any, found: int) -> None:
    """Bring a database at schema ``found`` to ``SCHEMA_VERSION`` (``conn`` in a transaction)."""
    create(conn)  # version 1 is the first: later versions add their ALTERs here, before the version is set
