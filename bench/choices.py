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

from bench.__main__ import HEADWATER, _scenario

#: name -> (what it is, the task's options, extra environment, what the task body does); run by bench.scenarios.choice
CHOICES: dict[str, tuple[str, dict, dict, str]] = {
    "defaults": ("the defaults", {}, {}, "return"),
    "syscall": ("the task makes one system call (os.stat), as most real task bodies do", {}, {}, "stat"),
    "warning": ("HEADWATER_LOGGING_LEVEL=WARNING (no INFO lines)", {}, {"HEADWATER_LOGGING_LEVEL": "WARNING"}, "return"),
    "thread": ("HEADWATER_STORE_WRITER=thread", {}, {"HEADWATER_STORE_WRITER": "thread"}, "return"),
    "strict": (
        "HEADWATER_STORE_DURABILITY=strict (each result committed before it is handed back)", {},
        {"HEADWATER_STORE_DURABILITY": "strict"}, "return",
    ),
    "persist": ("persist_result=True (each result stored)", {"persist_result": True}, {}, "return"),
    "cache_miss": ("cache_key_fn=task_input_hash, every call a miss (entry filed)", {"cache_key_fn": "task_input_hash"}, {}, "return"),
    "retries": ("retries=2, retry_delay_seconds=1 (none needed)", {"retries": 2, "retry_delay_seconds": 1}, {}, "return"),
    "tags": ("tags={'etl', 'nightly'}", {"tags": {"etl", "nightly"}}, {}, "return"),
    "run_logger": ("the task logs a line with get_run_logger()", {}, {}, "log"),
    "log_prints": ("log_prints=True, the task prints a line", {"log_prints": True}, {}, "print"),
}


def _measure(name: str, n: int) -> float:
    return _scenario(HEADWATER, "choice", str(n), name)["headwater_s"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.choices")
    parser.add_argument("--quick", action="store_true", help="1,000 tasks a choice, for a smoke run")
    args = parser.parse_args()
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
