"""Heartbeats: a run of another host is recorded Crashed when its process stops being heard from, never while it runs.

The "other host" is a real flow process whose host name is made to differ from this one's
(``socket.gethostname`` patched before headwater is imported), so the pid check cannot see it
and only its heartbeats tell whether it is alive.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from headwater.stores import close_stores, get_store

FAR_FLOW = textwrap.dedent(
    """
    import socket, sys, time
    socket.gethostname = lambda: "far-host"
    from headwater import flow

    @flow(name="far-away")
    def far_away():
        time.sleep(60)

    far_away()
    """
)


def _runs(name):
    close_stores()  # a fresh open, as a new process would: it looks for crashed runs
    return [run for run in get_store().read_flow_runs() if run.flow_name == name]


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out")


@pytest.fixture
def heartbeat_settings(headwater_home, monkeypatch):
    monkeypatch.setenv("HEADWATER_HEARTBEAT_INTERVAL", "0.2")
    monkeypatch.setenv("HEADWATER_HEARTBEAT_TIMEOUT", "1.5")
    return headwater_home


def test_a_live_run_of_another_host_stays_running_and_a_killed_one_is_crashed_naming_host_and_pid(heartbeat_settings):
    child = subprocess.Popen([sys.executable, "-c", FAR_FLOW], env=dict(os.environ), start_new_session=True)
    try:
        [run] = _wait_for(lambda: [r for r in _runs("far-away") if r.state and r.state.name == "Running"])
        time.sleep(3)  # twice the timeout: only its heartbeats keep it Running
        [run] = _runs("far-away")
        assert run.state.name == "Running", run.state.message
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
    time.sleep(2)  # longer than the timeout since its last heartbeat
    [run] = _runs("far-away")
    assert run.state.name == "Crashed"
    assert f"pid {child.pid} on far-host" in run.state.message and "HEADWATER_HEARTBEAT_TIMEOUT" in run.state.message
    close_stores()


IDLE = textwrap.dedent(
    """
    import sqlite3, sys, time
    from headwater import flow

    @flow
    def quick():
        time.sleep(0.5)  # long enough for the beats of a run in progress

    quick()
    database = sys.argv[1]
    seen = sqlite3.connect(database).execute("SELECT last_seen FROM heartbeats").fetchall()
    time.sleep(1)  # five intervals, no run in progress
    print(len(seen), sqlite3.connect(database).execute("SELECT last_seen FROM heartbeats").fetchall() == seen)
    """
)


def test_an_idle_process_writes_no_heartbeat(heartbeat_settings):
    # Beats are for processes with unfinished runs: a finished flow leaves the thread waiting.
    # In a process of its own: this one's heartbeat thread may be asleep on another test's interval.
    database = heartbeat_settings / "headwater.db"
    out = subprocess.run([sys.executable, "-c", IDLE, str(database)], env=dict(os.environ), capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "True"]  # heard from while its run ran, then silent
