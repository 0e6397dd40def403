"""What the batching writer promises: a returned flow's records are in the database, nothing is lost at exit."""

import os
import signal
import sqlite3
import subprocess
import sys
from datetime import timedelta

from headwater import flow, task
from headwater.tasks import task_input_hash


def _rows(home, sql, *params):
    conn = sqlite3.connect(home / "headwater.db")  # a connection of its own: nothing of the store's buffers
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def test_a_returned_flow_has_all_its_records_in_the_database(headwater_home):
    @task
    def trivial(x):
        return x

    @task(cache_key_fn=task_input_hash, cache_expiration=timedelta(minutes=5))
    def cached(x):
        return x * 2

    @flow
    def many(n):
        for i in range(n):
            trivial(i)
        return [cached(i % 7) for i in range(50)]

    many(2000)
    [(flow_state,)] = _rows(headwater_home, "SELECT state_name FROM flow_runs")
    assert flow_state == "Completed"
    assert _rows(headwater_home, "SELECT COUNT(*) FROM task_runs WHERE state_type = 'COMPLETED'") == [(2050,)]
    # Every task run's full history: Pending, Running, Completed (or Pending, Cached for a hit).
    histories = _rows(
        headwater_home,
        "SELECT group_concat(name, ',') FROM (SELECT run_id, name FROM states WHERE run_id IN (SELECT id FROM task_runs) ORDER BY id) "
        "GROUP BY run_id",
    )
    counts = {}
    for (history,) in histories:
        counts[history] = counts.get(history, 0) + 1
    assert counts == {"Pending,Running,Completed": 2007, "Pending,Cached": 43}
    # Each cache entry points at a payload that is there.
    entries = _rows(headwater_home, "SELECT c.key, r.storage_key FROM cache_entries c LEFT JOIN results r USING (storage_key)")
    assert len(entries) == 7 and all(payload_key is not None for _, payload_key in entries)


def test_nothing_is_lost_when_the_process_exits(tmp_path, headwater_home):
    # Standalone task runs (outside any flow) are buffered; the process flushes them at exit.
    script = (
        "from headwater import task\n"
        "@task\n"
        "def t(x):\n"
        "    return x\n"
        "for i in range(500):\n"
        "    t(i)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, timeout=120)
    assert _rows(headwater_home, "SELECT COUNT(*) FROM task_runs WHERE state_name = 'Completed'") == [(500,)]
    assert _rows(headwater_home, "SELECT COUNT(*) FROM states") == [(1500,)]


STRICT_SCRIPT = """
import os, signal, sys
from headwater import flow, task

@task
def double(x):
    return x * 2

@flow
def caller(n):
    results = [double(i) for i in range(n)]
    total = double.submit(sum(results)).result()
    print(total, flush=True)  # the caller has seen every result: now the process dies at once
    os.kill(os.getpid(), signal.SIGKILL)

caller(int(sys.argv[1]))
"""


def test_strict_durability_records_every_result_before_the_caller_sees_it(tmp_path, headwater_home):
    # HEADWATER_STORE_DURABILITY=strict: each run's final state is committed before its result is
    # handed back, so a process killed right after it used the results loses none of them. (With
    # the default, these 31 task runs take a few milliseconds: the kill comes while their batch
    # is still gathering, and none of them is recorded.)
    script = tmp_path / "strict.py"
    script.write_text(STRICT_SCRIPT)
    env = {**os.environ, "HEADWATER_STORE_DURABILITY": "strict"}
    proc = subprocess.run([sys.executable, str(script), "30"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL and proc.stdout.strip() == "1740", proc.stderr
    histories = _rows(
        headwater_home,
        "SELECT t.name, group_concat(s.name, ',') FROM task_runs t JOIN (SELECT run_id, name FROM states ORDER BY id) s "
        "ON s.run_id = t.id GROUP BY t.id",
    )
    assert len(histories) == 31
    assert {history for _, history in histories} == {"Pending,Running,Completed"}
    assert _rows(headwater_home, "SELECT COUNT(*) FROM task_runs WHERE state_name = 'Completed'") == [(31,)]
