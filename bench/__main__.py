"""Run headwater's benchmarks and print one table: scenario, headwater, baseline, ratio.

    python -m bench            # the standard sizes
    python -m bench --quick    # small sizes, a smoke run
    python -m bench --prefect  # also measure Prefect, installed into bench/.prefect-venv

Each scenario runs in a fresh process with its own HEADWATER_HOME, and measures
its baseline in that same process. These are benchmarks, not tests: nothing
here passes or fails. Prefect is never a dependency of headwater: ``--prefect``
installs it into a virtual environment of its own, and runs the same scenario
code there (``BENCH_FRAMEWORK=prefect``).
"""

from __future__ import annotations

import argparse
import dataclasses
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
PREFECT_VENV = os.path.join(ROOT, "bench", ".prefect-venv")


@dataclasses.dataclass(frozen=True)
class Framework:
    """How to run a scenario for one framework: its Python, its package and its environment."""

    name: str
    python: str
    package: str

    def env(self, home: str) -> dict[str, str]:
        env = {**os.environ, "HEADWATER_HOME": home, "BENCH_FRAMEWORK": self.name}
        # Measured as a user's machine runs it: with bytecode caches. Without them (this variable is
        # set in some sandboxes) each start compiles every module of an editable install from source.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if self.name == "prefect":
            env.update(PREFECT_HOME=home, PREFECT_SERVER_ANALYTICS_ENABLED="false", PREFECT_LOGGING_LEVEL="INFO")
        return env

    def run(self, args: list[str], home: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [self.python, *args], cwd=ROOT, env=self.env(home), check=True, capture_output=True, text=True
        )


HEADWATER = Framework("headwater", sys.executable, "headwater")


def _prefect() -> Framework:
    python = os.path.join(PREFECT_VENV, "bin", "python")
    if not os.path.exists(python):
        print(f"installing Prefect into {PREFECT_VENV} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", PREFECT_VENV], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "prefect"], check=True)
    return Framework("prefect", python, "prefect")


def _scenario(framework: Framework, *args: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="headwater-bench-") as home:
        out = framework.run(["-m", "bench.scenarios", *args], home)
        return json.loads(out.stdout.strip().splitlines()[-1])


def _cache_hits(framework: Framework, n: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="headwater-bench-") as home:
        for phase in ("fill", "hit"):  # the hits run in a fresh process: payloads come from the store
            out = framework.run(["-m", "bench.scenarios", "cache_hits", str(n), phase], home)
        return json.loads(out.stdout.strip().splitlines()[-1])


def _import_time(framework: Framework, runs: int = 7) -> dict:
    """Median of ``python -X importtime -c 'import <package>'`` totals, beside ``import json``."""

    def total(module: str) -> float:
        with tempfile.TemporaryDirectory(prefix="headwater-bench-") as home:
            err = framework.run(["-X", "importtime", "-c", f"import {module}"], home).stderr
        pattern = re.compile(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)")
        return sum(int(m.group(1)) for m in pattern.finditer(err) if m.group(2) == "") / 1e6

    return {
        "headwater_s": statistics.median(total(framework.package) for _ in range(runs)),
        "baseline_s": statistics.median(total("json") for _ in range(runs)),
    }


def _cold_start(framework: Framework, runs: int = 5) -> dict:
    """A whole ``python script.py`` running a one-task flow, beside ``python -c pass``."""
    script = f"from {framework.package} import flow, task\n@task\ndef t(): return 1\n@flow\ndef f(): return t()\nf()\n"

    def wall(args: list[str]) -> float:
        with tempfile.TemporaryDirectory(prefix="headwater-bench-") as home:
            path = os.path.join(home, "script.py")
            with open(path, "w") as f:
                f.write(script)
            start = time.perf_counter()
            framework.run(args or [path], home)
            return time.perf_counter() - start

    return {
        "headwater_s": statistics.median(wall([]) for _ in range(runs)),
        "baseline_s": statistics.median(wall(["-c", "pass"]) for _ in range(runs)),
    }


def _measure(framework: Framework, n: int) -> dict[str, dict]:
    """Scenarios 1 to 5 for one framework, keyed by scenario name."""
    results = {"direct": _scenario(framework, "direct", str(n))}
    for runner in ("concurrent", "sequential"):
        if framework.name == "prefect" and runner == "sequential":
            continue  # Prefect 3 has no sequential runner
        results[f"submitted {runner}"] = _scenario(framework, "submitted", str(n), runner)
    results["cache hit"] = _cache_hits(framework, n)
    results["flow run"] = _scenario(framework, "flow_runs", str(max(n // 10, 10)))
    results["import"] = _import_time(framework)
    results["cold start"] = _cold_start(framework)
    return results


LABELS = {
    "direct": ("direct call, all persisted, per task", "us", "plain call"),
    "submitted concurrent": ("submitted, concurrent runner, per task", "us", "thread pool"),
    "submitted sequential": ("submitted, sequential runner, per task", "us", "plain call"),
    "cache hit": ("cache hit (fresh process), per task", "us", "plain call"),
    "flow run": ("empty flow run", "ms", "plain call"),
    "import": ("import", "ms", "import json"),
    "cold start": ("cold start, one-task flow script", "ms", "python -c pass"),
}
SCALE = {"us": 1e6, "ms": 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--prefect", action="store_true", help="also measure Prefect (installed into bench/.prefect-venv)")
    args = parser.parse_args()
    n = 1_000 if args.quick else 10_000

    print(f"headwater benchmarks on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"({n:,} tasks a scenario where it counts tasks)")
    print()
    print("| scenario | headwater | baseline | ratio |")
    print("|---|---|---|---|")
    ours = _measure(HEADWATER, n)
    for key, result in ours.items():
        label, unit, baseline = LABELS[key]
        mine, base = result["headwater_s"] * SCALE[unit], result["baseline_s"] * SCALE[unit]
        ratio = f"{mine / base:,.0f}x" if base else "-"
        print(f"| {label} | {mine:,.1f} {unit} | {base:,.3f} {unit} ({baseline}) | {ratio} |")

    print()
    print("Scale: the direct-call flow at three sizes (the cost of a task must not grow with the flow).")
    print()
    print("| tasks | per task | peak RSS (flow and writer processes) | database per task run |")
    print("|---|---|---|---|")
    direct = ours["direct"]
    for size in (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000):
        result = direct if size == n else _scenario(HEADWATER, "direct", str(size))
        print(f"| {size:,} | {result['headwater_s'] * 1e6:,.1f} us | {result['peak_rss_mb']:.0f} MB | {result['db_bytes_per_task']:,.0f} bytes |")

    if args.prefect:
        prefect = _prefect()
        version = subprocess.run([prefect.python, "-c", "import prefect; print(prefect.__version__)"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        # Prefect's figures come from fewer tasks: at its cost per task the standard sizes take many minutes.
        theirs = _measure(prefect, max(n // 20, 100))
        print()
        print(f"Beside Prefect {version} (same machine, same run, same scenario code; Prefect with {max(n // 20, 100):,} tasks a scenario):")
        print()
        print("| scenario | headwater | Prefect | Prefect / headwater |")
        print("|---|---|---|---|")
        for key, result in theirs.items():
            label, unit, _ = LABELS[key]
            mine, other = ours[key]["headwater_s"] * SCALE[unit], result["headwater_s"] * SCALE[unit]
            print(f"| {label} | {mine:,.1f} {unit} | {other:,.1f} {unit} | {other / mine:,.0f}x |")


if __name__ == "__main__":
    main()
