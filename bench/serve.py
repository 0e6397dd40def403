"""How promptly a served flow starts, and what the serving process costs while it waits.

    python -m bench.serve              # 100 runs at a one-second interval (about 100 s)
    python -m bench.serve --runs 20    # a shorter run

``headwater serve`` runs a trivial flow every second in a fresh HEADWATER_HOME. For each run,
the delay is the time from its due time (its Scheduled state's message) to its Running state,
which includes starting the run's child process. The baseline, measured in the same run, is a
plain-Python scheduler: sleep until the due time, then start ``python -c`` that reads the clock
(the floor any scheduler that starts a process a run pays). The serving process's CPU (user
and system, from /proc) and RSS are read over a stretch with no run in progress. These are
benchmarks, not tests.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

FLOW = textwrap.dedent(
    """
    from headwater import flow

    @flow
    def tick():
        return 1
    """
)


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _baseline(runs: int) -> list[float]:
    """Plain Python: sleep until each whole second, start a process, read when its first line ran."""
    delays = []
    for _ in range(runs):
        due = int(time.time()) + 1
        time.sleep(max(0.0, due - time.time()))
        out = subprocess.run([sys.executable, "-c", "import time; print(time.time())"], capture_output=True, text=True).stdout
        delays.append(float(out) - due)
    return delays


def _served(runs: int, home: str) -> tuple[list[float], float, float]:
    env = {**os.environ, "HEADWATER_HOME": home}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with open(os.path.join(home, "flows.py"), "w") as file:
        file.write(FLOW)
    server = subprocess.Popen(
        [sys.executable, "-m", "headwater.cli", "serve", "flows.py:tick", "--interval", "1"],
        cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        # Idle cost: between two runs (a run takes about 0.2 s of each second here), three times.
        time.sleep(3.0)
        idle_cpu, idle_wall = 0.0, 0.0
        for _ in range(3):
            now = time.time()
            time.sleep((int(now) + 1.4) - now)  # 0.4 s after a due time: its run is done
            cpu, wall = _cpu_seconds(server.pid), time.monotonic()
            time.sleep(0.5)
            idle_cpu += _cpu_seconds(server.pid) - cpu
            idle_wall += time.monotonic() - wall
        rss = _rss_mb(server.pid)
        time.sleep(max(0, runs - 6) + 1)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(60)
    os.environ["HEADWATER_HOME"] = home
    from headwater.client import get_client

    client = get_client()
    delays = []
    for run in client.read_flow_runs(limit=10_000):
        history = client.read_state_history(run.id)
        if not history or not (history[0].message or "").startswith("Due at "):
            continue
        due = _dt.datetime.fromisoformat(history[0].message[len("Due at "):-1])
        running = next((s.timestamp for s in history if s.type.value == "RUNNING"), None)
        if running is not None:
            delays.append((running - due).total_seconds())
    return delays, idle_cpu / idle_wall, rss


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("--runs", type=int, default=100, help="how many runs to serve (one a second)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        served, idle_cpu, rss = _served(args.runs, home)
    base = _baseline(min(args.runs, 20))
    ms = lambda values, f: f"{f(values) * 1000:.1f} ms"  # noqa: E731
    print(f"headwater serve at a 1 s interval: {len(served)} runs on {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print()
    print("| figure | headwater serve | baseline (plain Python: sleep, then start a process) |")
    print("|---|---|---|")
    print(f"| delay from due time to Running, median | {ms(served, statistics.median)} | {ms(base, statistics.median)} |")
    print(f"| delay, worst | {ms(served, max)} | {ms(base, max)} |")
    print(f"| serving process CPU while idle | {idle_cpu * 100:.2f} % of a core | - |")
    print(f"| serving process RSS | {rss:.0f} MB | - |")


if __name__ == "__main__":
    main()
