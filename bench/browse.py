"""How fast the store answers the reads that browse a large record (the web UI's, ``headwater runs ls``).

    python -m bench.browse                    # 100,000 flow runs with 10 task runs each (a few minutes to fill)
    python -m bench.browse --flows 5000       # a smaller record
    python -m bench.browse --home DIR         # keep the record in DIR and reuse it on the next run

The record is written by real flows (five flow names, tags, one run in ten Failed), into a
fresh HEADWATER_HOME unless ``--home`` already holds one. Each read is timed through the
store contract (``query_flow_runs``, ``count_flow_runs``, ...), records built, median of
repeated calls on a warm cache. The baseline, measured in the same run on the same database,
is plain sqlite3 reading the ids of the newest 50 runs: the least a page of runs can cost.
These are benchmarks, not tests.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

FILL = textwrap.dedent(
    """
    import sys
    from headwater import flow, tags, task

    flows, tasks_each = int(sys.argv[1]), int(sys.argv[2])

    @task
    def step(n: int) -> int:
        if n < 0:
            raise ValueError("a failed step")
        return n + 1

    def make(name):
        @flow(name=name)
        def pipeline(k: int) -> int:
            total = 0
            for n in range(tasks_each):
                total += step(-1 if (k % 10 == 9 and n == tasks_each - 1) else n)
            return total
        return pipeline

    pipelines = [make(f"pipeline-{i}") for i in range(5)]
    for k in range(flows):
        with tags("nightly" if k % 2 else "hourly", *(["big"] if k % 7 == 0 else [])):
            pipelines[k % 5](k, return_state=True)
    """
)


def _median_ms(call, repeat: int = 15) -> float:
    call()  # warm
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flows", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=10, help="task runs a flow run")
    parser.add_argument("--home", help="keep the record here (reused when it already holds one)")
    args = parser.parse_args()

    home = args.home or tempfile.mkdtemp(prefix="headwater-bench-browse-")
    os.environ["HEADWATER_HOME"] = home
    os.environ["HEADWATER_PROGRESS"] = "off"
    os.environ["HEADWATER_LOGGING_LEVEL"] = "WARNING"
    database = os.path.join(home, "headwater.db")
    if not os.path.exists(database):
        print(f"Filling {home} with {args.flows:,} flow runs x {args.tasks} task runs ...", flush=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", FILL, str(args.flows), str(args.tasks)], check=True, stderr=subprocess.DEVNULL)
        print(f"  filled in {time.perf_counter() - start:.0f} s", flush=True)

    from headwater.stores import FlowRunQuery, get_store

    store = get_store()
    raw = sqlite3.connect(database)
    flow_runs, task_runs = (raw.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("flow_runs", "task_runs"))
    baseline = _median_ms(lambda: raw.execute("SELECT id FROM flow_runs ORDER BY created DESC LIMIT 50").fetchall())

    newest = store.query_flow_runs(FlowRunQuery(), limit=1)[0]
    oldest = store.query_flow_runs(FlowRunQuery(), limit=1, offset=flow_runs - 1)[0]
    span = (newest.created - oldest.created).total_seconds()
    recent = newest.created - _dt.timedelta(seconds=span / 10)
    failed = store.query_flow_runs(FlowRunQuery(state_types=("FAILED",)), limit=1)
    one_run = (failed or [newest])[0]
    its_tasks = [t.id for t in store.read_task_runs(flow_run_id=one_run.id)]

    reads = [
        ("first page (50 runs)", lambda: store.query_flow_runs(FlowRunQuery(), limit=50)),
        ("page 1,000 (offset 50,000)", lambda: store.query_flow_runs(FlowRunQuery(), limit=50, offset=min(50_000, flow_runs // 2))),
        ("by flow name", lambda: store.query_flow_runs(FlowRunQuery(flow_name="pipeline-3"), limit=50)),
        ("by state (Failed)", lambda: store.query_flow_runs(FlowRunQuery(state_types=("FAILED",)), limit=50)),
        ("by tag (big)", lambda: store.query_flow_runs(FlowRunQuery(tags=("big",)), limit=50)),
        ("by tag none has", lambda: store.query_flow_runs(FlowRunQuery(tags=("no-such-tag",)), limit=50)),
        ("last tenth of the time range", lambda: store.query_flow_runs(FlowRunQuery(since=recent), limit=50)),
        ("flow + state + tag + time", lambda: store.query_flow_runs(
            FlowRunQuery(flow_name="pipeline-4", state_types=("FAILED",), tags=("nightly",), since=recent), limit=50)),
        ("counts by state (all runs)", lambda: store.count_flow_runs(FlowRunQuery())),
        ("counts by state and 60 time buckets", lambda: store.count_flow_runs(FlowRunQuery(), bucket_seconds=max(span / 60, 1))),
        ("counts by state, one flow", lambda: store.count_flow_runs(FlowRunQuery(flow_name="pipeline-1"))),
        ("a run's task runs", lambda: store.read_task_runs(flow_run_id=one_run.id)),
        ("their state histories", lambda: store.read_state_histories(its_tasks)),
        ("one task run", lambda: store.read_task_run(its_tasks[0])),
    ]
    print(f"\nStore reads on {flow_runs:,} flow runs and {task_runs:,} task runs (median, warm cache)\n")
    print("| read | headwater | baseline | ratio |")
    print("|---|---|---|---|")
    for label, call in reads:
        took = _median_ms(call)
        print(f"| {label} | {took:.2f} ms | {baseline:.3f} ms (sqlite3, ids of a page) | {took / baseline:,.0f}x |")


if __name__ == "__main__":
    main()
