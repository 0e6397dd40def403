"""The PostgreSQL store beside the SQLite store: per-task overhead of the same flows, in one run.

    python -m bench.postgres                   # 10,000 tasks a scenario, three rounds
    python -m bench.postgres --tasks 2000      # smaller
    python -m bench.postgres --url postgresql://user@host/db   # a server of your own (a superuser: databases are made)

Runs ``bench.scenarios`` (the direct-call flow, and cache hits read back in a fresh process)
on each store in turn, in fresh processes, rounds interleaved so that both see the same machine.
Without ``--url`` a throwaway local server is started (``headwater_postgres.testing``), with fsync
off: the figures say what a local server costs in CPU and round trips, not in disk flushes. Needs
``pip install -e plugins/postgres_store`` and PostgreSQL's binaries. Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
from typing import Iterator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_numbers = itertools.count()


@contextlib.contextmanager
def _server(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    from headwater_postgres.testing import throwaway_server

    with throwaway_server() as started:
        yield started


def _database(server: str) -> str:
    import psycopg

    name = f"bench_{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + "/" + name


def _scenario(env: dict[str, str], *args: str) -> float:
    out = subprocess.run([sys.executable, "-m", "bench.scenarios", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["headwater_s"] * 1e6


def _measure(store: str, server: str, tasks: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="headwater-bench-pg-") as home:
        env = {**os.environ, "HEADWATER_HOME": home, "BENCH_FRAMEWORK": "headwater", "HEADWATER_PROGRESS": "off"}
        if store == "postgres":
            env.update(HEADWATER_STORE="postgres", HEADWATER_DATABASE_URL=_database(server))
        direct = _scenario(env, "direct", str(tasks))
        _scenario(env, "cache_hits", str(tasks), "fill")
        hits = _scenario(env, "cache_hits", str(tasks), "hit")
        return {"direct call, per task": direct, "cache hit (fresh process), per task": hits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", help="a PostgreSQL superuser's URL (default: start a throwaway server)")
    args = parser.parse_args()
    figures: dict[str, dict[str, list[float]]] = {"sqlite": {}, "postgres": {}}
    with _server(args.url) as server:
        for _ in range(args.rounds):
            for store in ("sqlite", "postgres"):
                for name, value in _measure(store, server, args.tasks).items():
                    figures[store].setdefault(name, []).append(value)
    print(f"\nPer-task overhead, {args.tasks:,} tasks a scenario, median of {args.rounds} rounds\n")
    print("| scenario | postgres | sqlite (baseline) | ratio |")
    print("|---|---|---|---|")
    for name in figures["sqlite"]:
        pg, lite = statistics.median(figures["postgres"][name]), statistics.median(figures["sqlite"][name])
        print(f"| {name} | {pg:.1f} us | {lite:.1f} us | {pg / lite:.2f}x |")


if __name__ == "__main__":
    main()
