"""The SQLite store's writer commits in a child process: it is started, restarted, left alone by Ctrl-C, and never outlives its parent."""

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from headwater import flow, task
from headwater.client import get_client
from headwater.stores import close_stores, get_store
from headwater_sqlite.committer import ProcessCommitter, ThreadCommitter
from headwater_sqlite.connections import PRAGMAS

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="sessions and signals are POSIX's")


@task
def double(x):
    return 2 * x


@flow
def doubles(n):
    return [double(i) for i in range(n)]


def _states_of_every_task_run():
    client = get_client()
    return sorted(len(client.read_state_history(run.id)) for run in client.read_task_runs())


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:  # a zombie is gone, whatever kill(0) says
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:  # reaped meanwhile
        return False


def test_a_flows_records_are_committed_by_a_child_process_that_ends_with_the_store(headwater_home):
    assert doubles(5) == [0, 2, 4, 6, 8]
    store = get_store()
    child = store.writer.committer.child
    assert child is not None and child.pid != os.getpid() and child.poll() is None
    assert _states_of_every_task_run() == [3] * 5
    close_stores()
    assert child.poll() is not None  # closed with the store, not left behind


def test_a_killed_writer_process_is_replaced_and_nothing_later_is_lost(headwater_home):
    doubles(3)
    committer = get_store().writer.committer
    first = committer.child
    first.kill()
    first.wait()
    assert doubles(4) == [0, 2, 4, 6]
    assert committer.child is not None and committer.child.pid != first.pid
    assert _states_of_every_task_run() == [3] * 7


def test_ctrl_c_does_not_reach_the_writer_process(headwater_home):
    doubles(1)
    child = get_store().writer.committer.child
    # A terminal's Ctrl-C goes to its foreground process group: the child is in a session of its own.
    assert os.getsid(child.pid) != os.getsid(0)
    os.kill(child.pid, signal.SIGINT)  # and sent to it directly, it is ignored
    time.sleep(0.2)
    assert child.poll() is None
    doubles(2)
    assert get_store().writer.committer.child is child
    assert _states_of_every_task_run() == [3] * 3


def test_the_writer_process_exits_when_its_parent_is_killed(tmp_path):
    script = tmp_path / "flow.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys, time
            from headwater import flow, task
            from headwater.stores import get_store

            @task
            def one():
                return 1

            @flow
            def once():
                return one()

            once()
            print(get_store().writer.committer.child.pid, flush=True)
            time.sleep(60)
            """
        )
    )
    env = {**os.environ, "HEADWATER_HOME": str(tmp_path / "home"), "HEADWATER_LOGGING_LEVEL": "WARNING"}
    parent = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())
    assert _alive(child_pid)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child_pid)
    db = sqlite3.connect(tmp_path / "home" / "headwater.db")
    assert db.execute("SELECT state_type FROM flow_runs").fetchall() == [("COMPLETED",)]


def test_with_store_writer_thread_no_process_is_started(headwater_home, monkeypatch):
    monkeypatch.setenv("HEADWATER_STORE_WRITER", "thread")
    close_stores()  # the next store is opened with the setting
    assert doubles(3) == [0, 2, 4]
    committer = get_store().writer.committer
    assert isinstance(committer, ThreadCommitter)
    assert _states_of_every_task_run() == [3] * 3


def test_without_a_python_to_start_the_writer_commits_in_its_thread_and_says_so(headwater_home, monkeypatch, caplog):
    monkeypatch.setattr(sys, "executable", "")
    with caplog.at_level(logging.WARNING, logger="headwater.store"):
        assert doubles(2) == [0, 2]
    committer = get_store().writer.committer
    assert committer.child is None and isinstance(committer.fallback, ThreadCommitter)
    assert "HEADWATER_STORE_WRITER=thread" in caplog.text
    assert _states_of_every_task_run() == [3] * 2


class _Word(str):
    pass


class _Count(int):
    pass


def test_values_of_subclasses_of_the_built_in_types_are_committed_as_their_values(tmp_path):
    path = str(tmp_path / "t.db")
    sqlite3.connect(path).execute("CREATE TABLE t (word TEXT, count INTEGER, flag INTEGER, blob BLOB)")
    committer = ProcessCommitter(path, 5.0, PRAGMAS, 4 << 20, 16)
    try:
        error = committer.commit([("INSERT INTO t VALUES (?, ?, ?, ?)", [_Word("ünïcode"), _Count(7), True, bytearray(b"\x00\x01")])])
        assert error is None
        assert committer.commit([("INSERT INTO nowhere VALUES (?)", [1])]) == "no such table: nowhere"
    finally:
        committer.close()
    assert sqlite3.connect(path).execute("SELECT * FROM t").fetchall() == [("ünïcode", 7, 1, b"\x00\x01")]


def test_a_forked_process_does_not_keep_the_writer_process_waiting(headwater_home):
    # A forked process (a multiprocessing pool's worker, say) holds copies of every pipe: of the
    # writer's too, unless it lets go of them, and then the writer's input never ends.
    doubles(1)
    child = get_store().writer.committer.child
    forked = os.fork()
    if forked == 0:  # the forked process: it only waits, holding whatever it inherited
        time.sleep(10)
        os._exit(0)
    try:
        started = time.monotonic()
        close_stores()
        assert time.monotonic() - started < 3
        assert child.returncode == 0  # it read the end of its input and exited by itself (not killed)
    finally:
        os.kill(forked, signal.SIGKILL)
        os.waitpid(forked, 0)
