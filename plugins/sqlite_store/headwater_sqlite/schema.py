"""The tables of the SQLite store, and the schema version recorded with them.

The schema is plain SQLite DDL, read here top to bottom; the store speaks to SQLite through
Python's ``sqlite3`` alone (importing SQLAlchemy cost every process start 130-180 ms here, a
third of running a one-task flow script, and the store uses nothing it abstracts).

Schema history (opening an older database upgrades it in one transaction, with
``upgrade`` below, and records the new version):

1. runs, states, cache entries, inline result payloads.
2. stored log lines (``logs``), tag concurrency limits and the slots held under them.
3. ``cache_entries.task_key`` (indexed), so that a busy task's entries can be read ahead together
   (see :mod:`headwater_sqlite.read_ahead`). Entries filed before it have none and are looked up one by one.
4. ``artifacts``; ``run_requests`` (a resume asked of a paused flow run by another process);
   ``task_runs.upstream_task_run_ids`` (a JSON list, NULL for none: the task graph); Paused runs
   count as unfinished, so the partial indexes of unfinished runs are made again. Served flows:
   ``schedules``, ``schedule_runs`` (each due time claimed once, by one serving process) and
   ``schedule_requests`` (runs asked for with ``headwater schedules run``).
5. Indexes for browsing many flow runs (by state, by parent run), and ``heartbeats``: when each
   process that runs flows last said it was alive, so a run of another host whose process is
   gone is found out (see ``mark_crashed_runs``).

Databases written before the schema was plain DDL were created by SQLAlchemy from the same
tables: their columns, types and indexes are the ones below, in other words.
"""

from __future__ import annotations

import sqlite3
from typing import Optional

SCHEMA_VERSION = 5

# The columns every run has. The last five are the run's newest state, kept on the run row so
# listing runs needs no join; host, pid and process_token name the process running it (see
# headwater.processes): how a crashed run is told from a running one.
_RUN_COLUMNS = """
    id VARCHAR NOT NULL PRIMARY KEY,
    name VARCHAR NOT NULL,
    parameters TEXT NOT NULL,
    tags TEXT NOT NULL,
    start_time VARCHAR,
    end_time VARCHAR,
    created VARCHAR NOT NULL,
    run_count INTEGER NOT NULL,
    host VARCHAR,
    pid INTEGER,
    process_token VARCHAR,
    state_type VARCHAR,
    state_name VARCHAR,
    state_message TEXT,
    state_timestamp VARCHAR,
    state_storage_key VARCHAR"""

#: Runs a process is still working on: a crashed process leaves them so, and they are marked Crashed.
UNFINISHED = "state_type IN ('PENDING', 'RUNNING', 'SCHEDULED', 'PAUSED')"

TABLES = {
    "meta": """(
    key VARCHAR NOT NULL PRIMARY KEY,
    value VARCHAR NOT NULL)""",
    "flow_runs": f"""({_RUN_COLUMNS},
    flow_name VARCHAR NOT NULL,
    flow_version VARCHAR,
    parent_flow_run_id VARCHAR,
    parent_task_run_id VARCHAR)""",
    "task_runs": f"""({_RUN_COLUMNS},
    task_name VARCHAR NOT NULL,
    task_key VARCHAR NOT NULL,
    flow_run_id VARCHAR,
    cache_key VARCHAR,
    dynamic_key INTEGER NOT NULL,
    upstream_task_run_ids TEXT)""",
    "states": """(
    id INTEGER PRIMARY KEY,
    run_id VARCHAR NOT NULL,
    type VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    message TEXT,
    timestamp VARCHAR NOT NULL,
    storage_key VARCHAR)""",
    # task_key is last: schema 3 adds it to older databases with ALTER TABLE.
    "cache_entries": """(
    key VARCHAR NOT NULL PRIMARY KEY,
    storage_key VARCHAR NOT NULL,
    task_run_id VARCHAR NOT NULL,
    created VARCHAR NOT NULL,
    expiration VARCHAR,
    expiration_epoch FLOAT,
    task_key VARCHAR)""",
    # Result payloads up to INLINE_RESULT_LIMIT bytes, written in the same transaction as the
    # cache entry that points at them; larger ones are files in the storage folder.
    "results": """(
    storage_key VARCHAR NOT NULL PRIMARY KEY,
    payload BLOB NOT NULL,
    created VARCHAR NOT NULL)""",
    # Every log line of a run. flow_run_id is the top-level flow run the line belongs to, so a
    # flow run's lines and its task runs' are read in one query; timestamp is seconds since the epoch.
    "logs": """(
    id INTEGER PRIMARY KEY,
    run_id VARCHAR NOT NULL,
    flow_run_id VARCHAR,
    level INTEGER NOT NULL,
    logger VARCHAR NOT NULL,
    timestamp FLOAT NOT NULL,
    message TEXT NOT NULL)""",
    # Tag concurrency limits, shared by every process that uses the database.
    "concurrency_limits": """(
    tag VARCHAR NOT NULL PRIMARY KEY,
    slot_limit INTEGER NOT NULL,
    created VARCHAR NOT NULL)""",
    # One row per (tag, task run) holding a slot; the process columns let a dead holder's slot be reclaimed.
    "concurrency_slots": """(
    tag VARCHAR NOT NULL,
    task_run_id VARCHAR NOT NULL,
    task_run_name VARCHAR NOT NULL,
    host VARCHAR NOT NULL,
    pid INTEGER NOT NULL,
    process_token VARCHAR,
    acquired VARCHAR NOT NULL,
    PRIMARY KEY (tag, task_run_id))""",
    # What runs published for people to read; data is JSON (markdown text, or a table's rows or columns).
    "artifacts": """(
    id VARCHAR NOT NULL PRIMARY KEY,
    key VARCHAR,
    type VARCHAR NOT NULL,
    description TEXT,
    data TEXT NOT NULL,
    flow_run_id VARCHAR,
    task_run_id VARCHAR,
    created VARCHAR NOT NULL)""",
    # Requests to the process running a run, from other processes: the store is the mailbox.
    "run_requests": """(
    run_id VARCHAR NOT NULL,
    request VARCHAR NOT NULL,
    created VARCHAR NOT NULL,
    PRIMARY KEY (run_id, request))""",
    # Flows served on a schedule (headwater serve): what, when, and the process serving it.
    "schedules": """(
    name VARCHAR NOT NULL PRIMARY KEY,
    entrypoint VARCHAR NOT NULL,
    flow_name VARCHAR NOT NULL,
    spec TEXT NOT NULL,
    parameters TEXT NOT NULL,
    paused INTEGER NOT NULL,
    host VARCHAR,
    pid INTEGER,
    updated VARCHAR NOT NULL)""",
    # One row per due time of a schedule: inserting it is the claim, so two servers never run it twice.
    "schedule_runs": """(
    schedule VARCHAR NOT NULL,
    scheduled_time VARCHAR NOT NULL,
    flow_run_id VARCHAR NOT NULL,
    PRIMARY KEY (schedule, scheduled_time))""",
    "schedule_requests": """(
    id INTEGER PRIMARY KEY,
    schedule VARCHAR NOT NULL,
    parameters TEXT NOT NULL,
    created VARCHAR NOT NULL)""",
    # The newest heartbeat of each process running flows; last_seen is seconds since the epoch.
    # process_token is '' where the process has none, so that the key is never NULL.
    "heartbeats": """(
    host VARCHAR NOT NULL,
    pid INTEGER NOT NULL,
    process_token VARCHAR NOT NULL,
    last_seen FLOAT NOT NULL,
    PRIMARY KEY (host, pid, process_token))""",
}

INDEXES = {
    "ix_flow_runs_flow_name_created": "flow_runs (flow_name, created)",
    "ix_flow_runs_created": "flow_runs (created)",
    "ix_flow_runs_unfinished": f"flow_runs (host) WHERE {UNFINISHED}",
    # Runs in a state, newest first, and the counts by state over time: read from the index alone.
    "ix_flow_runs_state_type_created": "flow_runs (state_type, created)",
    "ix_flow_runs_parent_flow_run_id": "flow_runs (parent_flow_run_id) WHERE parent_flow_run_id IS NOT NULL",
    "ix_task_runs_flow_run_id": "task_runs (flow_run_id)",
    "ix_task_runs_unfinished": f"task_runs (host) WHERE {UNFINISHED}",
    "ix_states_run_id": "states (run_id)",
    "ix_cache_entries_task_key": "cache_entries (task_key)",
    # The one index of logs: run ids are random, and an index on them costs each task run about a
    # hundred bytes and a scattered page write per batch. A run's lines are read within its top-level run's.
    "ix_logs_flow_run_id": "logs (flow_run_id, id)",
    "ix_artifacts_key_created": "artifacts (key, created)",
    "ix_artifacts_flow_run_id": "artifacts (flow_run_id)",
}


def _create_tables(conn: sqlite3.Connection) -> None:
    for name, columns in TABLES.items():
        conn.execute(f"CREATE TABLE IF NOT EXISTS {name} {columns}")


def _create_indexes(conn: sqlite3.Connection) -> None:
    for name, on in INDEXES.items():
        conn.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {on}")


def version(conn: sqlite3.Connection) -> Optional[int]:
    """The schema version the database records, or None for a database without one (a new one)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row is not None else None


def create(conn: sqlite3.Connection) -> None:
    """Create every table and index of ``SCHEMA_VERSION`` (``conn`` in a transaction)."""
    _create_tables(conn)
    _create_indexes(conn)
    conn.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))


def upgrade(conn: sqlite3.Connection, found: int) -> None:
    """Bring a database at schema ``found`` to ``SCHEMA_VERSION`` (``conn`` in a transaction)."""
    _create_tables(conn)  # the tables added by versions 2 to 5
    if found < 3:
        if "task_key" not in columns(conn, "cache_entries"):
            conn.execute("ALTER TABLE cache_entries ADD COLUMN task_key VARCHAR")
    if found < 4:
        if "upstream_task_run_ids" not in columns(conn, "task_runs"):
            conn.execute("ALTER TABLE task_runs ADD COLUMN upstream_task_run_ids TEXT")
        # Paused became unfinished: the partial indexes' condition changed.
        conn.execute("DROP INDEX IF EXISTS ix_flow_runs_unfinished")
        conn.execute("DROP INDEX IF EXISTS ix_task_runs_unfinished")
    _create_indexes(conn)  # after the columns they index
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    """The names of ``table``'s columns, in order."""
    return [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
