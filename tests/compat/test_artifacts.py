"""Prefect 2.20's artifacts page, ported: markdown, table and link artifacts, kept in the store with their runs."""

import json
import os
import subprocess
import sys
import uuid

import pytest

from headwater import flow, task
from headwater.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact
from headwater.client import get_client
from headwater.exceptions import ConfigurationError


def _cli(*args):
    proc = subprocess.run([sys.executable, "-m", "headwater.cli", *args], capture_output=True, text=True, env=os.environ.copy(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_artifacts_made_in_a_flow_and_its_task_are_kept_with_their_runs(headwater_home):
    @task
    def highest_churn():
        create_table_artifact(
            [{"customer": "acme", "churn": 0.42}, {"customer": "globex", "churn": float("nan")}],
            key="churn-table", description="Customers most likely to leave",
        )
        return "acme"

    @flow
    def report():
        worst = highest_churn()
        made = create_markdown_artifact(f"# Churn\n\nWorst: **{worst}**", key="churn-report")
        create_link_artifact("https://example.com/dashboards/churn", link_text="Dashboard")
        return made

    made = report()
    assert isinstance(made, uuid.UUID)
    [run] = get_client().read_flow_runs()
    [task_run] = get_client().read_task_runs(flow_run_id=run.id)
    found = {a.type: a for a in get_client().read_artifacts(flow_run_id=run.id)}
    assert set(found) == {"table", "markdown", "link"}
    table = found["table"]
    assert table.key == "churn-table" and table.task_run_id == task_run.id and table.flow_run_id == run.id
    assert table.data == [{"customer": "acme", "churn": 0.42}, {"customer": "globex", "churn": None}]  # NaN: empty
    markdown = found["markdown"]
    assert markdown.id == str(made) and markdown.task_run_id is None and markdown.data == "# Churn\n\nWorst: **acme**"
    assert found["link"].data == "[Dashboard](https://example.com/dashboards/churn)" and found["link"].key is None


def test_a_key_keeps_versions_and_the_listing_shows_the_newest(headwater_home):
    @flow
    def nightly(n: int):
        create_markdown_artifact(f"rows loaded: {n}", key="load-summary")

    for n in (10, 20, 30):
        nightly(n)
    create_markdown_artifact("made outside any run")  # allowed, as in Prefect; it has no key

    [latest] = get_client().read_artifacts(latest_only=True)
    assert latest.key == "load-summary" and latest.data == "rows loaded: 30"
    assert [a.data for a in get_client().read_artifacts(key="load-summary")] == [f"rows loaded: {n}" for n in (30, 20, 10)]
    assert len(get_client().read_artifacts()) == 4

    listing = _cli("artifacts", "ls")
    assert "load-summary" in listing and "markdown" in listing and "made outside" not in listing
    assert len(json.loads(_cli("artifacts", "ls", "--all", "--json"))) == 4
    shown = _cli("artifacts", "inspect", "load-summary")
    assert shown.index("rows loaded: 30") < shown.index("rows loaded: 20") < shown.index("rows loaded: 10")
    assert "Deleted 3 versions of artifact 'load-summary'." in _cli("artifacts", "rm", "load-summary")
    assert get_client().read_artifacts(key="load-summary") == []


def test_runs_inspect_shows_a_runs_artifacts_and_deleting_the_run_deletes_them(headwater_home):
    @flow
    def publish():
        create_table_artifact({"city": ["oslo", "lima"], "high": [4, 22]}, key="highs")

    publish()
    [run] = get_client().read_flow_runs()
    shown = _cli("runs", "inspect", run.id)
    artifacts_part = shown[shown.index("Artifacts (1)"):]
    assert "highs" in artifacts_part and "oslo" in artifacts_part and "22" in artifacts_part
    data = json.loads(_cli("runs", "inspect", run.id, "--json"))
    assert data["artifacts"][0]["data"] == {"city": ["oslo", "lima"], "high": [4, 22]}
    deleted = json.loads(_cli("runs", "delete", run.id, "--yes", "--json"))
    assert deleted["artifacts"] == 1 and get_client().read_artifacts() == []


def test_bad_artifacts_are_refused_with_a_message(headwater_home):
    with pytest.raises(ConfigurationError, match="Artifact key 'Daily Report' may hold only lowercase letters, digits and dashes"):
        create_markdown_artifact("x", key="Daily Report")
    with pytest.raises(ConfigurationError, match="a table is a list of dicts .* got str"):
        create_table_artifact("a,b\n1,2")
    with pytest.raises(ConfigurationError, match=r"columns of the table have different lengths \(\[1, 2\]\)"):
        create_table_artifact({"a": [1], "b": [1, 2]})
    with pytest.raises(ConfigurationError, match="link=''"):
        create_link_artifact("")
    assert get_client().read_artifacts() == []  # nothing half-made was kept
