"""A flow killed with SIGKILL at a random moment leaves a record that agrees with itself, and loses no
more than the window docs/concepts/guarantees.md gives.

Each kill runs a flow of many quick tasks in a child process (direct calls, or tasks submitted to
each runner; some fail once and are retried, some are cache hits), kills it, lets a new process
open the store (which marks the dead process's runs Crashed), and then reads the database itself:

* every run's row says what the last state of its history says (type, name, message, moment),
  its run count is the number of Running states in its history, and its end time is set exactly
  when that state is final;
* nothing is left Pending, Running or Scheduled, and Crashed is only ever a history's last state;
* every task body that finished, by its own record, is recorded Completed, unless it finished
  within the crash window before the kill.

The task bodies write their record with os.write to a file opened O_APPEND: what a process wrote
to the kernel survives its SIGKILL (only a power loss would need fsync), and the bodies stay quick.

CI runs three kills a mode; HEADWATER_SLOW_TESTS=1 runs 34 (102 in all).
"""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

KILLS = 34 if os.environ.get("HEADWATER_SLOW_TESTS") == "1" else 3

#: What a kill may lose: the state changes of the last this-many seconds (docs/concepts/guarantees.md).
CRASH_WINDOW_SECONDS = {"direct": 0.1, "sequential": 0.1, "concurrent": 0.5}

SCRIPT = """
import os, sys, time
from datetime import timedelta
from headwater import flow, task
from headwater.tasks import task_input_hash
from headwater.task_runners import ConcurrentTaskRunner, SequentialTaskRunner

mode, record = sys.argv[1], sys.argv[2]
fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
failed_once = set()

@task(retries=1, retry_delay_seconds=0)
def quick(i):
    if i % 10 == 3 and i not in failed_once:
        failed_once.add(i)
        raise ValueError(f"first attempt of {i}")
    os.write(fd, b"%d %.6f\\n" % (i, time.time()))
    return i

@task(cache_key_fn=task_input_hash, cache_expiration=timedelta(minutes=5))
def cached(x):
    return x * 2

@flow(task_runner=ConcurrentTaskRunner() if mode == "concurrent" else SequentialTaskRunner())
def many(n):
    if mode == "direct":
        for i in range(n):
            quick(i)
            if i % 5 == 0:
                cached(i % 20)
    else:
        futures = []
        for i in range(n):
            futures.append(quick.submit(i))
            if i % 5 == 0:
                futures.append(cached.submit(i % 20))
        for future in futures:
            future.wait()

many(100_000)  # far more than it finishes before it is killed
"""

FINAL = ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")


def _kill_one(tmp_path: Path, mode: str, rng: random.Random) -> tuple[Path, Path, float]:
    home = tmp_path / f"home-{mode}-{rng.random():.6f}"
    home.mkdir()
    record = home / "bodies.txt"
    script = tmp_path / "flow.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "HEADWATER_HOME": str(home), "HEADWATER_LOGGING_LEVEL": "WARNING"}
    stderr = (home / "stderr.txt").open("wb")  # a file, not a pipe: a full pipe would hold the flow up
    proc = subprocess.Popen([sys.executable, str(script), mode, str(record)], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    try:
        deadline = time.monotonic() + 60
        while not (record.exists() and record.stat().st_size):
            assert proc.poll() is None, f"the flow exited before it was killed: {(home / 'stderr.txt').read_text()}"
            assert time.monotonic() < deadline, "the flow never started a task"
            time.sleep(0.005)
        time.sleep(rng.uniform(0.02, 0.8))
        killed_at = time.time()
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        stderr.close()
    # At once, as a user would, a new process opens the store: it records the dead process's runs
    # Crashed, once the dead process's writer has committed the batch it was sent.
    database = home / "headwater.db"
    cli = subprocess.run([sys.executable, "-m", "headwater.cli", "runs", "ls"], env=env, capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    return database, record, killed_at


def _check(database: Path, record: Path, killed_at: float, mode: str) -> tuple[int, float]:
    """Assert the record agrees with itself; return how many finished bodies it lost, and the oldest's age."""
    conn = sqlite3.connect(database)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        histories: dict[str, list[tuple]] = {}
        for run_id, *state in conn.execute("SELECT run_id, type, name, message, timestamp FROM states ORDER BY id"):
            histories.setdefault(run_id, []).append(tuple(state))
        completed_bodies = set()
        for table in ("flow_runs", "task_runs"):
            rows = conn.execute(
                f"SELECT id, name, state_type, state_name, state_message, state_timestamp, run_count, start_time, end_time, "
                f"parameters FROM {table}"
            ).fetchall()  # (none, if the kill came before the first batch: the bodies' check below judges that)
            for run_id, name, *row_state, run_count, start, end, parameters in rows:
                history = histories.get(run_id)
                assert history, f"{name}: a row with no history"
                assert tuple(row_state) == history[-1], f"{name}: the row says {row_state}, its history ends {history[-1]} (torn)"
                types = [state[0] for state in history]
                assert types[0] == "PENDING", f"{name}: its history starts {types}"
                assert "CRASHED" not in types[:-1], f"{name}: a state after Crashed: {types}"
                assert types[-1] in FINAL, f"{name}: left {types[-1]} after the crash"
                assert run_count == types.count("RUNNING"), f"{name}: run_count {run_count} for {types}"
                assert end is not None, f"{name}: a final state and no end time"
                if "RUNNING" in types:
                    assert start is not None, f"{name}: it ran and has no start time"
                if table == "task_runs" and types[-1] == "COMPLETED" and name.startswith("quick"):
                    completed_bodies.add(json.loads(parameters)["i"])
        # Rows for runs with no history cannot hide: every history has its row.
        known = {row[0] for row in conn.execute("SELECT id FROM flow_runs UNION ALL SELECT id FROM task_runs")}
        assert set(histories) <= known, "states of a run with no row"
    finally:
        conn.close()
    finished = [line.split() for line in record.read_text().splitlines()]
    ages = [killed_at - float(moment) for i, moment in finished if int(i) not in completed_bodies]
    return len(ages), max(ages, default=0.0)


@pytest.mark.parametrize("mode", ["direct", "sequential", "concurrent"])
def test_a_killed_flow_leaves_no_torn_record_and_loses_only_the_window(tmp_path, mode):
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)
    window = CRASH_WINDOW_SECONDS[mode]
    figures = []
    for _ in range(KILLS):
        database, record, killed_at = _kill_one(tmp_path, mode, rng)
        lost, oldest = _check(database, record, killed_at, mode)
        figures.append((lost, round(oldest * 1000, 1)))
        assert oldest <= window, (
            f"kill {len(figures)} (seed {seed}): a task body that finished {oldest * 1000:.0f} ms before the kill "
            f"is not recorded Completed; the documented window is {window * 1000:.0f} ms. Lost, oldest (ms) per kill: {figures}"
        )
    print(f"{mode}: lost completions, oldest lost (ms), per kill: {figures}")
