"""A database written by the first schema keeps working: its runs read back, its cache still hits.

``tests/fixtures/schema_v1.db`` was written by headwater's first schema (one flow run of
``schema-v1-fixture`` with a cached task and a retried one). It is kept as it is; when the
schema changes, this test checks the upgrade in place.
"""

import shutil
import sqlite3
from pathlib import Path

from headwater import flow, task
from headwater.client import get_client
from headwater.tasks import task_input_hash

FIXTURE = Path(__file__).parent / "fixtures" / "schema_v1.db"


def test_first_schema_database_opens_and_keeps_its_rows(headwater_home):
    headwater_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURE, headwater_home / "headwater.db")
    client = get_client()
    [run] = client.read_flow_runs()
    assert run.flow_name == "schema-v1-fixture" and run.state.name == "Completed" and run.parameters == {"x": 7}
    tasks = {t.task_name: t for t in client.read_task_runs(flow_run_id=run.id)}
    assert [s.name for s in client.read_state_history(tasks["flaky"].id)] == [
        "Pending", "Running", "AwaitingRetry", "Retrying", "Completed",
    ]
    assert tasks["square"].state.to_state().result() == 49  # its payload is still readable

    conn = sqlite3.connect(headwater_home / "headwater.db")
    try:
        # Opened by this headwater, it was upgraded in place: the new tables and column exist, the version says so.
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("5",)
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {"logs", "concurrency_limits", "concurrency_slots", "artifacts", "run_requests", "heartbeats"} <= tables
        assert "task_key" in {row[1] for row in conn.execute("PRAGMA table_info(cache_entries)")}
        indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert {"ix_cache_entries_task_key", "ix_flow_runs_state_type_created", "ix_flow_runs_parent_flow_run_id"} <= indexes
        # Schema 4 counts Paused runs as unfinished (a crash while paused is found): the partial indexes were made again.
        [unfinished] = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'ix_flow_runs_unfinished'").fetchone()
        assert "'PAUSED'" in unfinished
    finally:
        conn.close()


def test_first_schema_cache_entry_still_hits(headwater_home):
    headwater_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURE, headwater_home / "headwater.db")
    calls = []

    # The same task identity as in the fixture: module '__main__', function 'square'.
    def square(x):
        calls.append(x)
        return x * x

    square.__module__, square.__qualname__ = "__main__", "square"
    cached_square = task(cache_key_fn=task_input_hash)(square)

    @flow
    def again():
        return cached_square(7)

    assert again() == 49
    assert calls == []
