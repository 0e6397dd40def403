"""Stored log lines: every line of a flow run and its task runs is kept with the run, at the run loggers' level."""

from __future__ import annotations

import logging

import pytest

from headwater import flow, get_run_logger, task
from headwater.client import get_client
from headwater.exceptions import StoreError
from headwater.stores import Store


@task(log_prints=True)
def shout(i: int) -> int:
    get_run_logger().warning("task %s warns", i)
    print("task", i, "prints")
    return i


@task
def explode() -> None:
    raise ValueError("kaboom")


@flow
def inner() -> int:
    get_run_logger().info("inner says hello")
    return shout(100)


@flow
def outer(n: int) -> int:
    futures = [shout.submit(i) for i in range(n)]
    inner()
    return sum(f.result() for f in futures)


def _messages(lines):
    return [(line.run_name, line.level_name, line.message) for line in lines]


def test_every_kind_of_line_is_stored_with_its_run(headwater_home):
    outer(3)
    client = get_client()
    top = client.read_flow_runs(flow_name="outer")[0]
    lines = client.read_logs(top.id)
    messages = [line.message for line in lines]
    assert messages[0] == f"Beginning flow run '{top.name}' for flow 'outer'"
    assert messages[-1] == "Finished in state Completed('All states completed.')"
    task_runs = {t.name: t for t in client.read_task_runs(flow_run_id=top.id)}
    for name, run in task_runs.items():
        i = run.parameters["i"]
        mine = [(line.level_name, line.message) for line in lines if line.run_id == run.id]
        assert mine == [("WARNING", f"task {i} warns"), ("INFO", f"task {i} prints"), ("INFO", "Finished in state Completed()")]
        assert f"Created task run '{name}' for task 'shout'" in messages
    # Every line under the top-level run carries its id, the subflow's and its task run's included.
    assert {line.flow_run_id for line in lines} == {top.id}
    assert "inner says hello" in messages and "task 100 prints" in messages
    assert [line.id for line in lines] == sorted(line.id for line in lines)


def test_a_subflow_reads_its_own_lines_and_levels_filter(headwater_home):
    outer(1)
    client = get_client()
    sub = client.read_flow_runs(flow_name="inner")[0]
    lines = client.read_logs(sub.id)
    assert "inner says hello" in [line.message for line in lines]
    assert all("task 0" not in line.message for line in lines)  # the parent's task runs are not the subflow's
    warnings = client.read_logs(sub.id, min_level=logging.WARNING)
    assert [(line.level_name, line.message) for line in warnings] == [("WARNING", "task 100 warns")]
    newer = client.read_logs(sub.id, after_id=lines[-2].id)
    assert [line.id for line in newer] == [lines[-1].id]


def test_tracebacks_are_stored(headwater_home):
    @flow
    def failing() -> None:
        explode()

    failing(return_state=True)
    client = get_client()
    run = client.read_flow_runs(flow_name="failing")[0]
    errors = client.read_logs(run.id, min_level=logging.ERROR)
    assert any("Traceback" in line.message and "ValueError: kaboom" in line.message for line in errors)


def test_lines_are_kept_at_the_configured_level(headwater_home, monkeypatch):
    from headwater.logs import setup_logging

    monkeypatch.setenv("HEADWATER_LOGGING_LEVEL", "WARNING")
    try:
        outer(2)
    finally:
        setup_logging("INFO")  # as the next run under the default settings would
    client = get_client()
    top = client.read_flow_runs(flow_name="outer")[0]
    assert {line.level_name for line in client.read_logs(top.id)} == {"WARNING"}


def test_lines_written_before_a_read_are_visible_to_other_processes(headwater_home, run_python):
    code = """
from headwater import flow, get_run_logger
@flow
def chatty():
    for i in range(500):
        get_run_logger().info("line %s", i)
chatty()
"""
    run_python(code)
    client = get_client()
    run = client.read_flow_runs(flow_name="chatty")[0]
    said = [line.message for line in client.read_logs(run.id) if line.message.startswith("line ")]
    assert said == [f"line {i}" for i in range(500)]


class OldStore(Store):
    """A store written against the contract before log lines: it still works."""

    name = "old"

    @classmethod
    def from_settings(cls, settings):  # pragma: no cover - not opened through settings here
        return cls()

    def record_state(self, run, state):
        pass

    def write_cache_entry(self, entry):
        pass

    def read_cache_entry(self, key):
        return None

    def write_result(self, storage_key, payload):
        pass

    def read_result(self, storage_key):
        raise KeyError(storage_key)

    def read_flow_runs(self, flow_name=None, limit=100):
        return []

    def read_flow_run(self, run_id):
        return None

    def read_task_runs(self, flow_run_id=None, limit=10_000):
        return []

    def read_state_history(self, run_id):
        return []

    def clear_cache(self, key=None, expired_only=False):
        return 0


def test_a_store_without_logs_keeps_working_and_says_so():
    store = OldStore()
    store.write_log("run", None, logging.INFO, "headwater.task_runs", 0.0, "kept nowhere")
    with pytest.raises(StoreError, match="'old' store does not keep log lines"):
        store.read_logs("run")
    with pytest.raises(StoreError, match="does not list cache entries"):
        store.read_cache_entries()
    with pytest.raises(StoreError, match="does not delete runs"):
        store.delete_flow_runs(["run"])


def test_a_line_no_state_follows_is_written_without_waiting_for_one(headwater_home):
    # `headwater runs logs --follow` on a long task that only logs: its lines reach the database
    # with the writer's next batch, not at the task's next state. Read here by another connection,
    # as another process would: the client would flush the writer first.
    import sqlite3
    import time

    database = headwater_home / "headwater.db"

    def stored(message):
        conn = sqlite3.connect(database)
        try:
            return conn.execute("SELECT count(*) FROM logs WHERE message = ?", (message,)).fetchone()[0]
        finally:
            conn.close()

    @task
    def long_and_chatty():
        time.sleep(0.3)  # the writer has committed Running by now, and sleeps
        get_run_logger().info("still at it")
        deadline = time.monotonic() + 10
        while not stored("still at it") and time.monotonic() < deadline:
            time.sleep(0.02)
        return stored("still at it")

    @flow
    def watched():
        return long_and_chatty()

    assert watched() == 1
