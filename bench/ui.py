"""How fast the web UI (``headwater ui``) answers on a large record, in its API, in Chromium, and idle.

    python -m bench.ui                        # 100,000 flow runs with 10 task runs each (a few minutes to fill)
    python -m bench.ui --flows 20000          # a smaller record
    python -m bench.ui --home DIR             # keep the record in DIR and reuse it on the next run

The record is bench/browse.py's (written by its FILL: five flow names, tags, one run in ten
Failed), plus one flow run of 10,000 task runs written by a real flow: chains of ten
``.submit()`` calls on the concurrent runner, each taking the one before's future, so its
task graph has 9,000 edges, and a log line for every tenth task run. Three measurements, each
beside a baseline measured in the same run:

1. The requests the runs page makes (``/api/flow-runs`` under each filter, with the
   ``/api/flow-run-counts`` and ``/api/flow-run-histogram`` it asks for beside), timed in
   process through the ASGI app, median of repeated requests on a warm cache. Baseline: plain
   sqlite3 reading the ids of the newest 50 runs (as bench/browse.py). Aim: under 100 ms.
2. The run page of the 10,000-task-run flow run: its four API requests, and their sizes
   (baseline: plain sqlite3 reading that run's task-run rows and their states; aim: under
   300 ms), then the page itself in Chromium served by ``headwater ui``, from navigation start
   to ``main[data-ready=true]`` (baseline: the same browser loading a page of 10,000 plain
   <div> rows; aim: under 2 s).
3. ``headwater ui`` idle: CPU over 10 s with no page open, and RSS before and after serving the
   10,000-task-run page (baseline: an idle ``python -c "import time; time.sleep(60)"``; aim:
   no CPU while idle, RSS under 150 MB).

These are benchmarks, not tests.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from typing import Any, Callable

from bench.browse import FILL, _median_ms

WIDE = textwrap.dedent(
    """
    import sys
    from headwater import flow, get_run_logger, task

    task_runs, chain = int(sys.argv[1]), 10

    @task
    def step(n: int, upstream: int = 0) -> int:
        if n % chain == 0:
            get_run_logger().warning("step %d starts a chain", n)
        return n + upstream

    @flow(name="wide", flow_run_name="wide-{task_runs}-task-runs")
    def wide(task_runs: int) -> int:
        last, ends = None, []
        for n in range(task_runs):
            last = step.submit(n) if n % chain == 0 else step.submit(n, last)  # the future: an edge
            if n % chain == chain - 1:
                ends.append(last)
        return sum(end.result() for end in ends)

    wide(task_runs)
    """
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
# Runs before the page's own script: notes the moment main[data-ready] is set (performance.now()
# counts from navigation start), then the end of the first frame drawn after it (layout and paint).
READY_OBSERVER = """
new MutationObserver((_, observer) => {
  const main = document.getElementById("main");
  if (!main || !main.dataset.ready) return;
  observer.disconnect();
  window.__readyAt = performance.now();
  window.__readyAs = main.dataset.ready;
  requestAnimationFrame(() => setTimeout(() => { window.__drawnAt = performance.now(); }));
}).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-ready"] });
"""
IDLE_SECONDS = 10
LOADS = 3


# -- 1. the runs page's requests ---------------------------------------------------------------


class InProcessApi:
    """The UI's ASGI app called through httpx, no socket: what a request costs the server."""

    def __init__(self, store: Any) -> None:
        import httpx

        from headwater_ui.app import create_app

        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(store)), base_url="http://127.0.0.1")

    def get(self, path: str, params: Any = None) -> bytes:
        response = self.loop.run_until_complete(self.client.get(path, params=params))
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} {params}: {response.status_code} {response.text[:300]}")
        return response.content

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()


def runs_page_table(api: InProcessApi, store: Any, raw: sqlite3.Connection) -> None:
    from headwater.stores import FlowRunQuery

    flow_runs, task_runs = (raw.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("flow_runs", "task_runs"))
    baseline = _median_ms(lambda: raw.execute("SELECT id FROM flow_runs ORDER BY created DESC LIMIT 50").fetchall())
    newest = store.query_flow_runs(FlowRunQuery(), limit=1)[0]
    oldest = store.query_flow_runs(FlowRunQuery(), limit=1, offset=flow_runs - 1)[0]
    recent = newest.created - (newest.created - oldest.created) / 10
    offset = min(50_000, flow_runs // 2)

    filters: list[tuple[str, list[tuple[str, str]]]] = [
        ("first page, no filter", []),
        ("flow_name=pipeline-3", [("flow_name", "pipeline-3")]),
        ("state=FAILED", [("state", "FAILED")]),
        ("tag=big", [("tag", "big")]),
        ("tag=no-such-tag (no run has it)", [("tag", "no-such-tag")]),
        ("since=last tenth of the range", [("since", recent.isoformat())]),
        ("all combined (pipeline-4, FAILED, nightly, since)",
         [("flow_name", "pipeline-4"), ("state", "FAILED"), ("tag", "nightly"), ("since", recent.isoformat())]),
        (f"offset={offset:,}", []),
    ]
    print(f"\n1. The runs page's requests on {flow_runs:,} flow runs and {task_runs:,} task runs "
          "(server time in process, median of 15, warm cache; aim: under 100 ms)\n")
    print("| filter | /api/flow-runs | /api/flow-run-counts | /api/flow-run-histogram | baseline | slowest / baseline |")
    print("|---|---|---|---|---|---|")
    for label, params in filters:
        page = [*params, ("limit", "50"), ("offset", str(offset if label.startswith("offset") else 0))]
        took = [
            _median_ms(lambda: api.get("/api/flow-runs", page)),
            _median_ms(lambda: api.get("/api/flow-run-counts", params)),
            _median_ms(lambda: api.get("/api/flow-run-histogram", params)),
        ]
        cells = " | ".join(f"{t:.2f} ms" for t in took)
        print(f"| {label} | {cells} | {baseline:.3f} ms (sqlite3, ids of a page) | {max(took) / baseline:,.0f}x |", flush=True)


# -- 2. the run page of 10,000 task runs: its API ---------------------------------------------------


def wide_run(store: Any, task_runs: int) -> Any:
    """The flow run of ``task_runs`` task runs, written now by WIDE unless the record has it."""
    from headwater.stores import FlowRunQuery

    name = f"wide-{task_runs}-task-runs"

    def find() -> Any:
        return next((r for r in store.query_flow_runs(FlowRunQuery(flow_name="wide"), limit=100) if r.name == name), None)

    found = find()
    if found is None:
        print(f"Writing a flow run of {task_runs:,} task runs ...", flush=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", WIDE, str(task_runs)], check=True, stderr=subprocess.DEVNULL)
        print(f"  written in {time.perf_counter() - start:.1f} s", flush=True)
        found = find()
    return found


def run_page_api_table(api: InProcessApi, raw: sqlite3.Connection, run: Any, task_runs: int) -> None:
    def read_rows() -> None:
        raw.execute("SELECT * FROM task_runs WHERE flow_run_id = ?", (run.id,)).fetchall()
        raw.execute("SELECT * FROM states WHERE run_id IN (SELECT id FROM task_runs WHERE flow_run_id = ?)", (run.id,)).fetchall()

    baseline = _median_ms(read_rows, repeat=5)
    print(f"\n2a. The run page's API on a flow run of {task_runs:,} task runs "
          "(server time in process, median of 5; aim: under 300 ms for the page)\n")
    print("| request | headwater | response | baseline | ratio |")
    print("|---|---|---|---|---|")
    total = 0.0
    for path in ("", "/task-runs", "/graph", "/logs"):
        url = f"/api/flow-runs/{run.id}{path}"
        size = len(api.get(url))
        took = _median_ms(lambda: api.get(url), repeat=5)
        total += took
        print(f"| /api/flow-runs/{{id}}{path} | {took:.1f} ms | {size / 1e6:.2f} MB | "
              f"{baseline:.1f} ms (sqlite3, the run's task-run and state rows) | {took / baseline:,.2f}x |", flush=True)
    print(f"| the four, one after another | {total:.1f} ms | | {baseline:.1f} ms | {total / baseline:,.1f}x |")


# -- 2b and 3. `headwater ui` in a process of its own, Chromium, idle --------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, every thread of it."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status(pid: int, key: str) -> int:
    """A field of /proc/PID/status: VmRSS and VmHWM in kB, Threads a count."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))


def memory(ui: subprocess.Popen, sleeper: subprocess.Popen, key: str = "VmRSS") -> tuple[float, float, int]:
    """MB of the UI and of the sleeper, and the UI's threads (each reads through a store connection of its own)."""
    return status(ui.pid, key) / 1024, status(sleeper.pid, key) / 1024, status(ui.pid, "Threads")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def load(browser: Any, url: str, rows: str = "#timeline .timeline-row", route: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """One navigation in a fresh context (nothing cached): ms to ready and to the first frame after, and the rows drawn."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    try:
        context.add_init_script(READY_OBSERVER)
        page = context.new_page()
        if route is not None:
            page.route(url, route)
        page.goto(url, wait_until="commit")
        page.wait_for_selector("main[data-ready]", timeout=120_000)
        # Polled from here: the UI's CSP forbids the eval page.wait_for_function needs.
        while (marks := page.evaluate("[window.__readyAt, window.__readyAs, window.__drawnAt]"))[2] is None:
            page.wait_for_timeout(20)
        ready, ready_as, drawn = marks
        # When the last answer the page draws from came in (every /api/ request but the logs, asked for after drawing).
        answered = page.evaluate("""Math.max(0, ...performance.getEntriesByType("resource")
            .filter((e) => e.name.includes("/api/") && !e.name.includes("/logs")).map((e) => e.responseEnd))""")
        if ready_as != "true":
            raise RuntimeError(f"{url} was drawn as {ready_as!r}: {page.inner_text('main')[:300]}")
        return {"ready": ready, "drawn": drawn, "answered": answered, "rows": page.locator(rows).count()}
    finally:
        context.close()


def static_rows_page(rows: int) -> str:
    body = "".join(f"<div class=row>step-{n:05d} completed</div>" for n in range(rows))
    # Marked ready once every row is parsed, as the UI marks its page once it is built: READY_OBSERVER times both.
    script = "<script>document.getElementById('main').dataset.ready = 'true';</script>"
    return f"<!doctype html><html><head><meta charset=utf-8><title>rows</title></head><body><main id=main>{body}</main>{script}</body></html>"


def browser_and_idle_tables(run: Any, task_runs: int) -> None:
    from playwright.sync_api import sync_playwright

    ui = subprocess.Popen([sys.executable, "-m", "headwater.cli", "ui", "--port", "0"], stdout=subprocess.PIPE, text=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert ui.stdout is not None
        line = ui.stdout.readline()
        found = re.search(r"http://\S+", line)
        if not found:
            raise RuntimeError(f"headwater ui printed {line!r}")
        url = found.group(0).rstrip("/")
        rss: dict[str, tuple[float, float, int]] = {}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            load(browser, url + "/")  # the one page served before idling: the runs list
            rss["after one page (the runs list)"] = memory(ui, sleeper)

            cpu_before = (cpu_seconds(ui.pid), cpu_seconds(sleeper.pid))
            time.sleep(IDLE_SECONDS)  # no page open: the context above is closed
            idle_cpu = (cpu_seconds(ui.pid) - cpu_before[0], cpu_seconds(sleeper.pid) - cpu_before[1])

            run_page = []
            for n in range(1, LOADS + 1):
                run_page.append(load(browser, f"{url}/flow-runs/{run.id}"))
                if n in (1, LOADS):  # growing from the first to the last would be a leak, not a high-water mark
                    rss[f"after the {task_runs:,}-task-run page, x{n}"] = memory(ui, sleeper)
            rss["peak (VmHWM)"] = memory(ui, sleeper, "VmHWM")

            static_url = url + "/bench-static-rows"  # answered by the route below, never by the UI
            html = static_rows_page(task_runs)
            plain = [load(browser, static_url, "div.row", lambda route: route.fulfill(body=html, content_type="text/html")) for _ in range(LOADS)]
            browser.close()
    finally:
        stop(ui)
        sleeper.kill()
        sleeper.wait()

    def median(loads: list[dict[str, Any]], key: str) -> float:
        return statistics.median(one[key] for one in loads)

    print(f"\n2b. The run page of {task_runs:,} task runs in Chromium, served by `headwater ui` "
          f"(from navigation start, median of {LOADS}, fresh context each; aim: under 2 s to ready)\n")
    print("| measure | headwater | baseline | ratio |")
    print("|---|---|---|---|")
    for key, label in (("ready", "to main[data-ready=true]"), ("drawn", "to the end of the first frame after")):
        took, base = median(run_page, key), median(plain, key)
        print(f"| {label} | {took:,.0f} ms | {base:,.0f} ms (a page of {task_runs:,} plain <div> rows) | {took / base:,.1f}x |")
    print(f"| of which waiting for the API (its last answer the page draws from) | {median(run_page, 'answered'):,.0f} ms | - | |")
    rows = sorted({one["rows"] for one in run_page})
    print(f"| #timeline .timeline-row drawn | {', '.join(f'{r:,}' for r in rows)} | {median(plain, 'rows'):,.0f} <div> rows | |")

    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    print(f"\n3. `headwater ui` idle and its memory (CPU from /proc, in {tick_ms:.0f} ms ticks; aim: no CPU while idle, RSS under 150 MB)\n")
    print("| measure | headwater ui | baseline | ratio |")
    print("|---|---|---|---|")
    print(f"| CPU over {IDLE_SECONDS} s idle, no page open | {idle_cpu[0] * 1000:.0f} ms | "
          f"{idle_cpu[1] * 1000:.0f} ms (python sleeping) | |")
    for label, (mine, base, threads) in rss.items():
        print(f"| RSS {label} | {mine:.0f} MB ({threads} threads) | {base:.0f} MB (python sleeping) | {mine / base:.1f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flows", type=int, default=100_000)
    parser.add_argument("--tasks", type=int, default=10, help="task runs a flow run of the runs list")
    parser.add_argument("--wide", type=int, default=10_000, help="task runs of the one large flow run")
    parser.add_argument("--home", help="keep the record here (reused when it already holds one)")
    args = parser.parse_args()

    home = args.home or tempfile.mkdtemp(prefix="headwater-bench-ui-")
    os.environ["HEADWATER_HOME"] = home  # the UI subprocess and the fill inherit it
    os.environ["HEADWATER_PROGRESS"] = "off"
    os.environ["HEADWATER_LOGGING_LEVEL"] = "WARNING"
    database = os.path.join(home, "headwater.db")
    if not os.path.exists(database):
        print(f"Filling {home} with {args.flows:,} flow runs x {args.tasks} task runs ...", flush=True)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", FILL, str(args.flows), str(args.tasks)], check=True, stderr=subprocess.DEVNULL)
        print(f"  filled in {time.perf_counter() - start:.0f} s", flush=True)

    from headwater.stores import get_store

    store = get_store()
    run = wide_run(store, args.wide)  # first: the runs list is then measured on the record the UI shows
    raw = sqlite3.connect(database)
    api = InProcessApi(store)
    try:
        runs_page_table(api, store, raw)
        run_page_api_table(api, raw, run, args.wide)
    finally:
        api.close()
    browser_and_idle_tables(run, args.wide)


if __name__ == "__main__":
    main()
