"""Each scenario runs in a fresh process (``python -m bench.scenarios NAME N``) and prints one JSON line.

A scenario measures headwater and, in the same process, the baseline it is compared with.
headwater's INFO logging stays on: its lines go to stderr, which ``python -m bench`` reads
through a pipe. With ``BENCH_FRAMEWORK=prefect`` (run by the Python of a virtual environment
that has Prefect) the same scenario code measures Prefect instead.
"""

from __future__ import annotations

import json
import os
import sys
import time


FRAMEWORK = os.environ.get("BENCH_FRAMEWORK", "headwater")


def _api():
    """flow, task, task_input_hash and the concurrent runner of the framework under test."""
    if FRAMEWORK == "prefect":
        from prefect import flow, task
        from prefect.task_runners import ThreadPoolTaskRunner
        from prefect.tasks import task_input_hash

        return flow, task, task_input_hash, {"concurrent": ThreadPoolTaskRunner()}
    from headwater import flow, task
    from headwater.tasks import task_input_hash

    return flow, task, task_input_hash, {"concurrent": "concurrent", "sequential": "sequential"}


def _plain_calls(n: int) -> float:
    def trivial(x):
        return x + 1

    start = time.perf_counter()
    for i in range(n):
        trivial(i)
    return (time.perf_counter() - start) / n


def _writer_peak_rss_mb() -> float:
    """The peak RSS of the store's writer process, part of what the flow costs (0 where there is none)."""
    from headwater.stores import get_store

    child = getattr(getattr(get_store().writer, "committer", None), "child", None)
    try:
        with open(f"/proc/{child.pid}/status") as status:
            return next(int(line.split()[1]) / 1024 for line in status if line.startswith("VmHWM:"))
    except (AttributeError, OSError, StopIteration):
        return 0.0


def direct(n: int) -> dict:
    """A flow calling a trivial task n times; every state persisted."""
    flow, task, _, _ = _api()

    @task
    def trivial(x):
        return x + 1

    @flow
    def many(n):
        for i in range(n):
            trivial(i)

    many(10)  # warm up: plugins, store, schema
    start = time.perf_counter()
    many(n)  # returns after every record is committed
    elapsed = time.perf_counter() - start
    import resource

    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the check reads records back
    if FRAMEWORK != "headwater":
        return {"headwater_s": elapsed / n, "baseline_s": _plain_calls(n), "peak_rss_mb": peak_rss_mb}
    from headwater.client import get_client

    peak_rss_mb += _writer_peak_rss_mb()
    runs = get_client().read_flow_runs(flow_name="many", limit=1)
    tasks = get_client().read_task_runs(flow_run_id=runs[0].id, limit=n + 1)
    assert len(tasks) == n and all(t.state.name == "Completed" for t in tasks), "records missing"
    db = os.path.join(os.environ["HEADWATER_HOME"], "headwater.db")
    size = sum(os.path.getsize(db + suffix) for suffix in ("", "-wal") if os.path.exists(db + suffix))
    return {
        "headwater_s": elapsed / n,
        "baseline_s": _plain_calls(n),
        "peak_rss_mb": peak_rss_mb,
        "db_bytes_per_task": size / (n + 10),
    }


def submitted(n: int, runner: str) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    flow, task, _, runners = _api()

    @task
    def trivial(x):
        return x + 1

    @flow(task_runner=runners[runner])
    def many(n):
        futures = [trivial.submit(i) for i in range(n)]
        return sum(f.result() for f in futures)

    many(10)
    start = time.perf_counter()
    many(n)
    elapsed = time.perf_counter() - start

    # Baseline: the same work through a plain thread pool (or plain calls for the sequential runner).
    def plain(x):
        return x + 1

    if runner == "sequential":
        baseline = _plain_calls(n)
    else:
        start = time.perf_counter()
        with ThreadPoolExecutor() as pool:
            futures = [pool.submit(plain, i) for i in range(n)]
            sum(f.result() for f in futures)
        baseline = (time.perf_counter() - start) / n
    return {"headwater_s": elapsed / n, "baseline_s": baseline}


def cache_hits(n: int, phase: str) -> dict:
    """phase 'fill' computes n entries; phase 'hit' (a fresh process) reads them all back from the store."""
    flow, task, task_input_hash, _ = _api()

    calls = []

    @task(cache_key_fn=task_input_hash)
    def cached(x):
        calls.append(x)
        return x + 1

    @flow
    def many(inputs):
        for i in inputs:
            cached(i)

    many([-1])  # warm up: plugins, store, schema (a miss in both phases)
    calls.clear()
    start = time.perf_counter()
    many(range(n))
    elapsed = time.perf_counter() - start
    if phase == "hit":
        assert not calls, f"{len(calls)} cache misses"
    return {"headwater_s": elapsed / n, "baseline_s": _plain_calls(n)}


def flow_runs(n: int) -> dict:
    flow, _, _, _ = _api()

    @flow
    def empty():
        return None

    empty()
    start = time.perf_counter()
    for _ in range(n):
        empty()
    elapsed = time.perf_counter() - start

    def plain():
        return None

    return {"headwater_s": elapsed / n, "baseline_s": _plain_calls(n)}


def choice(n: int, name: str) -> dict:
    """The direct-call flow with one of ``bench.choices.CHOICES`` applied (its options, its environment, its body)."""
    from bench.choices import CHOICES

    _, options, env, body = CHOICES[name]
    os.environ.update(env)  # before headwater reads its settings, at the first flow run
    flow, task, task_input_hash, _ = _api()
    if options.get("cache_key_fn") == "task_input_hash":
        options = {**options, "cache_key_fn": task_input_hash}
    from headwater import get_run_logger

    @task(**options)
    def trivial(x):
        if body == "log":
            get_run_logger().info("adding one to %d", x)
        elif body == "stat":
            os.stat(".")  # lets go of the GIL, as file, network and database calls do
        elif body == "print":
            print("adding one to", x)
        return x + 1

    @flow
    def many(start, n):
        for i in range(start, start + n):
            trivial(i)

    many(-10, 10)  # warm up: plugins, store, schema (inputs apart from the measured ones: no cache hit)
    start = time.perf_counter()
    many(0, n)  # returns after every record is committed
    elapsed = time.perf_counter() - start
    return {"headwater_s": elapsed / n, "baseline_s": _plain_calls(n)}


if __name__ == "__main__":
    name, n = sys.argv[1], int(sys.argv[2])
    extra = sys.argv[3:]
    result = globals()[name](n, *extra)
    print(json.dumps(result))
