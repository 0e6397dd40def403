"""The UI as a user sees it: ``headwater ui`` in a process of its own, driven in a real headless Chromium."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from playwright.sync_api import expect

from ui_support import HOSTILE, start_ui, wait_until


def ready(page, url):
    page.goto(url)
    page.wait_for_selector("main[data-ready=true]", timeout=15_000)
    return page


def test_from_the_runs_list_into_a_run_its_timeline_graph_and_a_task_run(filled, served, page):
    ready(page, served.url + "/")
    assert page.locator("#runs tbody tr").count() == 4
    assert page.locator("#counts").inner_text().startswith("4 flow runs")
    assert page.locator("#histogram rect.bar").count() >= 2  # completed and failed runs

    page.click("a.run-link >> text=" + filled["runs"]["shop"].name)
    page.wait_for_url("**/flow-runs/*")
    page.wait_for_selector("main[data-ready=true]")
    task_runs = filled["store"].read_task_runs(flow_run_id=filled["runs"]["shop"].id)
    rows = page.locator("#timeline .timeline-row")
    assert rows.count() == len(task_runs) == 5  # flaky, double, side_effect, add, and the cache hit
    flaky = page.locator("#timeline .timeline-row", has=page.locator("text=flaky"))
    assert flaky.locator("[data-kind=running]").count() == 3
    assert flaky.locator("[data-kind=retry-wait]").count() == 2
    assert page.locator("#timeline [data-kind=cached]").count() == 1
    assert page.locator("#graph path.edge").count() == 4
    assert page.locator("#graph .node").count() == 5
    assert page.locator("#subflows a.subflow-link").count() == 1
    expect(page.locator("#logs")).to_contain_text("adding 2 and 1")
    expect(page.locator("#logs")).to_contain_text("doubling 1")
    expect(page.locator(".artifact")).to_contain_text("apples")  # the table artifact

    # The log filters ask the API again: warnings and above only.
    page.select_option("#log-level", "30")
    expect(page.locator("#logs")).not_to_contain_text("doubling 1")
    expect(page.locator("#logs")).to_contain_text("adding 2 and 1")

    flaky.locator("text.label").click()
    page.wait_for_url("**/task-runs/*")
    page.wait_for_selector("main[data-ready=true]")
    history = page.locator(".history")
    expect(history.locator("tbody tr")).to_have_count(7)
    assert history.inner_text().count("AwaitingRetry") == 2 and "Retry 2 of 2" in history.inner_text()
    expect(page.locator("#result")).to_contain_text("not persisted")  # flaky keeps no result; test_api shows a shown one
    assert page.errors == [] and page.outside_requests == []


def test_filter_by_state_and_by_a_count(filled, served, page):
    ready(page, served.url + "/")
    page.check("input[name=state][value=FAILED]")
    page.click("#filters button[type=submit]")
    page.wait_for_url("**/?state=FAILED")
    page.wait_for_selector("main[data-ready=true]")
    names = page.locator("#runs a.run-link").all_inner_texts()
    assert names == [filled["runs"]["broken"].name]
    assert page.is_checked("input[name=state][value=FAILED]")
    ready(page, served.url + "/?tag=nightly")
    assert page.locator("#runs tbody tr").count() == 2
    page.click("#counts a[data-state=COMPLETED]")
    page.wait_for_url("**state=COMPLETED**")
    page.wait_for_selector("main[data-ready=true]")
    assert page.locator("#runs tbody tr").count() == 2
    ready(page, served.url + "/?flow_name=nothing-by-this-name")
    assert page.locator("#runs-empty").is_visible()
    assert page.errors == []


LIVE_FLOW = textwrap.dedent(
    """
    import pathlib, sys, time
    from headwater import flow, get_run_logger, task

    gates = pathlib.Path(sys.argv[1])

    def wait(name):
        while not (gates / name).exists():
            time.sleep(0.02)

    @task(tags=["db"])
    def step():
        get_run_logger().info("first step done")
        wait("one")
        get_run_logger().info("second step done")
        wait("two")
        return 2

    @flow(name="live")
    def live():
        return step()

    live()
    """
)


def test_a_running_flow_updates_the_page_without_a_reload(served, page, tmp_path, headwater_client):
    headwater_client.create_concurrency_limit("db", 1)
    script = tmp_path / "live.py"
    script.write_text(LIVE_FLOW)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        def running_run():
            runs = headwater_client.read_flow_runs(flow_name="live")
            task_runs = headwater_client.read_task_runs(flow_run_id=runs[0].id) if runs else []
            return runs[0] if task_runs and task_runs[0].state_name == "Running" else None

        run = wait_until(running_run)
        ready(page, f"{served.url}/limits")
        assert "1 of 1" in page.inner_text("#limits") and "step" in page.inner_text("#limits")

        runs_list = ready(page.context.new_page(), f"{served.url}/")  # a second tab, left on the list
        expect(runs_list.locator(f"#runs tr[data-run-id='{run.id}'] .state")).to_have_text("Running")
        runs_list.evaluate("window.__sameDocument = true")

        ready(page, f"{served.url}/flow-runs/{run.id}")
        page.evaluate("window.__sameDocument = true")
        assert page.locator("h1 .state").inner_text() == "Running"
        assert page.locator("#live").is_visible()
        expect(page.locator("#logs")).to_contain_text("first step done", timeout=15_000)
        expect(page.locator("#logs")).not_to_contain_text("second step done")

        (tmp_path / "one").touch()
        expect(page.locator("#logs")).to_contain_text("second step done", timeout=15_000)
        expect(page.locator("h1 .state")).to_have_text("Running")

        (tmp_path / "two").touch()
        expect(page.locator("h1 .state")).to_have_text("Completed", timeout=15_000)
        expect(page.locator("#timeline [data-kind=completed]")).to_have_count(1)
        expect(page.locator("#live")).to_be_hidden()
        assert page.evaluate("window.__sameDocument") is True  # drawn again in place, never reloaded
        expect(runs_list.locator(f"#runs tr[data-run-id='{run.id}'] .state")).to_have_text("Completed")
        expect(runs_list.locator("#live")).to_be_hidden()
        assert runs_list.evaluate("window.__sameDocument") is True
        assert page.errors == []
    finally:
        (tmp_path / "one").touch()
        (tmp_path / "two").touch()
        assert proc.wait(timeout=30) == 0, proc.stderr.read()


def test_names_parameters_logs_results_and_artifacts_are_shown_as_text(filled, served, page):
    run = filled["runs"]["hostile"]
    ready(page, f"{served.url}/")
    ready(page, f"{served.url}/flow-runs/{run.id}")
    assert page.locator("h1").inner_text().startswith("Flow run run-" + HOSTILE)
    expect(page.locator(".parameters")).to_contain_text(json.dumps(HOSTILE))
    expect(page.locator("#logs")).to_contain_text("log: " + HOSTILE)
    expect(page.locator(".artifact")).to_contain_text("# " + HOSTILE)
    page.locator("#timeline .timeline-row text.label").first.click()
    page.wait_for_selector("main[data-ready=true]")
    expect(page.locator("#result")).to_have_text(json.dumps("result: " + HOSTILE))
    assert page.locator("h1").inner_text().startswith("Task run t-" + HOSTILE)
    for visited in (f"{served.url}/", f"{served.url}/cache"):
        ready(page, visited)
    assert page.evaluate("window.__xss") is None
    assert page.locator("img[src=x]").count() == 0
    assert page.errors == []


def test_the_cache_and_plugins_pages(filled, served, page):
    ready(page, f"{served.url}/cache")
    assert "double-1" in page.inner_text("#cache") and "double-3" in page.inner_text("#cache")
    ready(page, f"{served.url}/plugins")
    text = page.inner_text("main")
    assert "headwater-ui" in text and "headwater ui" in text and "register_commands" in text
    ready(page, f"{served.url}/limits")
    assert "No tag has a concurrency limit" in page.inner_text("main")
    assert page.errors == [] and page.outside_requests == []


def test_with_a_token_the_printed_address_opens_the_ui(filled, page):
    ui = start_ui("--token", "a-long-enough-token")
    try:
        assert ui.url.endswith("?token=a-long-enough-token")
        ready(page, ui.url)
        assert page.locator("#runs tbody tr").count() == 4
        # Without it (a fresh browser context has no cookie), the page's requests are refused.
        page.context.clear_cookies()
        page.goto(ui.url.split("?")[0])
        assert "token" in page.inner_text("body")
    finally:
        ui.stop()
