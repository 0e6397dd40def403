"""The PostgreSQL store as users meet it: settings that are wrong, flows and the CLI on it, many processes at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import psycopg
import pytest

from headwater.exceptions import StoreError
from headwater.stores import close_stores, get_store

SLOW = os.environ.get("HEADWATER_SLOW_TESTS") == "1"


@pytest.fixture
def on_postgres(fresh_database_url, monkeypatch, tmp_path):
    """This process (and the processes it starts) on a fresh PostgreSQL database; its URL."""
    url = fresh_database_url()
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HEADWATER_STORE", "postgres")
    monkeypatch.setenv("HEADWATER_DATABASE_URL", url)
    monkeypatch.setenv("HEADWATER_PROGRESS", "off")
    yield url
    close_stores()


def _python(code: str, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)], env={**os.environ, **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _finish(process: subprocess.Popen, timeout: float = 120) -> str:
    out, err = process.communicate(timeout=timeout)
    assert process.returncode == 0, err
    return out


# -- settings that are wrong --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "says"),
    [
        (None, "HEADWATER_DATABASE_URL=postgresql://user:password@host:port/dbname; it is not set"),
        ("sqlite:///tmp/x.db", "is not a PostgreSQL URL"),
        ("postgresql://someone:s3cret@127.0.0.1:1/nowhere", "Cannot connect to the PostgreSQL database"),
    ],
)
def test_a_bad_setting_is_a_clear_error_naming_it_without_the_password(url, says, monkeypatch, tmp_path):
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path))
    monkeypatch.setenv("HEADWATER_STORE", "postgres")
    if url is None:
        monkeypatch.delenv("HEADWATER_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("HEADWATER_DATABASE_URL", url)
    with pytest.raises(StoreError) as caught:
        get_store()
    assert says in str(caught.value) and "HEADWATER_DATABASE_URL" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_a_missing_database_and_a_user_without_rights_are_named(postgres_server, fresh_database_url, monkeypatch, tmp_path):
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path))
    monkeypatch.setenv("HEADWATER_STORE", "postgres")
    base = postgres_server.rsplit("/", 1)[0]
    monkeypatch.setenv("HEADWATER_DATABASE_URL", base + "/no_such_database")
    with pytest.raises(StoreError, match='database "no_such_database" does not exist'):
        get_store()
    # A role that may connect but not create tables (PostgreSQL 15 gives PUBLIC no CREATE on schema public).
    url = fresh_database_url()
    with psycopg.connect(postgres_server, autocommit=True) as admin:
        admin.execute("DROP ROLE IF EXISTS headwater_reader")
        admin.execute("CREATE ROLE headwater_reader LOGIN")
    try:
        monkeypatch.setenv("HEADWATER_DATABASE_URL", url.replace("headwater@", "headwater_reader@"))
        with pytest.raises(StoreError, match="may not create headwater's tables") as caught:
            get_store()
        assert "Grant it CREATE" in str(caught.value)
    finally:
        close_stores()
        with psycopg.connect(url, autocommit=True) as owner:
            owner.execute("DROP OWNED BY headwater_reader")
        with psycopg.connect(postgres_server, autocommit=True) as admin:
            admin.execute("DROP ROLE headwater_reader")


# -- flows, the CLI, many processes -----------------------------------------------------------------------
FLOW = """
    import sys
    from headwater import flow, task

    @task(retries=1, retry_delay_seconds=0)
    def step(n: int) -> int:
        return n * 2

    @flow(name="on-postgres")
    def pipeline(count: int) -> int:
        return sum(step(n) for n in range(count))

    print(pipeline(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
"""


def test_a_flow_and_the_cli_run_on_postgres(on_postgres):
    assert _finish(_python(FLOW)).strip() == "6"
    listed = subprocess.run([sys.executable, "-m", "headwater.cli", "runs", "ls", "--json"], capture_output=True, text=True, check=True)
    [run] = json.loads(listed.stdout)
    assert run["flow_name"] == "on-postgres" and run["state"]["name"] == "Completed"
    inspected = subprocess.run([sys.executable, "-m", "headwater.cli", "runs", "inspect", run["id"], "--json"],
                               capture_output=True, text=True, check=True)
    assert len(json.loads(inspected.stdout)["task_runs"]) == 3
    # Nothing went to a SQLite file.
    assert not (os.path.exists(os.path.join(os.environ["HEADWATER_HOME"], "headwater.db")))


def test_two_processes_creating_the_schema_at_once_both_succeed(on_postgres):
    starts = [_python("from headwater.stores import get_store; get_store(); print('ok')") for _ in range(4)]
    assert [_finish(p).strip() for p in starts] == ["ok"] * 4
    with psycopg.connect(on_postgres) as conn:
        assert conn.execute("SELECT value FROM hw_meta WHERE key = 'schema_version'").fetchone() == ("1",)


LIMITED = """
    import os, time
    from headwater import flow, task

    @task(tags=["db"])
    def hold(n: int) -> None:
        start = time.time()
        time.sleep(0.05)
        with open(os.environ["SPANS"], "a") as spans:  # when the function itself ran: what the slot guards
            spans.write(f"{start} {time.time()}\\n")

    @flow
    def busy():
        return [hold.submit(n) for n in range(6)]

    busy()
"""


def test_a_tag_limit_of_one_holds_across_processes(on_postgres, tmp_path):
    subprocess.run([sys.executable, "-m", "headwater.cli", "concurrency-limit", "create", "db", "1"], check=True, capture_output=True)
    spans_file = tmp_path / "spans"
    processes = [_python(LIMITED, SPANS=str(spans_file)) for _ in range(3)]
    for process in processes:
        _finish(process)
    store = get_store()
    assert sorted(run.state.name for run in store.read_task_runs()) == ["Completed"] * 18
    spans = sorted(tuple(map(float, line.split())) for line in spans_file.read_text().splitlines())
    assert len(spans) == 18
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end, "two task runs held the one slot of 'db' at the same time"


LOAD = """
    import sys
    from headwater import flow, task

    @task
    def work(n: int) -> int:
        return n + 1

    @flow(name="load")
    def load(count: int) -> int:
        return sum(work(n) for n in range(count))

    load(int(sys.argv[1]))
"""


# 16 x 500 takes about 5 s on 2 cores, so CI runs it; the long variant is for a machine with time to spare.
@pytest.mark.parametrize("processes, tasks", [(16, 500), (32, 2000)] if SLOW else [(16, 500)])
def test_many_processes_at_once_lose_nothing_and_meet_no_lock_errors(on_postgres, processes, tasks):
    started = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(LOAD), str(tasks)], env=dict(os.environ),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    for process in started:
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, err
        assert "failed" not in err.lower() and "deadlock" not in err.lower() and "serializ" not in err.lower(), err
    with psycopg.connect(on_postgres) as conn:
        assert conn.execute("SELECT count(*) FROM flow_runs WHERE state_type = 'COMPLETED'").fetchone() == (processes,)
        assert conn.execute("SELECT count(*) FROM task_runs WHERE state_type = 'COMPLETED'").fetchone() == (processes * tasks,)
        histories = conn.execute(
            "SELECT string_agg(name, ',' ORDER BY id) FROM states WHERE run_id IN (SELECT id FROM task_runs) GROUP BY run_id"
        ).fetchall()
    assert len(histories) == processes * tasks and set(histories) == {("Pending,Running,Completed",)}


FAR = """
    import socket, time
    socket.gethostname = lambda: "far-host"
    from headwater import flow

    @flow(name="far-away")
    def far_away():
        time.sleep(60)

    far_away()
"""


def test_a_killed_run_of_another_host_is_recorded_crashed_after_the_heartbeat_timeout(on_postgres, monkeypatch):
    monkeypatch.setenv("HEADWATER_HEARTBEAT_INTERVAL", "0.2")
    monkeypatch.setenv("HEADWATER_HEARTBEAT_TIMEOUT", "1.5")
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent(FAR)], env=dict(os.environ), start_new_session=True)

    def far_runs():
        close_stores()  # opened afresh, as a new process would: it looks for crashed runs
        return get_store().read_flow_runs(flow_name="far-away")

    try:
        deadline = time.monotonic() + 30
        while not [r for r in far_runs() if r.state and r.state.name == "Running"]:
            assert time.monotonic() < deadline, "the far-away run never started"
            time.sleep(0.1)
        time.sleep(3)
        [run] = far_runs()
        assert run.state.name == "Running"  # its heartbeats keep it so
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    time.sleep(2)
    [run] = far_runs()
    assert run.state.name == "Crashed" and f"pid {child.pid} on far-host" in run.state.message
