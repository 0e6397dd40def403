"""Eight processes share one store at once: every run is recorded, whole, and nobody sees 'database is locked'.

CI runs a short version (60 tasks a process); HEADWATER_SLOW_TESTS=1 runs the full one (500).
"""

import os
import sqlite3
import subprocess
import sys
import time

PROCESSES = 8
TASKS = 500 if os.environ.get("HEADWATER_SLOW_TESTS") == "1" else 60

SCRIPT = """
import sys
from datetime import timedelta
from headwater import flow, task
from headwater.tasks import task_input_hash

worker, tasks = int(sys.argv[1]), int(sys.argv[2])
attempts = {}

@task
def plain(i):
    return i

@task(cache_key_fn=task_input_hash, cache_expiration=timedelta(minutes=5))
def cached(i):
    return i * 2  # shared keys: the processes race to fill and read the same entries

@task(retries=2, retry_delay_seconds=0)
def flaky(i):
    attempts[i] = attempts.get(i, 0) + 1
    if attempts[i] < 2:
        raise RuntimeError("first attempt fails")
    return i

@flow(name="load")
def load(worker, tasks):
    futures = []
    for i in range(tasks):
        kind = i % 4
        if kind == 0:
            futures.append(plain.submit(i))
        elif kind == 1:
            cached(i % 10)
        elif kind == 2:
            futures.append(flaky.submit(i))
        else:
            plain(i)
    return sum(f.result() for f in futures)

load(worker, tasks)
"""


def test_eight_processes_share_one_store(tmp_path, headwater_home):
    script = tmp_path / "load.py"
    script.write_text(SCRIPT)
    start = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, str(script), str(w), str(TASKS)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(PROCESSES)
    ]
    outputs = [proc.communicate(timeout=600) for proc in procs]
    elapsed = time.perf_counter() - start
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-2000:]
        assert "database is locked" not in err

    conn = sqlite3.connect(headwater_home / "headwater.db")
    try:
        assert conn.execute("SELECT COUNT(*), MIN(state_name), MAX(state_name) FROM flow_runs").fetchone() == (PROCESSES, "Completed", "Completed")
        assert conn.execute("SELECT COUNT(*) FROM task_runs").fetchone() == (PROCESSES * TASKS,)
        assert conn.execute("SELECT COUNT(*) FROM task_runs WHERE state_type != 'COMPLETED'").fetchone() == (0,)
        histories = dict(
            conn.execute(
                "SELECT t.task_name || ':' || h.names, COUNT(*) FROM task_runs t JOIN ("
                "  SELECT run_id, group_concat(name, ',') AS names FROM (SELECT run_id, name FROM states ORDER BY id) GROUP BY run_id"
                ") h ON h.run_id = t.id GROUP BY 1"
            ).fetchall()
        )
    finally:
        conn.close()
    quarter = PROCESSES * TASKS // 4
    assert histories["plain:Pending,Running,Completed"] == 2 * quarter
    assert histories["flaky:Pending,Running,AwaitingRetry,Retrying,Completed"] == quarter
    # Each cached call either ran (a miss, maybe raced by another process) or was a hit.
    assert histories.get("cached:Pending,Running,Completed", 0) + histories.get("cached:Pending,Cached", 0) == quarter
    assert histories.get("cached:Pending,Cached", 0) > 0
    print(f"\n{PROCESSES} processes x {TASKS} tasks in {elapsed:.1f}s: {PROCESSES * TASKS / elapsed:,.0f} task runs a second")
