"""Prefect 2.20's pausing of flow runs, for flows run in-process: pause_flow_run and resume_flow_run."""

import os
import subprocess
import sys
import textwrap
import time

import pytest

from headwater import flow, pause_flow_run, resume_flow_run, suspend_flow_run, task
from headwater.client import get_client
from headwater.exceptions import FlowPauseTimeout, HeadwaterError, MissingContextError, NotAvailable

WAITING_FLOW = textwrap.dedent(
    """
    from headwater import flow, task, pause_flow_run

    @task
    def prepare():
        return 41

    @flow(log_prints=True)
    def needs_approval():
        value = prepare()
        print("waiting for approval")
        pause_flow_run(timeout=60, poll_interval=0.05)
        print("approved")
        return value + 1

    print("result", needs_approval())
    """
)


def _wait_for(predicate, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _paused_run():
    runs = get_client().read_flow_runs()
    return runs[0] if runs and runs[0].state is not None and runs[0].state.is_paused() else None


def test_a_paused_flow_in_another_process_resumes_from_the_cli(tmp_path, headwater_home):
    script = tmp_path / "approval.py"
    script.write_text(WAITING_FLOW)
    flow_process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        paused = _wait_for(_paused_run)
        assert paused.state.name == "Paused" and "Waiting to be resumed" in paused.state.message
        time.sleep(0.3)
        assert flow_process.poll() is None  # still waiting
        resumed = subprocess.run(
            [sys.executable, "-m", "headwater.cli", "runs", "resume", paused.name], capture_output=True, text=True, timeout=60,
        )
        assert resumed.returncode == 0, resumed.stderr
        out, err = flow_process.communicate(timeout=60)
    finally:
        flow_process.kill()
    assert "result 42" in out and "approved" in err
    [run] = get_client().read_flow_runs()
    history = [s.name for s in get_client().read_state_history(run.id)]
    assert history == ["Pending", "Running", "Paused", "Resuming", "Completed"]
    assert run.run_count == 1  # resuming is the same attempt, not a retry


def test_a_pause_nobody_resumes_fails_the_flow_at_its_timeout(headwater_home):
    @flow
    def forgotten():
        pause_flow_run(timeout=0.3, poll_interval=0.05)

    started = time.monotonic()
    state = forgotten(return_state=True)
    assert 0.3 <= time.monotonic() - started < 5
    assert state.is_failed() and "FlowPauseTimeout" in state.message and "not resumed within 0.3 seconds" in state.message
    with pytest.raises(FlowPauseTimeout):
        state.result()


def test_resume_flow_run_from_this_process_and_a_thread(headwater_home):
    import threading

    @flow
    def waits():
        pause_flow_run(timeout=30, poll_interval=0.05)
        return "went on"

    def resume_when_paused():
        paused = _wait_for(_paused_run)
        resume_flow_run(paused.id)

    helper = threading.Thread(target=resume_when_paused)
    helper.start()
    assert waits() == "went on"
    helper.join()


def test_resuming_what_is_not_paused_says_so(headwater_home):
    @flow
    def done():
        return 1

    done()
    [run] = get_client().read_flow_runs()
    with pytest.raises(HeadwaterError, match=f"Flow run '{run.name}' is Completed, not Paused"):
        resume_flow_run(run.id)
    with pytest.raises(HeadwaterError, match="No flow run matches 'no-such-run'"):
        resume_flow_run("no-such-run")
    cli = subprocess.run([sys.executable, "-m", "headwater.cli", "runs", "resume", run.id], capture_output=True, text=True, env=os.environ.copy())
    assert cli.returncode == 1 and "not Paused" in cli.stderr


def test_pausing_outside_a_flow_or_in_a_task_or_suspending_is_refused(headwater_home):
    with pytest.raises(MissingContextError, match="outside a flow run"):
        pause_flow_run()

    @task
    def pauses():
        pause_flow_run(timeout=1)

    @flow
    def calls_it():
        return pauses(return_state=True)

    assert "only a flow run can pause" in calls_it(return_state=True).message
    with pytest.raises(NotAvailable, match="use pause_flow_run"):
        suspend_flow_run()
    with pytest.raises(NotAvailable, match="wait_for_input"):
        pause_flow_run(wait_for_input=int)


def test_a_paused_run_whose_process_is_killed_is_recorded_crashed(tmp_path, headwater_home):
    script = tmp_path / "approval.py"
    script.write_text(WAITING_FLOW)
    flow_process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        paused = _wait_for(_paused_run)
    finally:
        flow_process.kill()
        flow_process.wait()
    from headwater.stores import get_store

    get_store().mark_crashed_runs()  # what the next process to open the store does
    [run] = get_client().read_flow_runs()
    assert run.id == paused.id and run.state.name == "Crashed"
    assert [s.name for s in get_client().read_state_history(run.id)][-2:] == ["Paused", "Crashed"]
