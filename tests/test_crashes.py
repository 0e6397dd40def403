"""A flow process killed mid-run leaves no run Running forever, and its finished cached work is reused."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

SCRIPT = """
import sys, time
from datetime import timedelta
from headwater import flow, task
from headwater.tasks import task_input_hash

@task(cache_key_fn=task_input_hash, cache_expiration=timedelta(minutes=5))
def expensive(x):
    print("computing", x, flush=True)
    return x * 10

@task
def hang(seconds):
    time.sleep(seconds)
    return "done"

@flow
def pipeline(seconds):
    value = expensive(4)
    waiting = hang.submit(seconds)
    return value, waiting.result()

print(pipeline(float(sys.argv[1])), flush=True)
"""


def _wait_for(home, sql, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (home / "headwater.db").exists():
            conn = sqlite3.connect(home / "headwater.db")
            try:
                if conn.execute(sql).fetchone()[0]:
                    return
            except sqlite3.OperationalError:
                pass  # the schema is still being created
            finally:
                conn.close()
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {sql}")


def test_killed_flow_is_marked_crashed_and_rerun_reuses_its_cache(tmp_path, headwater_home):
    script = tmp_path / "pipeline.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), "60"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        # Killed while 'hang' runs: the cached task has completed and its entry is committed.
        _wait_for(headwater_home, "SELECT COUNT(*) FROM task_runs WHERE task_name = 'hang' AND state_name = 'Running'")
        _wait_for(headwater_home, "SELECT COUNT(*) FROM cache_entries")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert "computing 4" in proc.stdout.read()

    from headwater.client import get_client

    client = get_client()  # opening the store finds the runs of the dead process
    [run] = client.read_flow_runs()
    assert run.state.name == "Crashed" and str(proc.pid) in run.state.message
    assert [s.name for s in client.read_state_history(run.id)] == ["Pending", "Running", "Crashed"]
    states = {t.task_name: t.state.name for t in client.read_task_runs(flow_run_id=run.id)}
    assert states == {"expensive": "Completed", "hang": "Crashed"}

    rerun = subprocess.run([sys.executable, str(script), "0"], capture_output=True, text=True, check=True, timeout=120)
    assert "computing" not in rerun.stdout  # the completed cached task was reused
    assert "(40, 'done')" in rerun.stdout


def test_runs_of_live_processes_are_left_alone(headwater_home):
    from headwater import flow
    from headwater.stores import get_store

    @flow
    def quick():
        # While this flow runs, opening the store again (another process would) must not touch it.
        return get_store().mark_crashed_runs()

    assert quick() == 0


def test_the_runs_of_a_killed_flow_are_marked_crashed_only_once_its_writer_is_done(tmp_path, headwater_home):
    # A killed flow's writer process may still be committing the batch it was sent. A process that
    # opens the store meanwhile waits for it: marked Crashed before that batch is in, a run would
    # have states after Crashed, and a row saying Running over a history ending Crashed.
    from headwater_sqlite.committer import writers_of

    script = tmp_path / "pipeline.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    database = str(headwater_home / "headwater.db")
    try:
        _wait_for(headwater_home, "SELECT COUNT(*) FROM task_runs WHERE task_name = 'hang' AND state_name = 'Running'")
        [writer] = writers_of({proc.pid}, database)
        os.kill(writer, signal.SIGSTOP)  # as if busy with a last batch
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    try:
        opener = subprocess.Popen([sys.executable, "-m", "headwater.cli", "runs", "ls"], stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)
        assert opener.poll() is None, "the store was opened without waiting for the dead flow's writer"
        conn = sqlite3.connect(database)
        assert conn.execute("SELECT state_name FROM flow_runs").fetchall() == [("Running",)]
        conn.close()
    finally:
        os.kill(writer, signal.SIGCONT)  # it reads the end of its input, and exits
    out, _ = opener.communicate(timeout=60)
    assert opener.returncode == 0 and "Crashed" in out
    assert writers_of({proc.pid}, database) == []
