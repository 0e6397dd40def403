"""Each task run records the task runs it depends on: futures and states among its arguments, at any
depth, and in wait_for. The UI draws the task graph from them; ``runs inspect --json`` shows them."""

import json
import os
import subprocess
import sys

from headwater import allow_failure, flow, task
from headwater.client import get_client


@task
def load(n):
    return n


@task
def combine(*parts, **named):
    return len(parts) + len(named)


@task
def fails():
    raise ValueError("no")


def _by_name():
    [run] = get_client().read_flow_runs(limit=1)
    return run, {t.name: t for t in get_client().read_task_runs(flow_run_id=run.id)}


def test_futures_states_nesting_and_wait_for_are_recorded(headwater_home):
    @flow
    def pipeline():
        a = load.submit(1)
        b = load.submit(2)
        c = load(3, return_state=True)  # a state, not a future
        d = load.submit(4)
        combine.submit([a, {"deep": (b,)}], c, wait_for=[d]).result()
        broken = fails.submit()
        combine.submit(allow_failure(broken), a).result()
        combine(5)  # plain values: no upstream

    pipeline(return_state=True)  # Failed: nobody looked at the failed future itself
    _, runs = _by_name()
    ids = {name: record.id for name, record in runs.items()}
    load_ids = [ids[name] for name in sorted(ids) if name.startswith("load")]
    first_combine, second_combine, plain = sorted((r for r in runs.values() if r.task_name == "combine"), key=lambda r: r.created)
    assert sorted(first_combine.upstream_task_run_ids) == sorted(load_ids)  # a, b (nested), c (a state), d (wait_for)
    assert sorted(second_combine.upstream_task_run_ids) == sorted([ids[next(n for n in ids if n.startswith("fails"))], load_ids[0]])
    assert plain.upstream_task_run_ids == []
    assert all(runs[name].upstream_task_run_ids == [] for name in ids if name.startswith("load"))


def test_the_graph_is_in_runs_inspect_json(headwater_home):
    @flow
    def two_steps():
        return combine(load.submit(1))

    two_steps()
    run, runs = _by_name()
    out = subprocess.run(
        [sys.executable, "-m", "headwater.cli", "runs", "inspect", run.id, "--json"],
        capture_output=True, text=True, env=os.environ.copy(), check=True,
    ).stdout
    shown = {t["name"]: t["upstream_task_run_ids"] for t in json.loads(out)["task_runs"]}
    [load_name] = [n for n in shown if n.startswith("load")]
    [combine_name] = [n for n in shown if n.startswith("combine")]
    assert shown[combine_name] == [runs[load_name].id] and shown[load_name] == []
