"""Tag concurrency limits: a tag limited to N never has more than N task runs running, in any process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from headwater import flow, task
from headwater.client import get_client
from headwater.exceptions import ConfigurationError
from headwater.tasks import task_input_hash
from headwater.testing import assert_state_history


# -- in one process ------------------------------------------------------------------------------


def wait_until(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class Overlap:
    """Counts how many runs are inside ``during()`` at once."""

    def __init__(self) -> None:
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

    def during(self, seconds: float) -> None:
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        time.sleep(seconds)
        with self.lock:
            self.active -= 1


def test_limit_caps_concurrent_task_runs_and_waiters_show_why(client):
    overlap = Overlap()

    @task(tags=["db"])
    def query(i: int) -> int:
        overlap.during(0.05)
        return i

    @task
    def free(i: int) -> int:
        return i

    @flow(task_runner="concurrent")
    def load():
        futures = query.map(range(8)) + free.map(range(4))
        return [f.result() for f in futures]

    client.create_concurrency_limit("db", 2)
    assert load() == list(range(8)) + list(range(4))
    assert overlap.peak == 2  # the runner would run all 8 at once without the limit

    [flow_run] = client.read_flow_runs()
    histories = {t.name: [s.name for s in client.read_state_history(t.id)] for t in client.read_task_runs(flow_run.id)}
    waited = [name for name, names in histories.items() if "AwaitingConcurrencySlot" in names]
    assert waited and all(name.startswith("query") for name in waited)
    for name in waited:
        assert histories[name] == ["Pending", "AwaitingConcurrencySlot", "Running", "Completed"]
    # Every slot was given back.
    assert client.read_concurrency_limit("db").holders == ()


def test_a_slot_given_back_wakes_the_waiting_runs_of_this_process(client, monkeypatch):
    from headwater.defaults import concurrency

    # Were the waiters to sleep out their delay, this flow would take minutes.
    monkeypatch.setattr(concurrency, "FIRST_WAIT_SECONDS", 120.0)
    monkeypatch.setattr(concurrency, "LONGEST_WAIT_SECONDS", 120.0)

    @task(tags=["db"])
    def query(i: int) -> int:
        time.sleep(0.02)
        return i

    @flow(task_runner="concurrent")
    def load():
        return [f.result() for f in query.map(range(4))]

    client.create_concurrency_limit("db", 1)
    outcome = []
    runner = threading.Thread(target=lambda: outcome.append(load()), daemon=True)
    runner.start()
    runner.join(60)
    assert outcome == [[0, 1, 2, 3]], "the waiting runs were not woken when the slot was given back"


def test_waiting_message_names_the_tag_and_the_holder(client):
    seen = []

    @task(tags=["gpu"])
    def hold(event: threading.Event) -> None:
        event.wait(10)

    @task(tags=["gpu"])
    def second() -> str:
        return "ran"

    @flow(task_runner="concurrent")
    def pair():
        event = threading.Event()
        first = hold.submit(event)
        try:
            wait_until(lambda: client.read_concurrency_limit("gpu").holders, "the first run to hold the slot")
            later = second.submit()
            wait_until(lambda: later.task_run.state.name == "AwaitingConcurrencySlot", "the second run to wait")
            seen.append(later.task_run.state.message)
        finally:
            event.set()
        return first.result(), later.result()

    client.create_concurrency_limit("gpu", 1)
    assert pair() == (None, "ran")
    assert "tag 'gpu'" in seen[0] and "hold-" in seen[0] and f"pid {os.getpid()}" in seen[0]


def test_limit_zero_cancels_with_a_clear_message(client):
    calls = []

    @task(tags=["frozen"])
    def never() -> None:
        calls.append(1)

    @flow
    def blocked():
        return never.call_with_state()

    client.create_concurrency_limit("frozen", 0)
    state = blocked(return_state=True)  # the flow returned the task's state, so it ends in it too
    assert calls == []
    assert state.is_cancelled()
    assert "limit of 0" in state.message and "headwater concurrency-limit delete frozen" in state.message
    [task_run] = client.read_task_runs(flow_run_id=client.read_flow_runs(flow_name="blocked")[0].id)
    assert task_run.state.type == "CANCELLED" and task_run.state.message == state.message


def test_a_cached_run_needs_no_slot(client):
    @task(tags=["frozen"], cache_key_fn=task_input_hash)
    def compute(x: int) -> int:
        return x * 3

    @flow
    def twice():
        return compute(4)

    assert twice() == 12
    client.create_concurrency_limit("frozen", 0)
    assert twice() == 12  # answered by the cache, which the rules consult before the limit
    last = client.read_task_runs(client.read_flow_runs()[0].id)[0]
    assert_state_history(last, ["Pending", "Cached"], client=client)


def test_retrying_run_gives_its_slot_back_while_it_waits(client):
    attempts = []

    @task(tags=["api"], retries=1, retry_delay_seconds=0)
    def flaky() -> str:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first attempt fails")
        return "ok"

    @flow
    def once():
        return flaky()

    client.create_concurrency_limit("api", 1)
    assert once() == "ok"
    assert client.read_concurrency_limit("api").holders == ()


def test_a_crashed_run_gives_its_slot_back(client, monkeypatch):
    from headwater.task_engine import TaskRunEngine

    def broken(self, value):
        raise RuntimeError("orchestration broke")

    monkeypatch.setattr(TaskRunEngine, "_completed", broken)  # fails after the run took its slot

    @task(tags=["db"])
    def query() -> int:
        return 1

    @flow
    def use():
        return query.call_with_state()

    client.create_concurrency_limit("db", 1)
    state = use(return_state=True)  # the flow returned the task's Crashed state, so it ends in it too
    assert state.is_crashed() and "orchestration broke" in state.message
    assert client.read_concurrency_limit("db").holders == ()


def test_deleting_the_limit_frees_the_tag(client):
    @task(tags=["db"])
    def query() -> int:
        return 1

    @flow
    def use():
        return query()

    client.create_concurrency_limit("db", 0)
    assert client.delete_concurrency_limit("db") is True
    assert client.delete_concurrency_limit("db") is False
    assert use() == 1


@pytest.mark.parametrize(
    "tag, limit, words",
    [
        ("db", -1, ["'db'", "limit=-1", "0 or more"]),
        ("db", 1.5, ["limit=1.5", "whole number"]),
        ("db", True, ["limit=True"]),
        ("", 1, ["tag=''", "non-empty"]),
        (None, 1, ["tag=None"]),
    ],
)
def test_bad_limits_are_refused_and_change_nothing(client, tag, limit, words):
    client.create_concurrency_limit("db", 3)
    with pytest.raises(ConfigurationError) as caught:
        client.create_concurrency_limit(tag, limit)
    for word in words:
        assert word in str(caught.value)
    assert [(l.tag, l.limit) for l in client.read_concurrency_limits()] == [("db", 3)]


# -- across processes ----------------------------------------------------------------------------

CONTENDER = """
import os, sys, time
from pathlib import Path
from headwater import flow, task

shared = Path(sys.argv[1])
me = os.getpid()

@task(tags=["db"])
def write(i):
    marker = shared / "inside"
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # fails if the other process is inside too
    except FileExistsError:
        (shared / f"overlap-{me}-{i}").touch()
        return
    time.sleep(0.08)
    os.close(fd)
    os.unlink(marker)

@flow
def writer():
    for i in range(4):
        write(i)

# Both processes start their flows together.
(shared / f"ready-{me}").touch()
while len(list(shared.glob("ready-*"))) < 2:
    time.sleep(0.01)
writer()
"""


def test_two_processes_never_overlap_on_a_limited_tag(client, tmp_path):
    client.create_concurrency_limit("db", 1)
    script = tmp_path / "contender.py"
    script.write_text(CONTENDER)
    shared = tmp_path / "shared"
    shared.mkdir()
    procs = [subprocess.Popen([sys.executable, str(script), str(shared)], env=os.environ.copy()) for _ in range(2)]
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    assert not list(shared.glob("overlap-*"))

    task_runs = client.read_task_runs()
    assert len(task_runs) == 8 and all(t.state.name == "Completed" for t in task_runs)
    waited = [t for t in task_runs if "AwaitingConcurrencySlot" in [s.name for s in client.read_state_history(t.id)]]
    assert waited, "the two processes were started together, so one must have waited for the other"


HOLDER = """
import sys, time
from pathlib import Path
from headwater import flow, task

@task(tags=["db"])
def hold():
    Path(sys.argv[1]).touch()
    time.sleep(120)

@flow
def holder():
    hold()

holder()
"""


def test_slot_of_a_killed_process_is_reclaimed(client, tmp_path):
    client.create_concurrency_limit("db", 1)
    script, started = tmp_path / "holder.py", tmp_path / "started"
    script.write_text(HOLDER)
    proc = subprocess.Popen([sys.executable, str(script), str(started)], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert time.monotonic() < deadline and proc.poll() is None, "the holder never started its task"
            time.sleep(0.02)
        [holder] = client.read_concurrency_limit("db").holders
        assert holder.pid == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    @task(tags=["db"])
    def after() -> str:
        return "ran"

    @flow
    def next_flow():
        return after()

    assert next_flow() == "ran"  # the dead process's slot was taken back, not leaked
    assert client.read_concurrency_limit("db").holders == ()


# -- the command ------------------------------------------------------------------------------------


def headwater(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "headwater.cli", *args], capture_output=True, text=True, env=os.environ.copy(), timeout=60
    )


def test_cli_create_ls_inspect_delete(client):
    created = headwater("concurrency-limit", "create", "db", "2")
    assert created.returncode == 0 and "'db' is limited to 2" in created.stdout
    assert headwater("concurrency-limit", "create", "etl", "1").returncode == 0
    assert client.read_concurrency_limit("db").limit == 2  # visible to Python at once

    listed = json.loads(headwater("concurrency-limit", "ls", "--json").stdout)
    assert [(item["tag"], item["limit"], item["active"]) for item in listed] == [("db", 2, 0), ("etl", 1, 0)]
    table = headwater("concurrency-limit", "ls").stdout.splitlines()
    assert table[0].split() == ["TAG", "LIMIT", "ACTIVE", "CREATED"] and table[1].split()[:3] == ["db", "2", "0"]

    inspected = headwater("concurrency-limit", "inspect", "db")
    assert inspected.returncode == 0 and "limit" in inspected.stdout and "2" in inspected.stdout

    assert headwater("concurrency-limit", "create", "db", "5").returncode == 0  # changes the limit
    assert json.loads(headwater("concurrency-limit", "inspect", "db", "--json").stdout)["limit"] == 5

    deleted = headwater("concurrency-limit", "delete", "db", "--json")
    assert deleted.returncode == 0 and json.loads(deleted.stdout) == {"deleted": "db"}
    assert [l.tag for l in client.read_concurrency_limits()] == ["etl"]


def test_cli_inspect_shows_the_runs_holding_slots(client):
    client.create_concurrency_limit("db", 1)
    seen = {}

    @task(tags=["db"])
    def busy() -> None:
        seen["json"] = json.loads(headwater("concurrency-limit", "inspect", "db", "--json").stdout)

    @flow
    def hold():
        busy()

    hold()
    [holder] = seen["json"]["holders"]
    assert holder["task_run_name"].startswith("busy-") and holder["pid"] == os.getpid()
    assert seen["json"]["active"] == 1


@pytest.mark.parametrize(
    "args, code, words",
    [
        (["create", "db", "-1"], 2, ["-1", "x>=0"]),
        (["create", "db", "many"], 2, ["'many'", "not a valid integer"]),
        (["inspect", "nope"], 1, ["'nope' has no concurrency limit", "concurrency-limit create nope N"]),
        (["delete", "nope"], 1, ["'nope' has no concurrency limit"]),
    ],
)
def test_cli_bad_input(args, code, words):
    result = headwater("concurrency-limit", *args)
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr
