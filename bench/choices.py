"""What the options a user picks cost: the direct-call flow of ``python -m bench``, one choice changed at a time.

    python -m bench.choices           # 10,000 tasks a choice
    python -m bench.choices --quick   # 1,000

Each choice runs in a fresh process with its own HEADWATER_HOME, as a flow of n
direct calls of a trivial task with every record committed before the flow
returns; the figure is µs a task. The first row is the defaults (INFO logging to
stderr, read here through a pipe; the store's batches committed in the writer's
child process), and each other row says how much more, or less, one choice costs
beside it. The defaults are measured again at the end: the two figures show how
far the machine drifted during the run. These are benchmarks, not tests.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: name -> (what it is, the task's options, extra environment, what the task body does)
CHOICES: dict[str, tuple[str, dict, dict, str]] = {
    "defaults": ("the defaults", {}, {}, "return"),
    "syscall": ("the task makes one system call (os.stat), as most real task bodies do", {}, {}, "stat"),
    "warning": ("HEADWATER_LOGGING_LEVEL=WARNING (no INFO lines)", {}, {"HEADWATER_LOGGING_LEVEL": "WARNING"}, "return"),
    "thread": ("HEADWATER_STORE_WRITER=thread", {}, {"HEADWATER_STORE_WRITER": "thread"}, "return"),
    "persist": ("persist_result=True (each result stored)", {"persist_result": True}, {}, "return"),
    "cache_miss": ("cache_key_fn=task_input_hash, every call a miss (entry filed)", {"cache_key_fn": "task_input_hash"}, {}, "return"),
    "retries": ("retries=2, retry_delay_seconds=1 (none needed)", {"retries": 2, "retry_delay_seconds": 1}, {}, "return"),
    "tags": ("tags={'etl', 'nightly'}", {"tags": {"etl", "nightly"}}, {}, "return"),
    "run_logger": ("the task logs a line with get_run_logger()", {}, {}, "log"),
    "log_prints": ("log_prints=True, the task prints a line", {"log_prints": True}, {}, "print"),
}


def run_one(name: str, n: int) -> dict:
    """In this process: the flow of ``n`` direct calls with choice ``name``; µs a task."""
    from headwater import flow, get_run_logger, task
    from headwater.tasks import task_input_hash

    _, options, _, body = CHOICES[name]
    if options.get("cache_key_fn") == "task_input_hash":
        options = {**options, "cache_key_fn": task_input_hash}

    @task(**options)
    def trivial(x):
        if body == "log":
            get_run_logger().info("adding one to %d", x)
        elif body == "stat":
            os.stat(ROOT)  # lets go of the GIL, as file, network and database calls do
        elif body == "print":
            print("adding one to", x)
        return x + 1

    @flow
    def many(start, n):
        for i in range(start, start + n):
            trivial(i)

    many(-10, 10)  # warm up: plugins, store, schema (inputs apart from the measured ones: no cache hit)
    begin = time.perf_counter()
    many(0, n)  # returns after every record is committed
    return {"per_task_s": (time.perf_counter() - begin) / n}


def _measure(name: str, n: int) -> float:
    _, _, env, _ = CHOICES[name]
    with tempfile.TemporaryDirectory(prefix="headwater-bench-") as home:
        environ = {**os.environ, "HEADWATER_HOME": home, **env}
        environ.pop("PYTHONDONTWRITEBYTECODE", None)  # as a user's machine runs it: with bytecode caches
        out = subprocess.run(
            [sys.executable, "-m", "bench.choices", "--one", name, str(n)],
            cwd=ROOT, env=environ, check=True, capture_output=True, text=True,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])["per_task_s"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.choices")
    parser.add_argument("--quick", action="store_true", help="1,000 tasks a choice, for a smoke run")
    parser.add_argument("--one", nargs=2, metavar=("CHOICE", "N"), help=argparse.SUPPRESS)  # a child's run
    args = parser.parse_args()
    if args.one:
        name, n = args.one
        print(json.dumps(run_one(name, int(n))))
        return

    n = 1_000 if args.quick else 10_000
    print(f"What each choice costs: a flow of {n:,} direct calls of a trivial task, µs a task")
    print()
    print("| choice | per task | beside the defaults |")
    print("|---|---|---|")
    defaults = _measure("defaults", n)
    print(f"| {CHOICES['defaults'][0]} | {defaults * 1e6:,.1f} us | |")
    for name, (label, *_rest) in CHOICES.items():
        if name == "defaults":
            continue
        figure = _measure(name, n)
        print(f"| {label} | {figure * 1e6:,.1f} us | {(figure - defaults) * 1e6:+,.1f} us |")
    again = _measure("defaults", n)
    print(f"| the defaults, measured again last | {again * 1e6:,.1f} us | {(again - defaults) * 1e6:+,.1f} us |")


if __name__ == "__main__":
    main()
