"""Serving a flow on a schedule, in real time with one-second intervals, against a real store:
runs recorded Scheduled before they start, one run a due time across two servers, crashes
contained in child processes, the missed and overlap policies, Ctrl-C and SIGTERM."""

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from headwater.client import get_client
from headwater.stores import get_store

FLOWS = textwrap.dedent(
    """
    import os, sys, time
    from headwater import flow

    @flow
    def tick(n: int = 1):
        return n

    @flow
    def dies(how: str = "exit"):
        if how == "exit":
            sys.exit(3)
        os.kill(os.getpid(), 11)  # a segfault

    @flow
    def slow(seconds: float = 2.5):
        time.sleep(seconds)
    """
)


@pytest.fixture
def project(tmp_path, headwater_home):
    (tmp_path / "flows.py").write_text(FLOWS)
    return tmp_path


_servers = []


@pytest.fixture(autouse=True)
def _no_server_outlives_its_test():
    """A test that fails before it stops its server must not leave it serving (and spawning runs)."""
    yield
    while _servers:
        server = _servers.pop()
        if server.poll() is None:
            server.kill()
            server.wait()


def start_server(project, *args):
    server = subprocess.Popen(
        [sys.executable, "-m", "headwater.cli", "serve", *args], cwd=project, env=os.environ.copy(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    _servers.append(server)
    return server


def stop(server, how=signal.SIGINT, timeout=60):
    server.send_signal(how)
    output, _ = server.communicate(timeout=timeout)
    return server.returncode, output


def wait_for_runs(count, seconds=30.0, final=True):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        runs = get_client().read_flow_runs(limit=1000)
        done = [r for r in runs if r.state is not None and (r.state.is_final() if final else True)]
        if len(done) >= count:
            return runs
        time.sleep(0.1)
    raise AssertionError(f"fewer than {count} runs after {seconds}s: {[(r.name, r.state_name) for r in runs]}")


def history(run):
    return [s.name for s in get_client().read_state_history(run.id)]


def test_a_served_flow_runs_each_second_recorded_scheduled_first_and_stops_at_ctrl_c(project):
    server = start_server(project, "flows.py:tick", "--interval", "1", "--param", "n=7")
    wait_for_runs(3)
    code, output = stop(server)
    assert code == 0, output
    runs = get_client().read_flow_runs(limit=1000)
    assert all(r.state.is_final() for r in runs), [(r.name, r.state_name) for r in runs]  # nothing left Running
    completed = [r for r in runs if r.state.name == "Completed"]
    assert len(completed) >= 3 and all(r.parameters == {"n": 7} for r in completed)
    for run in completed:
        assert history(run) == ["Scheduled", "Pending", "Running", "Completed"]
        scheduled = get_client().read_state_history(run.id)[0]
        assert scheduled.message.startswith("Due at ")
    due = sorted(dt.datetime.fromisoformat(get_client().read_state_history(r.id)[0].message[7:-1]) for r in completed)
    assert all(abs((b - a).total_seconds() - round((b - a).total_seconds())) < 0.01 for a, b in zip(due, due[1:]))  # whole seconds apart
    [schedule] = get_store().read_schedules()
    assert schedule.name == "tick" and schedule.spec["interval"] == 1 and schedule.parameters == {"n": 7}


def test_two_servers_of_one_schedule_never_run_a_due_time_twice(project):
    servers = [start_server(project, "flows.py:tick", "--interval", "1") for _ in range(2)]
    wait_for_runs(4)
    for server in servers:
        assert stop(server)[0] == 0
    runs = get_client().read_flow_runs(limit=1000)
    due_times = [get_client().read_state_history(r.id)[0].message for r in runs]
    assert len(due_times) == len(set(due_times)) >= 4


def test_a_crash_in_a_run_is_recorded_and_the_next_run_still_starts(project):
    server = start_server(project, "flows.py:dies", "--interval", "1", "--param", "how=segfault", "--overlap", "allow")
    wait_for_runs(2, seconds=40)
    code, output = stop(server)
    assert code == 0, output
    runs = [r for r in get_client().read_flow_runs(limit=1000) if r.state.is_final()]
    assert len(runs) >= 2 and {r.state.name for r in runs} == {"Crashed"}
    assert all("segfault" in r.state.message or "signal 11" in r.state.message or "is gone" in r.state.message for r in runs)


def test_missed_runs_run_the_latest_once_and_record_the_others(project):
    store = get_store()
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    store.claim_schedule_run("tick", now - dt.timedelta(seconds=30), "an-older-run")  # served 30 s ago, then nothing
    store.flush()
    server = start_server(project, "flows.py:tick", "--interval", "1", "--late-after", "0", "--overlap", "allow")
    wait_for_runs(30)
    stop(server)
    runs = get_client().read_flow_runs(limit=1000)
    skipped = [r for r in runs if r.state.name == "Cancelled"]
    assert len(skipped) >= 28 and all(r.state.message.startswith("Missed: due at ") for r in skipped)
    completed = sorted((r for r in runs if r.state.name == "Completed"), key=lambda r: r.created)
    assert "Late" in history(completed[0])  # the latest missed one, run once, and late


def test_a_run_due_while_the_previous_runs_is_skipped_with_a_reason(project):
    server = start_server(project, "flows.py:slow", "--interval", "1", "--param", "seconds=2.5")
    wait_for_runs(3)
    stop(server)
    runs = get_client().read_flow_runs(limit=1000)
    skipped = [r for r in runs if r.state.name == "Cancelled"]
    assert skipped and all("previous run of schedule 'slow' was still running" in r.state.message for r in skipped)
    assert any(r.state.name == "Completed" for r in runs)


def test_sigterm_stops_a_long_run_after_the_shutdown_timeout_with_a_record(project):
    server = start_server(project, "flows.py:slow", "--interval", "1", "--param", "seconds=60", "--shutdown-timeout", "0.5")
    wait_for_runs(1, final=False)
    time.sleep(1.5)  # the run is going
    code, output = stop(server, signal.SIGTERM)
    assert code == 0, output
    runs = get_client().read_flow_runs(limit=1000)
    assert runs and all(r.state.is_final() for r in runs), [(r.name, r.state_name) for r in runs]
    assert any(r.state.name == "Cancelled" and "SIGTERM" in (r.state.message or "") for r in runs)


def test_schedules_ls_pause_resume_and_a_manual_run(project):
    server = start_server(project, "flows.py:tick", "--interval", "3600")  # never due during the test
    deadline = time.monotonic() + 30
    while not get_store().read_schedules() and time.monotonic() < deadline:
        time.sleep(0.1)

    def cli(*args):
        done = subprocess.run([sys.executable, "-m", "headwater.cli", "schedules", *args], capture_output=True, text=True, env=os.environ.copy())
        assert done.returncode == 0, done.stderr
        return done.stdout

    listing = cli("ls")
    assert "tick" in listing and "every 3600s" in listing and "pid" in listing
    cli("pause", "tick")
    assert get_store().read_schedules("tick")[0].paused
    cli("resume", "tick")
    started = time.monotonic()
    cli("run", "tick", "--param", "n=42")
    [run] = wait_for_runs(1)
    assert time.monotonic() - started < 5 and run.parameters == {"n": 42}
    stop(server)
    missing = subprocess.run([sys.executable, "-m", "headwater.cli", "schedules", "pause", "nope"], capture_output=True, text=True, env=os.environ.copy())
    assert missing.returncode == 1 and "No schedule is named 'nope'" in missing.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["flows.py:tick"], "Give exactly one of --cron and --interval"),
        (["flows.py:tick", "--cron", "61 * * * *"], "is not a cron expression"),
        (["flows.py:tick", "--cron", "0 * * * *", "--timezone", "Mars/Base"], "is not a time zone"),
        (["flows.py:tick", "--interval", "0"], "must be a positive number of seconds"),
    ],
)
def test_bad_schedules_are_refused_before_serving(project, args, message):
    done = subprocess.run([sys.executable, "-m", "headwater.cli", "serve", *args], cwd=project, capture_output=True, text=True, env=os.environ.copy(), timeout=60)
    assert done.returncode == 2 and message in done.stderr, done.stderr


@pytest.mark.parametrize("policy, runs_missed", [("none", 0), ("all", 10)])
def test_the_other_missed_policies(project, policy, runs_missed):
    store = get_store()
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    store.claim_schedule_run("tick", now - dt.timedelta(seconds=11), "an-older-run")  # ten due times missed
    store.flush()
    server = start_server(project, "flows.py:tick", "--interval", "1", "--missed", policy, "--overlap", "allow")
    wait_for_runs(12)
    stop(server)
    runs = get_client().read_flow_runs(limit=1000)
    missed = [r for r in runs if _due(r) <= now]
    assert len(missed) >= 10
    completed = [r for r in missed if r.state.name == "Completed"]
    cancelled = [r for r in missed if r.state.name == "Cancelled"]
    assert len(completed) >= runs_missed and (len(cancelled) == 0 if policy == "all" else len(cancelled) >= 10)
    assert all(r.state.message.startswith("Missed: ") and "missed='none'" in r.state.message for r in cancelled)


def test_in_process_runs_in_the_serving_process(project):
    server = start_server(project, "flows.py:tick", "--interval", "1", "--in-process")
    wait_for_runs(2)
    stop(server)
    runs = [r for r in get_client().read_flow_runs(limit=1000) if r.state.name == "Completed"]
    assert len(runs) >= 2 and all(history(r) == ["Scheduled", "Pending", "Running", "Completed"] for r in runs)


def _due(run):
    return dt.datetime.fromisoformat(get_client().read_state_history(run.id)[0].message[len("Due at "):-1])
