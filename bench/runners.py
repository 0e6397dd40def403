"""Per-task overhead of DaskTaskRunner and RayTaskRunner beside the raw engines, measured in one run.

    python -m bench.runners              # 2,000 trivial tasks and a 200-task chain, medians of 3
    python -m bench.runners --quick      # 200 tasks, a 50-task chain, one repeat
    python -m bench.runners --only dask  # or ray

Each engine is started once, and its start-up is reported on its own line. The
headwater figure for a scenario is T(flow with n tasks) - T(the same flow with
none), divided by n: the flow's own start, its runner's connection to the
engine and its warm-up task cancel out, while everything headwater adds per task
run (states, records flushed before the flow returns) counts. The raw figure is
the same work submitted straight to the engine: ``client.submit`` + ``gather``
for Dask (a LocalCluster of 2 worker processes, 1 thread each), ``ray.remote`` +
``ray.get`` for Ray. A third row per engine is the fan-out again with tasks that
each log one line with ``get_run_logger()``: the line comes back from the worker
and is stored with its run (no raw figure). A last pair of rows measures
headwater alone, on a runner that calls each function in-process. Run it from
the repository's root (Ray's workers import this module). These are benchmarks,
not tests: nothing passes or fails.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import tempfile
import time
from typing import Any, Callable


def inc(x: int) -> int:
    return x + 1


def inc_and_log(x: int) -> int:
    from headwater import get_run_logger

    get_run_logger().info("adding one to %d", x)
    return x + 1


def _log_to_file(home: str) -> None:
    # INFO logging on, as a user would have it, but to a file so the terminal is not the bottleneck.
    handler = logging.FileHandler(os.path.join(home, "bench.log"))
    handler.setFormatter(logging.Formatter("%(asctime)s | %(levelname)-7s | %(message)s"))
    logging.getLogger("headwater").addHandler(handler)


def _median_time(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _headwater_flows(runner: Any, function: Callable[[int], int] = inc) -> tuple[Callable[[int], Any], Callable[[int], Any]]:
    """A flow of n independent trivial tasks, and a flow of an n-task chain; both start with one warm-up task."""
    from headwater import flow, task

    trivial = task(name=function.__name__)(function)

    @flow(task_runner=runner)
    def fan_out(n: int) -> int:
        trivial.submit(-1).result()  # connects the runner to the engine
        futures = [trivial.submit(i) for i in range(n)]
        return sum(f.result() for f in futures)

    @flow(task_runner=runner)
    def chain(n: int) -> int:
        value = trivial.submit(-1)
        value.result()
        for _ in range(n):
            value = trivial.submit(value)  # type: ignore[arg-type]  # a future stands for its value
        return value.result()

    return fan_out, chain


def _per_task(run: Callable[[int], Any], n: int, repeats: int) -> float:
    run(0)  # warm up: plugins, store, schema, remote function exports
    return max(0.0, _median_time(lambda: run(n), repeats) - _median_time(lambda: run(0), repeats)) / n


def bench_dask(n: int, chain_n: int, repeats: int) -> dict[str, float]:
    from distributed import Client, LocalCluster

    from headwater_dask import DaskTaskRunner

    start = time.perf_counter()
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    startup = time.perf_counter() - start
    try:
        with Client(cluster) as client:
            client.gather(client.map(inc, range(100), pure=False))  # warm up the workers

            def raw_fan_out() -> None:
                client.gather([client.submit(inc, i, pure=False) for i in range(n)])

            def raw_chain() -> None:
                future = client.submit(inc, 0, pure=False)
                for _ in range(chain_n - 1):
                    future = client.submit(inc, future, pure=False)
                future.result()

            raw = _median_time(raw_fan_out, repeats) / n
            raw_chained = _median_time(raw_chain, repeats) / chain_n
        fan_out, chain = _headwater_flows(DaskTaskRunner(address=cluster.scheduler_address))
        logged, _ = _headwater_flows(DaskTaskRunner(address=cluster.scheduler_address), inc_and_log)
        return {
            "startup_s": startup,
            "fan_out_s": _per_task(fan_out, n, repeats),
            "logged_s": _per_task(logged, n, repeats),
            "raw_fan_out_s": raw,
            "chain_s": _per_task(chain, chain_n, repeats),
            "raw_chain_s": raw_chained,
        }
    finally:
        cluster.close()


def bench_ray(n: int, chain_n: int, repeats: int) -> dict[str, float]:
    import ray

    from headwater_ray import RayTaskRunner

    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    startup = time.perf_counter() - start
    try:
        remote_inc = ray.remote(inc)
        ray.get([remote_inc.remote(i) for i in range(100)])  # warm up the workers

        def raw_fan_out() -> None:
            ray.get([remote_inc.remote(i) for i in range(n)])

        def raw_chain() -> None:
            ref = remote_inc.remote(0)
            for _ in range(chain_n - 1):
                ref = remote_inc.remote(ref)
            ray.get(ref)

        raw = _median_time(raw_fan_out, repeats) / n
        raw_chained = _median_time(raw_chain, repeats) / chain_n
        fan_out, chain = _headwater_flows(RayTaskRunner())  # uses the Ray started above
        logged, _ = _headwater_flows(RayTaskRunner(), inc_and_log)
        return {
            "startup_s": startup,
            "fan_out_s": _per_task(fan_out, n, repeats),
            "logged_s": _per_task(logged, n, repeats),
            "raw_fan_out_s": raw,
            "chain_s": _per_task(chain, chain_n, repeats),
            "raw_chain_s": raw_chained,
        }
    finally:
        ray.shutdown()


def bench_orchestration(n: int, chain_n: int, repeats: int) -> dict[str, float]:
    """headwater alone: the same flows on a runner that calls each function on its own loop, no engine."""
    from headwater.task_runners import EventLoopTaskRunner

    class InProcess(EventLoopTaskRunner):
        name = "in-process"

        async def execute(self, call: Any) -> Any:
            return call.fn(**call.kwargs)

    fan_out, chain = _headwater_flows(InProcess())
    return {"fan_out_s": _per_task(fan_out, n, repeats), "chain_s": _per_task(chain, chain_n, repeats)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.runners")
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat: a smoke run")
    parser.add_argument("--only", choices=("dask", "ray"), help="benchmark one engine")
    args = parser.parse_args()
    n, chain_n, repeats = (200, 50, 1) if args.quick else (2_000, 200, 3)

    home = os.environ.get("HEADWATER_HOME") or tempfile.mkdtemp(prefix="headwater-bench-")
    os.environ["HEADWATER_HOME"] = home
    _log_to_file(home)

    print(f"headwater runner benchmarks on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{n:,} trivial tasks (submit all, then wait for all) and a {chain_n}-task chain; medians of {repeats}")
    print()
    print("| engine | scenario | headwater | raw engine | ratio |")
    print("|---|---|---|---|---|")
    engines = {"dask": bench_dask, "ray": bench_ray}
    startups = []
    for name, bench in engines.items():
        if args.only and name != args.only:
            continue
        result = bench(n, chain_n, repeats)
        for scenario, ours, raw in (
            (f"{n:,} tasks, per task", result["fan_out_s"], result["raw_fan_out_s"]),
            (f"{chain_n}-task chain, per hop", result["chain_s"], result["raw_chain_s"]),
        ):
            print(f"| {name} | {scenario} | {ours * 1e3:.2f} ms | {raw * 1e3:.2f} ms | {ours / raw:.2f}x |")
        print(f"| {name} | {n:,} tasks logging a line, per task | {result['logged_s'] * 1e3:.2f} ms | | |")
        startups.append(f"{name} {result['startup_s']:.2f} s")
    alone = bench_orchestration(n, chain_n, repeats)
    print(f"| none | {n:,} tasks, per task | {alone['fan_out_s'] * 1e3:.2f} ms | | |")
    print(f"| none | {chain_n}-task chain, per hop | {alone['chain_s'] * 1e3:.2f} ms | | |")
    print()
    print("'none' is headwater's own part: the same flows on an in-process runner that calls each function on its loop.")
    print(f"engine start-up (not in the figures above): {', '.join(startups)}")


if __name__ == "__main__":
    main()
