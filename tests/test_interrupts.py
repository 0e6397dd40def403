"""Ctrl-C and SIGTERM: the flow run and its unfinished task runs are recorded Cancelled, and nothing is left running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from headwater import flow, task
from headwater.exceptions import TerminationSignal

SCRIPT = """
import asyncio, os, signal, sys, time
from pathlib import Path
from headwater import flow, task

# Ctrl-C as a terminal's Python has it: a process started in the background by a shell (a CI job,
# say) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
signal.signal(signal.SIGINT, signal.default_int_handler)

shared, runner, style = Path(sys.argv[1]), sys.argv[2], sys.argv[3]

@task
def quick():
    return 1

@task
def slow(i):
    (shared / f"started-{i}").touch()
    time.sleep(120)
    return i

@task
async def slow_async(i):
    (shared / f"started-{i}").touch()
    await asyncio.sleep(120)
    return i

def note_cancelled(flow, run, state):
    (shared / "on_cancellation").write_text(state.message)

@flow(task_runner=runner, on_cancellation=[note_cancelled])
def sync_flow():
    quick()
    return [f.result() for f in slow.map(range(3))]

@flow(task_runner=runner, on_cancellation=[note_cancelled])
async def async_flow():
    quick()
    return [await f for f in slow_async.map(range(3))]

if style == "own-handler":
    signal.signal(signal.SIGTERM, lambda *_: (shared / "own-handler").touch())

if style == "async":
    asyncio.run(async_flow())
else:
    sync_flow()
print("flow returned", flush=True)
"""


def _start(tmp_path: Path, runner: str, style: str = "sync") -> tuple[subprocess.Popen, Path]:
    script, shared = tmp_path / "interrupted.py", tmp_path / "shared"
    script.write_text(SCRIPT)
    shared.mkdir()
    proc = subprocess.Popen(
        [sys.executable, str(script), str(shared), runner, style],
        env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    started = 1 if runner == "sequential" else 3
    deadline = time.monotonic() + 60
    while len(list(shared.glob("started-*"))) < started:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the flow never started its tasks:\n{proc.communicate()[1]}")
        time.sleep(0.02)
    return proc, shared


def _finish(proc: subprocess.Popen) -> tuple[int, str]:
    try:
        _, err = proc.communicate(timeout=60)  # the tasks sleep 120 s: exiting means they were not waited for
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the interrupted flow process did not exit")
    return proc.returncode, err


def _records(client):
    [flow_run] = client.read_flow_runs()
    return flow_run, {t.name.split("-")[0] + "-" + t.name.split("-")[-1]: t for t in client.read_task_runs(flow_run.id)}


@pytest.mark.parametrize("runner", ["concurrent", "sequential"])
def test_sigterm_cancels_the_flow_and_its_unfinished_task_runs(client, tmp_path, runner):
    proc, shared = _start(tmp_path, runner)
    proc.send_signal(signal.SIGTERM)
    code, err = _finish(proc)
    assert code == 128 + signal.SIGTERM, err
    assert "Traceback" not in err  # TerminationSignal is a SystemExit: a quiet exit with status 143

    flow_run, task_runs = _records(client)
    assert flow_run.state.name == "Cancelled"
    assert "SIGTERM" in flow_run.state.message
    assert task_runs["quick-0"].state.name == "Completed"  # finished work keeps its state
    slow = [t for name, t in task_runs.items() if name.startswith("slow")]
    assert len(slow) == (1 if runner == "sequential" else 3)
    assert all(t.state.name == "Cancelled" and "SIGTERM" in t.state.message for t in slow)
    assert (shared / "on_cancellation").read_text() == flow_run.state.message


def test_ctrl_c_cancels_the_flow_and_its_task_runs(client, tmp_path):
    proc, _ = _start(tmp_path, "concurrent")
    proc.send_signal(signal.SIGINT)
    code, err = _finish(proc)
    assert code == -signal.SIGINT and "KeyboardInterrupt" in err  # Python's own way out on Ctrl-C
    flow_run, task_runs = _records(client)
    assert flow_run.state.name == "Cancelled" and "Ctrl-C" in flow_run.state.message
    assert {t.state.name for name, t in task_runs.items() if name.startswith("slow")} == {"Cancelled"}


def test_sigterm_cancels_an_async_flow(client, tmp_path):
    proc, shared = _start(tmp_path, "concurrent", "async")
    proc.send_signal(signal.SIGTERM)
    code, err = _finish(proc)
    assert code != 0
    flow_run, task_runs = _records(client)
    assert flow_run.state.name == "Cancelled"
    assert {t.state.name for name, t in task_runs.items() if name.startswith("slow")} == {"Cancelled"}
    assert (shared / "on_cancellation").exists()


def test_a_programs_own_sigterm_handler_is_left_alone(client, tmp_path):
    proc, shared = _start(tmp_path, "sequential", "own-handler")
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    while not (shared / "own-handler").exists():
        assert time.monotonic() < deadline, "the program's own handler was not called"
        time.sleep(0.02)
    assert proc.poll() is None  # not interrupted: the program decided what SIGTERM means
    proc.kill()
    proc.wait()


def test_dask_runner_leaves_no_worker_process_behind(client, tmp_path):
    pytest.importorskip("headwater_dask")
    script = tmp_path / "dask_flow.py"
    script.write_text(
        """
import os, sys, time
from pathlib import Path
from headwater import flow, task
from headwater_dask import DaskTaskRunner

@task
def slow(i):
    Path(sys.argv[1], f"worker-{os.getpid()}-{i}").touch()
    time.sleep(120)

@flow(task_runner=DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 1, "dashboard_address": None}))
def on_dask():
    return [f.result() for f in slow.map(range(2))]

if __name__ == "__main__":
    on_dask()
"""
    )
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], env=os.environ.copy(), stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("worker-*"))) < 2:
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() is not None else "timeout"
        time.sleep(0.05)
    workers = {int(path.name.split("-")[1]) for path in tmp_path.glob("worker-*")}
    assert os.getpid() not in workers and proc.pid not in workers  # the tasks ran in worker processes
    proc.send_signal(signal.SIGTERM)
    code, err = _finish(proc)
    assert code == 128 + signal.SIGTERM, err

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        stat = Path(f"/proc/{pid}/stat")
        return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")

    for pid in workers:
        deadline = time.monotonic() + 30
        while alive(pid):
            assert time.monotonic() < deadline, f"dask worker process {pid} outlived its flow"
            time.sleep(0.1)
    flow_run, task_runs = _records(client)
    assert flow_run.state.name == "Cancelled"
    assert {t.state.name for t in task_runs.values()} == {"Cancelled"}


# -- in this process ----------------------------------------------------------------------------


def test_interrupt_inside_a_directly_called_task_cancels_task_and_flow(client):
    @task
    def interrupted() -> None:
        raise KeyboardInterrupt

    @flow
    def parent() -> None:
        interrupted()

    with pytest.raises(KeyboardInterrupt):
        parent()
    flow_run, task_runs = _records(client)
    assert flow_run.state.name == "Cancelled"
    assert [t.state.name for t in task_runs.values()] == ["Cancelled"]


def test_a_cancelled_run_stays_cancelled_when_its_function_returns_later(client):
    release = threading.Event()
    returned = threading.Event()

    @task
    def blocked() -> str:
        release.wait(30)
        returned.set()
        return "late"

    @flow(task_runner="concurrent")
    def interrupted_flow() -> None:
        future = blocked.submit()
        while future.task_run.state.name != "Running":
            time.sleep(0.01)
        raise KeyboardInterrupt  # as if Ctrl-C arrived while the task ran on a worker thread

    with pytest.raises(KeyboardInterrupt):
        interrupted_flow()
    flow_run, task_runs = _records(client)
    [run] = task_runs.values()
    assert run.state.name == "Cancelled"

    release.set()
    assert returned.wait(30)
    time.sleep(0.1)  # let the worker's engine try to record its outcome
    [after] = client.read_task_runs(flow_run.id)
    assert [s.name for s in client.read_state_history(after.id)] == ["Pending", "Running", "Cancelled"]


def test_termination_signal_is_a_quiet_system_exit():
    error = TerminationSignal(signal.SIGTERM)
    assert isinstance(error, SystemExit) and not isinstance(error, Exception)
    assert error.code == 143 and str(error) == "received SIGTERM"
