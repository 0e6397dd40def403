"""Make the screenshots of docs/ui.md: a store written by real flows, the UI over it, Chromium.

    python plugins/ui/tools/screenshots.py            # writes docs/images/ui-*.png

Runs examples/tutorial_flow.py and a small ETL flow (retries, a failure, a subflow, a graph)
into a fresh HEADWATER_HOME, serves ``headwater ui`` over it on a free port, and photographs
the main pages in the machine's Chromium (Debian's ``chromium``) through Playwright.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "docs" / "images"
CHROMIUM = os.environ.get("HEADWATER_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

ETL = textwrap.dedent(
    """
    import time
    from headwater import flow, get_run_logger, tags, task

    tries = {}

    @task(retries=2, retry_delay_seconds=0.3)
    def extract(source: str) -> list[int]:
        tries[source] = tries.get(source, 0) + 1
        time.sleep(0.15)
        if source == "orders" and tries[source] < 3:
            raise ConnectionError("the orders API timed out")
        return list(range(5))

    @task
    def transform(rows: list[int]) -> list[int]:
        time.sleep(0.2)
        get_run_logger().info("transformed %d rows", len(rows))
        return [r * 2 for r in rows]

    @task
    def load(rows: list[int], table: str) -> int:
        time.sleep(0.1)
        get_run_logger().warning("loading %d rows into %s", len(rows), table)
        return len(rows)

    @flow
    def report(total: int) -> str:
        return f"{total} rows"

    @flow(name="nightly-etl", flow_run_name="etl-{day}")
    def etl(day: str) -> str:
        sources = [extract.submit(s) for s in ("orders", "customers", "stock")]
        cleaned = [transform.submit(s) for s in sources]
        loaded = [load.submit(c, "warehouse", wait_for=[sources[0]]) for c in cleaned]
        return report(sum(l.result() for l in loaded))

    @task
    def check() -> None:
        raise ValueError("3 rows have no customer")

    @flow(name="audit")
    def audit() -> None:
        check()

    with tags("nightly"):
        for day in ("2026-12-04", "2026-12-05", "2026-12-06"):
            tries.clear()
            etl(day)
    audit(return_state=True)
    """
)


def main() -> None:
    from playwright.sync_api import sync_playwright

    home = tempfile.mkdtemp(prefix="headwater-screenshots-")
    env = {**os.environ, "HEADWATER_HOME": home, "HEADWATER_PROGRESS": "off"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env, "check": True}
    subprocess.run([sys.executable, str(ROOT / "examples" / "tutorial_flow.py")], **quiet)
    subprocess.run([sys.executable, "-c", ETL], **quiet)
    ui = subprocess.Popen([sys.executable, "-m", "headwater.cli", "ui", "--port", "0"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        url = re.search(r"http://\S+", ui.stdout.readline()).group(0).rstrip("/")
        OUT.mkdir(parents=True, exist_ok=True)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860}, device_scale_factor=1)

            def shoot(path: str, name: str, full_page: bool = False) -> None:
                page.goto(url + path)
                page.wait_for_selector("main[data-ready=true]")
                page.screenshot(path=str(OUT / f"ui-{name}.png"), full_page=full_page)
                print(f"docs/images/ui-{name}.png  ({path})")

            shoot("/", "runs")
            page.click("a.run-link >> text=etl-2026-12-06")
            page.wait_for_selector("main[data-ready=true]")
            run_path = page.url[len(url):]
            shoot(run_path, "flow-run", full_page=True)
            page.locator("#timeline .timeline-row text.label").first.click()
            page.wait_for_selector("main[data-ready=true]")
            shoot(page.url[len(url):], "task-run")
            browser.close()
    finally:
        ui.terminate()
        ui.wait()


if __name__ == "__main__":
    main()
