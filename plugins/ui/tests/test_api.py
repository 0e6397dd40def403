"""The JSON API against a real SQLite store filled by real flows (conftest's ``filled``)."""

from __future__ import annotations

import datetime as _dt

import pytest

from ui_support import HOSTILE


def _run_id(filled, flow_name):
    return filled["runs"][flow_name].id


def test_flow_runs_list_has_the_documented_fields_newest_first(api, filled):
    runs = api.get("/api/flow-runs").json()
    assert [r["flow_name"] for r in runs] == ["hostile", "broken", "child", "shop"]
    for run in runs:
        assert {"id", "name", "flow_name", "state", "start_time", "end_time"} <= run.keys()
    assert runs[1]["state"]["type"] == "FAILED"
    assert runs[0]["name"] == "run-" + HOSTILE


def test_flow_runs_filters_and_pages(api, filled):
    assert [r["flow_name"] for r in api.get("/api/flow-runs", params={"state": "FAILED"}).json()] == ["broken"]
    assert [r["flow_name"] for r in api.get("/api/flow-runs", params={"tag": "nightly"}).json()] == ["child", "shop"]
    assert [r["flow_name"] for r in api.get("/api/flow-runs", params={"flow_name": "shop"}).json()] == ["shop"]
    both = api.get("/api/flow-runs", params=[("state", "FAILED"), ("state", "COMPLETED"), ("limit", 2), ("offset", 1)]).json()
    assert [r["flow_name"] for r in both] == ["broken", "child"]
    created = filled["runs"]["broken"].created
    since = api.get("/api/flow-runs", params={"since": created.isoformat()}).json()
    assert [r["flow_name"] for r in since] == ["hostile", "broken"]
    # A time without a zone is UTC, as the store keeps times.
    naive = created.astimezone(_dt.timezone.utc).replace(tzinfo=None)
    assert [r["flow_name"] for r in api.get("/api/flow-runs", params={"until": naive.isoformat()}).json()] == ["child", "shop"]


def test_bad_filters_are_refused_with_the_parameter_named(api, filled):
    response = api.get("/api/flow-runs", params={"state": "DONE"})
    assert response.status_code == 422
    assert "state" in response.text and "COMPLETED" in response.text
    response = api.get("/api/flow-runs", params={"limit": 0})
    assert response.status_code == 422 and "limit" in response.text


def test_counts_and_histogram(api, filled):
    counts = {c["state_type"]: c["count"] for c in api.get("/api/flow-run-counts").json()}
    assert counts == {"COMPLETED": 3, "FAILED": 1}
    assert api.get("/api/flow-run-counts", params={"tag": "nightly"}).json() == [{"state_type": "COMPLETED", "count": 2}]
    histogram = api.get("/api/flow-run-histogram").json()
    assert histogram["bucket_seconds"] == 1  # every run within a second or so: the smallest round bucket
    assert sum(sum(b["counts"].values()) for b in histogram["buckets"]) == 4
    assert sum(b["counts"].get("FAILED", 0) for b in histogram["buckets"]) == 1
    assert api.get("/api/flow-run-histogram", params={"flow_name": "nobody"}).json()["buckets"] == []


def test_flow_run_detail_links_subflows_and_parents(api, filled):
    shop = api.get(f"/api/flow-runs/{_run_id(filled, 'shop')}").json()
    assert shop["finished"] is True
    assert [s["name"] for s in shop["state_history"]] == ["Pending", "Running", "Completed"]
    assert [r["flow_name"] for r in shop["subflow_runs"]] == ["child"]
    assert shop["parent_flow_run"] is None
    assert [a["key"] for a in shop["artifacts"]] == ["stock"]
    child = api.get(f"/api/flow-runs/{_run_id(filled, 'child')}").json()
    assert child["parent_flow_run"]["id"] == shop["flow_run"]["id"]
    # A run is found by its name too, as on the command line.
    assert api.get(f"/api/flow-runs/{shop['flow_run']['name']}").json()["flow_run"]["id"] == shop["flow_run"]["id"]


def test_unknown_runs_are_404_with_a_message(api, filled):
    response = api.get("/api/flow-runs/no-such-run")
    assert response.status_code == 404 and "no-such-run" in response.json()["detail"]
    for path in ("task-runs", "graph", "logs"):
        assert api.get(f"/api/flow-runs/no-such-run/{path}").status_code == 404
    assert api.get("/api/task-runs/no-such-run").status_code == 404


def test_timeline_shows_each_attempt_the_retry_waits_and_the_cache_hit(api, filled):
    rows = api.get(f"/api/flow-runs/{_run_id(filled, 'shop')}/task-runs").json()
    by_task = {}
    for row in rows:
        by_task.setdefault(row["task_name"], []).append(row)
    assert [r["task_name"] for r in rows][:4] == ["flaky", "double", "side_effect", "add"]
    flaky = by_task["flaky"][0]
    kinds = [s["kind"] for s in flaky["segments"]]
    assert kinds == ["pending", "running", "retry-wait", "running", "retry-wait", "running", "completed"]
    assert [s["attempt"] for s in flaky["segments"] if s["kind"] == "running"] == [1, 2, 3]
    assert flaky["segments"][2]["message"] == "Retry 1 of 2"
    # Spans follow one another: each ends where the next starts, and a retry wait lasts the delay.
    for before, after in zip(flaky["segments"], flaky["segments"][1:]):
        assert before["end"] == after["start"]
    wait = flaky["segments"][2]
    assert _seconds(wait["start"], wait["end"]) >= 0.05
    hit = by_task["double"][1]
    assert [s["kind"] for s in hit["segments"]] == ["pending", "cached"]
    assert hit["state_name"] == "Cached"


def test_a_single_attempt_timeline_read_from_the_record_is_the_one_its_history_gives(filled, api):
    """Runs with one attempt are drawn from their records, not their state histories: the same spans."""
    from headwater_ui import views

    store = filled["store"]
    compared = 0
    for flow_run in filled["runs"].values():
        for row in api.get(f"/api/flow-runs/{flow_run.id}/task-runs").json():
            record = store.read_task_run(row["id"])
            if views._needs_history(record):
                continue
            from_history = views.segments(store.read_state_history(record.id))
            assert views._segments_of_record(record) == from_history, record.name
            compared += 1
    assert compared >= 6  # completed, cached, failed, and those of the subflow and the hostile run


def _seconds(start, end):
    return (_dt.datetime.fromisoformat(end) - _dt.datetime.fromisoformat(start)).total_seconds()


def test_graph_has_result_and_wait_for_edges_in_columns(api, filled):
    graph = api.get(f"/api/flow-runs/{_run_id(filled, 'shop')}/graph").json()
    name = {n["id"]: n["task_name"] for n in graph["nodes"]}
    edges = {(name[e["source"]], name[e["target"]]) for e in graph["edges"]}
    assert edges == {("flaky", "double"), ("double", "side_effect"), ("double", "add"), ("side_effect", "add")}
    layer = {n["task_name"]: n["layer"] for n in graph["nodes"] if n["task_name"] != "double" or n["layer"] == 1}
    assert layer == {"flaky": 0, "double": 1, "side_effect": 2, "add": 3}
    assert graph["outside"] == []
    # The timeline rows carry the same places and inputs: the page draws the graph from them.
    rows = api.get(f"/api/flow-runs/{_run_id(filled, 'shop')}/task-runs").json()
    assert {r["id"]: (r["layer"], r["row"]) for r in rows} == {n["id"]: (n["layer"], n["row"]) for n in graph["nodes"]}
    assert {(u, r["id"]) for r in rows for u in r["upstream_task_run_ids"]} == {(e["source"], e["target"]) for e in graph["edges"]}


def test_logs_filter_by_level_and_task_run_and_read_on(api, filled):
    run_id = _run_id(filled, "shop")
    every = api.get(f"/api/flow-runs/{run_id}/logs").json()
    messages = [line["message"] for line in every]
    assert "doubling 1" in messages and "adding 2 and 1" in messages
    assert any("doubling 3" in m for m in messages)  # the subflow's lines are the run's too
    warnings = api.get(f"/api/flow-runs/{run_id}/logs", params={"min_level": 30}).json()
    assert warnings and all(line["level"] >= 30 for line in warnings)
    assert "adding 2 and 1" in [line["message"] for line in warnings]
    rows = api.get(f"/api/flow-runs/{run_id}/task-runs").json()
    add = next(r for r in rows if r["task_name"] == "add")
    only_add = api.get(f"/api/flow-runs/{run_id}/logs", params={"task_run_id": add["id"]}).json()
    assert only_add and {line["run_id"] for line in only_add} == {add["id"]}
    middle = every[len(every) // 2]["id"]
    after = api.get(f"/api/flow-runs/{run_id}/logs", params={"after_id": middle}).json()
    assert [line["id"] for line in after] == [line["id"] for line in every if line["id"] > middle]


def test_task_run_detail_shows_a_plain_result_and_its_neighbours(api, filled):
    rows = api.get(f"/api/flow-runs/{_run_id(filled, 'shop')}/task-runs").json()
    ids = {r["task_name"]: r["id"] for r in reversed(rows)}
    double = api.get(f"/api/task-runs/{ids['double']}").json()
    assert double["result"] == {"shown": True, "value": 2, "note": None}
    assert [t["task_name"] for t in double["upstream"]] == ["flaky"]
    assert sorted(t["task_name"] for t in double["downstream"]) == ["add", "side_effect"]
    assert double["task_run"]["cache_key"] == "double-1"
    assert double["flow_run"]["flow_name"] == "shop"
    flaky = api.get(f"/api/task-runs/{ids['flaky']}").json()
    assert flaky["task_run"]["run_count"] == 3
    assert [s["name"] for s in flaky["state_history"]].count("AwaitingRetry") == 2


def test_a_pickled_result_is_described_not_loaded(api, filled, headwater_home):
    from headwater import flow, task

    class Opaque:
        pass

    @task(persist_result=True)
    def make():
        return Opaque()

    @flow
    def opaque():
        make()

    opaque()
    filled["store"].flush()
    run = filled["store"].read_flow_runs(flow_name="opaque")[0]
    task_run = api.get(f"/api/flow-runs/{run.id}/task-runs").json()[0]
    result = api.get(f"/api/task-runs/{task_run['id']}").json()["result"]
    assert result["shown"] is False and "never unpickles" in result["note"]
    failed = api.get(f"/api/flow-runs/{_run_id(filled, 'broken')}/task-runs").json()[0]
    assert api.get(f"/api/task-runs/{failed['id']}").json()["result"]["note"] == "The task run has not completed."


def test_cache_limits_and_plugins(api, filled, headwater_client):
    keys = {e["key"] for e in api.get("/api/cache-entries").json()}
    assert {"double-1", "double-3"} <= keys
    headwater_client.create_concurrency_limit("db", 2)
    assert api.get("/api/concurrency-limits").json() == [
        {"tag": "db", "limit": 2, "active": 0, "created": api.get("/api/concurrency-limits").json()[0]["created"], "holders": []}
    ]
    plugins = api.get("/api/plugins").json()
    assert "ui" in [c["name"] for c in plugins["commands"]]
    assert "sqlite" in [s["name"] for s in plugins["stores"]]


def test_openapi_document_lists_every_route(api, filled):
    document = api.get("/api/openapi.json").json()
    assert {
        "/api/flow-runs", "/api/flow-run-counts", "/api/flow-run-histogram", "/api/flow-runs/{run_id}",
        "/api/flow-runs/{run_id}/task-runs", "/api/flow-runs/{run_id}/graph", "/api/flow-runs/{run_id}/logs",
        "/api/task-runs/{run_id}", "/api/cache-entries", "/api/concurrency-limits", "/api/plugins",
    } == set(document["paths"])
    item = document["components"]["schemas"]["FlowRunRecord"]["properties"]
    assert {"id", "name", "flow_name", "state", "start_time", "end_time"} <= item.keys()


def test_pages_are_one_shell_with_a_strict_content_security_policy(api, filled):
    for path in ("/", f"/flow-runs/{_run_id(filled, 'shop')}", "/task-runs/x", "/cache", "/limits", "/plugins"):
        response = api.get(path)
        assert response.status_code == 200 and '<script src="/static/app.js"' in response.text
        assert "default-src 'self'" in response.headers["content-security-policy"]
    assert "function timelineChart" in api.get("/static/app.js").text
    assert api.get("/static/app.css").headers["content-type"].startswith("text/css")
    assert api.get("/api/docs").status_code == 404  # Swagger UI would load from a CDN


def test_a_token_is_required_on_every_request_once_set(filled):
    from fastapi.testclient import TestClient

    from headwater_ui.app import TOKEN_COOKIE, create_app

    token = "s3cret-s3cret-s3cret"
    with TestClient(create_app(filled["store"], token=token)) as client:
        for path in ("/", "/api/flow-runs", "/static/app.js", "/api/openapi.json"):
            refused = client.get(path)
            assert refused.status_code == 401 and "token" in refused.json()["detail"]
        assert client.get("/api/flow-runs", headers={"authorization": "Bearer wrong"}).status_code == 401
        bearer = client.get("/api/flow-runs", headers={"authorization": f"Bearer {token}"})
        assert bearer.status_code == 200 and "set-cookie" not in bearer.headers
        # The printed address carries it once; the browser keeps it as a cookie for the page's own requests.
        first = client.get(f"/?token={token}")
        assert first.status_code == 200 and TOKEN_COOKIE in first.headers["set-cookie"]
        assert "HttpOnly" in first.headers["set-cookie"]
        assert client.get("/api/flow-runs").status_code == 200  # the cookie, now in the client's jar


def test_other_host_names_are_refused_without_a_token(filled):
    from fastapi.testclient import TestClient

    from headwater_ui.app import create_app

    with TestClient(create_app(filled["store"], allowed_hosts={"127.0.0.1", "localhost"}), base_url="http://localhost:4200") as client:
        assert client.get("/api/flow-runs").status_code == 200
        rebound = client.get("/api/flow-runs", headers={"host": "evil.example:4200"})
        assert rebound.status_code == 400 and "evil.example" in rebound.json()["detail"]


@pytest.mark.parametrize("path", ["/api/flow-runs/{id}", "/api/flow-runs/{id}/task-runs", "/api/flow-runs/{id}/logs"])
def test_hostile_text_comes_back_as_data(api, filled, path):
    body = api.get(path.format(id=_run_id(filled, "hostile"))).text
    assert "window.__xss" in body  # it is there, as JSON text: the page puts it in text nodes (see test_browser)
    assert api.get(path.format(id=_run_id(filled, "hostile"))).headers["content-type"] == "application/json"
