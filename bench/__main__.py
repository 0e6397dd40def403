"""Run headwater's benchmarks and print one table: scenario, headwater, baseline, ratio.

    python -m bench            # the standard sizes
    python -m bench --quick    # small sizes, a smoke run

Each scenario runs in a fresh process with its own HEADWATER_HOME, and measures
its baseline in that same process. These are benchmarks, not tests: nothing
here passes or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _scenario(*args: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="headwater-bench-") as home:
        env = {**os.environ, "HEADWATER_HOME": home}
        out = subprocess.run(
            [sys.executable, "-m", "bench.scenarios", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        )
        return json.loads(out.stdout.strip().splitlines()[-1])


def _cache_hits(n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="headwater-bench-") as home:
        env = {**os.environ, "HEADWATER_HOME": home}
        for phase in ("fill", "hit"):  # the hits run in a fresh process: payloads come from the store
            out = subprocess.run(
                [sys.executable, "-m", "bench.scenarios", "cache_hits", str(n), phase],
                cwd=ROOT, env=env, check=True, capture_output=True, text=True,
            )
        return json.loads(out.stdout.strip().splitlines()[-1])


def _import_time(runs: int = 7) -> dict:
    """Median of ``python -X importtime -c 'import headwater'`` totals, beside ``import json``."""

    def total(module: str) -> float:
        err = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True, check=True
        ).stderr
        pattern = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)")
        return sum(int(m.group(1)) for m in pattern.finditer(err) if m.group(2) == "") / 1e6

    return {
        "headwater_s": statistics.median(total("headwater") for _ in range(runs)),
        "baseline_s": statistics.median(total("json") for _ in range(runs)),
    }


def _cold_start(runs: int = 5) -> dict:
    """A whole ``python script.py`` running a one-task flow, beside ``python -c pass``."""
    script = "from headwater import flow, task\n@task\ndef t(): return 1\n@flow\ndef f(): return t()\nf()\n"

    def wall(args: list[str]) -> float:
        with tempfile.TemporaryDirectory(prefix="headwater-bench-") as home:
            path = os.path.join(home, "script.py")
            with open(path, "w") as f:
                f.write(script)
            env = {**os.environ, "HEADWATER_HOME": home}
            start = time.perf_counter()
            subprocess.run([sys.executable, *(args or [path])], env=env, check=True, capture_output=True)
            return time.perf_counter() - start

    return {
        "headwater_s": statistics.median(wall([]) for _ in range(runs)),
        "baseline_s": statistics.median(wall(["-c", "pass"]) for _ in range(runs)),
    }


def _row(name: str, unit: str, result: dict, baseline: str) -> str:
    scale = {"us": 1e6, "ms": 1e3}[unit]
    ours, base = result["headwater_s"] * scale, result["baseline_s"] * scale
    ratio = ours / base if base else float("inf")
    return f"| {name} | {ours:,.1f} {unit} | {base:,.3f} {unit} ({baseline}) | {ratio:,.0f}x |"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    n = 1_000 if args.quick else 10_000

    print(f"headwater benchmarks on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print()
    print("| scenario | headwater | baseline | ratio |")
    print("|---|---|---|---|")
    direct = _scenario("direct", str(n))
    print(_row(f"direct call, {n:,} tasks, all persisted, per task", "us", direct, "plain call"))
    for runner in ("concurrent", "sequential"):
        print(_row(f"submitted, {runner} runner, per task", "us", _scenario("submitted", str(n), runner),
                   "thread pool" if runner == "concurrent" else "plain call"))
    print(_row("cache hit (fresh process), per task", "us", _cache_hits(n), "plain call"))
    print(_row("empty flow run", "ms", _scenario("flow_runs", str(n // 10)), "plain call"))
    print(_row("import headwater", "ms", _import_time(), "import json"))
    print(_row("cold start, one-task flow script", "ms", _cold_start(), "python -c pass"))
    print()
    print("Scale: the direct-call flow at three sizes (the cost of a task must not grow with the flow).")
    print()
    print("| tasks | per task | peak RSS | database per task run |")
    print("|---|---|---|---|")
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    for size in sizes:
        result = direct if size == n else _scenario("direct", str(size))
        print(f"| {size:,} | {result['headwater_s'] * 1e6:,.1f} us | {result['peak_rss_mb']:.0f} MB | {result['db_bytes_per_task']:,.0f} bytes |")


if __name__ == "__main__":
    main()
