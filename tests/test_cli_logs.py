"""``headwater runs logs``, ``runs delete`` and ``cache ls``, run as a user types them against a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from headwater import flow, get_run_logger, task
from headwater.client import get_client
from headwater.tasks import task_input_hash


@task(cache_key_fn=task_input_hash)
def cube(x: int) -> int:
    get_run_logger().warning("cubing %s", x)
    return x**3


@flow(name="cli-logs")
def cubes(n: int) -> list:
    get_run_logger().info("starting %s", n)
    return [cube(i) for i in range(n)]


def headwater(*args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "headwater.cli", *args], capture_output=True, text=True, timeout=120, input=input, env=os.environ.copy()
    )


def test_logs_prints_the_run_and_its_task_runs_lines(headwater_home):
    cubes(2)
    run = get_client().read_flow_runs(flow_name="cli-logs")[0]
    proc = headwater("runs", "logs", run.name)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert f"INFO     {run.name}  Beginning flow run '{run.name}' for flow 'cli-logs'" in lines[0]
    assert any(line.endswith("cubing 1") and "WARNING" in line and "cube-" in line for line in lines)
    assert lines[-1].endswith("Finished in state Completed('All states completed.')")

    warnings = headwater("runs", "logs", run.id[:8], "--level", "warning", "--json")
    assert warnings.returncode == 0, warnings.stderr
    objects = [json.loads(line) for line in warnings.stdout.splitlines()]
    assert [(o["level_name"], o["message"]) for o in objects] == [("WARNING", "cubing 0"), ("WARNING", "cubing 1")]
    assert all(o["run_name"].startswith("cube-") and o["flow_run_id"] == run.id for o in objects)


def test_logs_of_an_unknown_run_fails_clearly(headwater_home):
    proc = headwater("runs", "logs", "no-such-run")
    assert proc.returncode == 1
    assert "No flow run matches 'no-such-run'" in proc.stderr


SLOW_FLOW = """
import os, pathlib, sys, time
from headwater import flow, get_run_logger

@flow(name="cli-waiting")
def waiting(gate):
    get_run_logger().info("waiting for the gate")
    while not pathlib.Path(gate).exists():
        time.sleep(0.01)
    get_run_logger().info("through the gate")

waiting(sys.argv[1])
"""


def _start_waiting_flow(tmp_path):
    gate = tmp_path / "gate"
    script = tmp_path / "waiting.py"
    script.write_text(SLOW_FLOW)
    proc = subprocess.Popen([sys.executable, str(script), str(gate)], stderr=subprocess.DEVNULL, env=os.environ.copy())
    client = get_client()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # until the run is recorded as Running (not a timing assertion)
        runs = client.read_flow_runs(flow_name="cli-waiting")
        if runs and runs[0].state_name == "Running" and client.read_logs(runs[0].id):
            return proc, gate, runs[0]
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the waiting flow never started")


def test_follow_prints_new_lines_until_the_run_finishes(headwater_home, tmp_path):
    flow_proc, gate, run = _start_waiting_flow(tmp_path)
    try:
        refused = headwater("runs", "delete", run.name, "--yes")
        assert refused.returncode == 1
        assert f"'{run.name}' (Running)" in refused.stderr and "--force" in refused.stderr

        follower = subprocess.Popen(
            [sys.executable, "-m", "headwater.cli", "runs", "logs", "--follow", run.name],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy(),
        )
        first = follower.stdout.readline()
        assert first.rstrip().endswith(f"Beginning flow run '{run.name}' for flow 'cli-waiting'")
        gate.write_text("open")
        rest, errors = follower.communicate(timeout=120)
    finally:
        gate.write_text("open")
        flow_proc.wait(timeout=120)
    assert follower.returncode == 0, errors
    assert "through the gate" in rest
    assert rest.splitlines()[-1].endswith("Finished in state Completed('All states completed.')")


def test_delete_removes_runs_with_their_records_but_not_the_cache(headwater_home):
    cubes(2)
    cubes(2)  # the second run's task runs are cache hits of the first's
    client = get_client()
    second, first = client.read_flow_runs(flow_name="cli-logs")
    proc = headwater("runs", "delete", first.name, "--json")  # stdin is not a terminal: no question asked
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["deleted"] == [{"id": first.id, "name": first.name}]
    assert (report["flow_runs"], report["task_runs"]) == (1, 2)
    assert report["log_lines"] > 0 and report["payloads"] == 0  # the cache entries still point at the results
    assert client.read_flow_run(first.id) is None
    assert client.read_logs(first.id) == []
    assert [r.id for r in client.read_flow_runs(flow_name="cli-logs")] == [second.id]
    assert len(client.read_cache_entries()) == 2
    assert cubes(2) == [0, 1]  # still served from the cache
    assert [t.state_name for t in client.read_task_runs(flow_run_id=client.read_flow_runs(flow_name="cli-logs")[0].id)] == ["Cached"] * 2

    unknown = headwater("runs", "delete", "no-such-run", "--yes")
    assert unknown.returncode == 1 and "No flow run matches 'no-such-run'" in unknown.stderr


def test_cache_ls_lists_entries(headwater_home):
    cubes(3)
    table = headwater("cache", "ls")
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["KEY", "TASK", "CREATED", "EXPIRES", "EXPIRED", "SIZE"]
    assert len(rows) == 3 and all(" cube " in row and "never" in row and " no " in row for row in rows)

    listed = json.loads(headwater("cache", "ls", "--json").stdout)
    assert {e["task_name"] for e in listed} == {"cube"}
    assert all(e["expired"] is False and e["payload_size"] > 0 for e in listed)
    assert {e["key"] for e in listed} == {e.key for e in get_client().read_cache_entries()}

    headwater("cache", "clear", "--all")
    assert headwater("cache", "ls").stdout.strip() == "No cache entries."
