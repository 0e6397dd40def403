"""Fixtures of the UI's tests: a store filled by real flows, the app over it, a served UI, and Chromium.

Every test has a temporary HEADWATER_HOME of its own (headwater's pytest plugin), so the flows
write to a fresh SQLite store, and a ``headwater ui`` subprocess reads that same store.
"""

from __future__ import annotations

import re

import pytest

from headwater import tags
from ui_support import CHROMIUM_ARGS, _attempts, broken, chromium_path, hostile, shop, start_ui


@pytest.fixture
def filled(headwater_home):
    """Real runs in this test's store: ``shop`` (retries, a cache hit in the subflow, wait_for,
    logs at three levels, a subflow, a table artifact, tags), ``broken`` (Failed), ``hostile``."""
    _attempts.clear()
    with tags("nightly"):
        shop()
    broken(return_state=True)
    hostile()
    from headwater.stores import get_store

    store = get_store()
    store.flush()
    runs = {r.flow_name: r for r in store.read_flow_runs(limit=100)}
    return {"store": store, "runs": runs}


@pytest.fixture
def api(filled):
    from fastapi.testclient import TestClient

    from headwater_ui.app import create_app

    with TestClient(create_app(filled["store"])) as client:
        yield client


@pytest.fixture
def served(headwater_home):
    ui = start_ui()
    yield ui
    ui.stop()


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (Debian: apt-get install chromium); the browser tests drive it")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install -e 'plugins/ui[test]' installs Playwright")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.on("console", lambda message: page.errors.append(message.text) if message.type == "error" else None)
    outside: list[str] = []
    # Nothing the UI loads may come from anywhere but the UI itself.
    page.route(re.compile(r"^(?!http://(127\.0\.0\.1|localhost)[:/]).*"), lambda route: (outside.append(route.request.url), route.abort()))
    page.outside_requests = outside
    yield page
    context.close()


