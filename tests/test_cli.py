"""The ``headwater`` command, run as a user types it: a subprocess against a real store.

Each test runs a few flows in this process (the autouse ``headwater_home`` fixture
gives it its own HEADWATER_HOME), then runs ``python -m headwater.cli ...`` with
the same environment and reads what it prints.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from headwater import __version__, flow, task
from headwater.tasks import task_input_hash

# -- the flows ---------------------------------------------------------------------------------

attempts: list[int] = []


@task
def add_one(x: int) -> int:
    return x + 1


@task(cache_key_fn=task_input_hash)
def double(x: int) -> int:
    return x * 2


@task(retries=1, retry_delay_seconds=0)
def flaky() -> str:
    attempts.append(1)
    if len(attempts) == 1:
        raise ValueError("first attempt fails")
    return "ok"


@flow(name="cli-etl")
def etl(x: int = 1) -> tuple:
    return add_one(x), double(x), flaky()


@flow(name="cli-broken")
def broken() -> None:
    raise RuntimeError("broken on purpose")


@flow(name="cli-tiny")
def tiny() -> int:
    return 1


@pytest.fixture
def runs(headwater_home):
    """Three flow runs, newest last: etl (retried flaky), etl again (double cached), broken (Failed)."""
    attempts.clear()
    etl(3, return_state=True)
    etl(3, return_state=True)
    broken(return_state=True)
    from headwater.client import get_client

    records = get_client().read_flow_runs()
    assert [r.flow_name for r in records] == ["cli-broken", "cli-etl", "cli-etl"]
    return {"broken": records[0], "etl_cached": records[1], "etl_first": records[2]}


# -- running the command -------------------------------------------------------------------------


def headwater(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environ = os.environ.copy()
    environ.pop("NO_COLOR", None)
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "headwater.cli", *args], capture_output=True, text=True, env=environ, timeout=60
    )


def ok(*args: str, env: dict | None = None) -> str:
    result = headwater(*args, env=env)
    assert result.returncode == 0, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "\x1b[" not in result.stdout, "no colour codes when the output is not a terminal"
    return result.stdout


def table_rows(output: str) -> list[list[str]]:
    """The data rows of a table printed by the CLI, split on runs of two or more blanks."""
    lines = [line for line in output.splitlines() if line.strip()]
    return [re.split(r"\s{2,}", line.strip()) for line in lines[1:]]


# -- version, help ----------------------------------------------------------------------------


def test_version():
    assert ok("--version").strip() == f"headwater {__version__}"


def test_help_documents_exit_codes():
    out = ok("--help")
    assert "Exit codes" in out
    assert re.search(r"0\s+success", out) and re.search(r"1\s+error", out) and re.search(r"2\s+usage", out)
    for command in ("runs", "cache", "plugins", "config"):
        assert command in out


def test_console_script_is_installed_next_to_the_interpreter():
    script = Path(sys.executable).with_name("headwater")
    if not script.exists():
        pytest.skip("no console script next to the interpreter (headwater not installed in this environment)")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, env=os.environ.copy())
    assert result.returncode == 0 and result.stdout.strip() == f"headwater {__version__}"


def test_unknown_command_is_a_usage_error():
    result = headwater("runs", "frobnicate")
    assert result.returncode == 2
    assert "No such command" in result.stderr


def test_import_is_light():
    code = "import sys, headwater.cli; print(any(m.startswith(('headwater_sqlite', 'pluggy')) for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy())
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_colours_and_fitted_columns_only_on_a_terminal(runs):
    import errno

    primary, secondary = os.openpty()
    environ = {**os.environ, "COLUMNS": "72", "TERM": "xterm"}
    environ.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "headwater.cli", "runs", "ls"], stdout=secondary, stderr=subprocess.PIPE, env=environ
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError as exc:  # EIO: the child closed the terminal
            if exc.errno != errno.EIO:
                raise
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    assert process.wait(timeout=60) == 0
    out = b"".join(chunks).decode()
    assert "\x1b[" in out, "states are coloured on a terminal"
    plain = re.sub(r"\x1b\[[0-9;]*m", "", out)
    assert all(len(line) <= 72 for line in plain.splitlines()), plain
    assert "…" in plain  # names were shortened to fit


# -- runs ls ------------------------------------------------------------------------------------


def test_empty_store(headwater_home):
    assert "No flow runs yet." in ok("runs", "ls")
    assert json.loads(ok("runs", "ls", "--json")) == []


def test_runs_ls_table_newest_first(runs):
    out = ok("runs", "ls")
    header = out.splitlines()[0].split()
    assert header == ["ID", "NAME", "FLOW", "STATE", "START", "DURATION"]
    rows = table_rows(out)
    # The end of each id: the random part (the start is the time, the same for runs of the same minute).
    assert [row[0] for row in rows] == [runs[k].id[-8:] for k in ("broken", "etl_cached", "etl_first")]
    assert [row[1] for row in rows] == [runs[k].name for k in ("broken", "etl_cached", "etl_first")]
    assert [row[2] for row in rows] == ["cli-broken", "cli-etl", "cli-etl"]
    assert [row[3] for row in rows] == ["Failed", "Completed", "Completed"]
    for row in rows:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row[4])
        assert re.fullmatch(r"[\d.]+(µs|ms|s)", row[5])


def test_runs_ls_json(runs):
    data = json.loads(ok("runs", "ls", "--json"))
    assert [d["id"] for d in data] == [runs[k].id for k in ("broken", "etl_cached", "etl_first")]
    first = data[2]
    assert first["flow_name"] == "cli-etl"
    assert first["parameters"] == {"x": 3}
    assert first["state"]["name"] == "Completed" and first["state"]["type"] == "COMPLETED"
    assert first["start_time"].endswith(("Z", "+00:00"))


def test_runs_ls_filters_by_flow(runs):
    data = json.loads(ok("runs", "ls", "--flow", "cli-etl", "--json"))
    assert [d["id"] for d in data] == [runs["etl_cached"].id, runs["etl_first"].id]
    rows = table_rows(ok("runs", "ls", "--flow", "cli-broken"))
    assert [row[1] for row in rows] == [runs["broken"].name]
    assert "No flow runs match." in ok("runs", "ls", "--flow", "no-such-flow")


def test_runs_ls_filters_by_state(runs):
    data = json.loads(ok("runs", "ls", "--state", "failed", "--json"))
    assert [d["id"] for d in data] == [runs["broken"].id]
    data = json.loads(ok("runs", "ls", "--state", "Completed", "--json"))
    assert [d["id"] for d in data] == [runs["etl_cached"].id, runs["etl_first"].id]
    data = json.loads(ok("runs", "ls", "--state", "Completed", "--state", "Failed", "--json"))
    assert len(data) == 3
    assert "No flow runs match." in ok("runs", "ls", "--state", "Crashed")


def test_runs_ls_filters_by_tags_and_by_state_names_that_are_no_type(headwater_home):
    import time

    from headwater import flow

    @flow(name="cli-slow", timeout_seconds=0.05)
    def slow() -> None:
        time.sleep(1)

    from headwater import tags
    from headwater.client import get_client

    for labels in (("nightly", "big"), ("nightly",), ("nightly-extra",)):
        with tags(*labels):
            tiny()
    slow(return_state=True)
    by_tags = {tuple(sorted(r.tags)): r.name for r in get_client().read_flow_runs()}
    ids = lambda *args: [d["name"] for d in json.loads(ok("runs", "ls", *args, "--json"))]  # noqa: E731
    assert ids("--tag", "nightly") == [by_tags[("nightly",)], by_tags[("big", "nightly")]]
    assert ids("--tag", "nightly", "--tag", "big") == [by_tags[("big", "nightly")]]
    assert ids("--tag", "no-such-tag") == []
    # TimedOut is a Failed state by type, by name only itself.
    assert [d["flow_name"] for d in json.loads(ok("runs", "ls", "--state", "timedout", "--json"))] == ["cli-slow"]
    assert ids("--state", "Failed") == []
    assert len(ids("--state", "Completed", "--state", "TimedOut")) == 4


def test_runs_ls_limit(runs):
    data = json.loads(ok("runs", "ls", "--limit", "2", "--json"))
    assert [d["id"] for d in data] == [runs["broken"].id, runs["etl_cached"].id]
    # The limit applies after the state filter: the newest Completed run, not the newest run.
    data = json.loads(ok("runs", "ls", "--state", "Completed", "--limit", "1", "--json"))
    assert [d["id"] for d in data] == [runs["etl_cached"].id]
    assert len(table_rows(ok("runs", "ls", "-n", "1"))) == 1


def test_runs_ls_since(runs):
    assert len(json.loads(ok("runs", "ls", "--since", "1h", "--json"))) == 3
    assert json.loads(ok("runs", "ls", "--since", "2999-01-01", "--json")) == []


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["runs", "ls", "--limit", "0"], "--limit"),
        (["runs", "ls", "--limit", "many"], "--limit"),
        (["runs", "ls", "--since", "yesterday"], "--since"),
        (["runs", "inspect"], "RUN"),
    ],
)
def test_bad_options_are_usage_errors(headwater_home, args, fragment):
    result = headwater(*args)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr


# -- runs inspect ---------------------------------------------------------------------------------


def _sections(output: str) -> dict[str, str]:
    """The inspect output cut at its headings (lines that start in column 0)."""
    sections: dict[str, list[str]] = {}
    current = "top"
    for line in output.splitlines():
        if line and not line.startswith(" "):
            current = "Flow run" if line.startswith("Flow run ") else line.split(" (")[0]
            sections.setdefault(current, [])
        sections.setdefault(current, []).append(line)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def _task_block(output: str, task_name: str) -> str:
    """The lines of one task run in the 'Task runs' section: its summary line and its history."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"  {task_name}-"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("  ") and not lines[i].startswith("   ")), len(lines))
    return "\n".join(lines[start:end])


def _history_states(block: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"^\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\s+(\w+)", block, re.M)]


def test_runs_inspect_by_full_id(runs):
    record = runs["etl_first"]
    out = ok("runs", "inspect", record.id)
    sections = _sections(out)
    top = sections["Flow run"]
    assert record.name in top and record.id in top and "cli-etl" in top
    assert re.search(r"state\s+Completed", top)
    assert re.search(r"x\s+3", sections["Parameters"])
    assert _history_states(sections["State history"]) == ["Pending", "Running", "Completed"]
    # time spent in each non-final state
    assert len(re.findall(r"(Pending|Running)\s+[\d.]+(µs|ms|s)\b", sections["State history"])) == 2

    tasks = sections["Task runs"]
    assert tasks.startswith("Task runs (3)")
    assert _history_states(_task_block(out, "add_one")) == ["Pending", "Running", "Completed"]
    assert _history_states(_task_block(out, "double")) == ["Pending", "Running", "Completed"]
    flaky_block = _task_block(out, "flaky")
    assert _history_states(flaky_block) == ["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]
    assert "2 attempts" in flaky_block
    assert "Retry 1 of 1" in flaky_block


def test_runs_inspect_by_the_listed_short_id_or_the_start_of_the_id(runs):
    record = runs["etl_cached"]
    listed = [row[0] for row in table_rows(ok("runs", "ls")) if row[1] == record.name]
    assert record.id in ok("runs", "inspect", *listed)
    assert record.id in ok("runs", "inspect", record.id[:-4])
    # The runs were made moments apart: their ids start alike.
    shared = os.path.commonprefix([run.id for run in runs.values()])
    assert len(shared) >= 4
    result = headwater("runs", "inspect", shared)
    assert result.returncode == 1 and f"'{shared}' matches more than one flow run; give more of its id" in result.stderr


def test_runs_inspect_by_short_id_shows_the_cache_hit(runs):
    record = runs["etl_cached"]
    out = ok("runs", "inspect", record.id[-8:])
    assert record.id in out
    block = _task_block(out, "double")
    assert block.splitlines()[0].split()[1] == "Cached"
    assert "cache hit" in block
    assert _history_states(block) == ["Pending", "Cached"]
    # the flaky task succeeded at once in the second run
    assert _history_states(_task_block(out, "flaky")) == ["Pending", "Running", "Completed"]


def test_runs_inspect_by_name(runs):
    record = runs["broken"]
    out = ok("runs", "inspect", record.name)
    assert record.id in out
    assert re.search(r"state\s+Failed", out)
    assert "broken on purpose" in out
    assert "Task runs (0)" in out


def test_runs_inspect_json(runs):
    data = json.loads(ok("runs", "inspect", runs["etl_first"].id, "--json"))
    assert data["flow_run"]["id"] == runs["etl_first"].id
    assert [s["name"] for s in data["state_history"]] == ["Pending", "Running", "Completed"]
    assert data["state_history"][0]["duration_seconds"] >= 0
    assert data["state_history"][-1]["duration_seconds"] is None
    by_task = {t["task_name"]: t for t in data["task_runs"]}
    assert set(by_task) == {"add_one", "double", "flaky"}
    assert [s["name"] for s in by_task["flaky"]["state_history"]] == ["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]
    assert by_task["flaky"]["run_count"] == 2
    cached = json.loads(ok("runs", "inspect", runs["etl_cached"].id, "--json"))
    assert {t["task_name"]: t["state"]["name"] for t in cached["task_runs"]}["double"] == "Cached"


def test_runs_inspect_unknown_run(runs):
    result = headwater("runs", "inspect", "xyz")
    assert result.returncode == 1
    assert "No flow run matches 'xyz'" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr + result.stdout


def test_runs_inspect_ambiguous_prefix(runs):
    from headwater.client import get_client

    # Sixteen hex digits: among seventeen runs two share a first digit.
    ids = [r.id for r in runs.values()]
    while len({i[0] for i in ids}) == len(ids):
        tiny()
        ids = [r.id for r in get_client().read_flow_runs(limit=1000)]
    prefix = next(i[0] for i in ids if sum(j.startswith(i[0]) for j in ids) > 1)
    result = headwater("runs", "inspect", prefix)
    assert result.returncode == 1
    assert "more than one flow run" in result.stderr
    assert "Traceback" not in result.stderr


def test_store_error_is_a_clean_exit_1(tmp_path):
    not_a_database = tmp_path / "junk.db"
    not_a_database.write_text("this is not sqlite " * 100)
    result = headwater("runs", "ls", env={"HEADWATER_DATABASE_URL": f"sqlite:///{not_a_database}"})
    assert result.returncode == 1
    assert "is not a SQLite database" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_setting_is_a_clean_exit_1(headwater_home):
    result = headwater("runs", "ls", env={"HEADWATER_LOGGING_LEVEL": "LOUD"})
    assert result.returncode == 1
    assert "HEADWATER_LOGGING_LEVEL" in result.stderr
    assert "Traceback" not in result.stderr


# -- cache clear ------------------------------------------------------------------------------------


def _cache_hit_on_next_run() -> bool:
    """Run etl once more, as a new process would, and say whether ``double`` came from the cache."""
    from headwater.client import get_client
    from headwater.stores import close_stores

    # A store remembers the cache entries its own process wrote (see SQLiteStore._own_entries)
    # and does not see them cleared by another process; a fresh store reads the database.
    close_stores()
    etl(3, return_state=True)
    client = get_client()
    newest = client.read_flow_runs(limit=1)[0]
    return {t.task_name: t.state_name for t in client.read_task_runs(newest.id)}["double"] == "Cached"


def test_cache_clear_all(runs):
    assert "Removed 1 cache entry." in ok("cache", "clear", "--all")
    assert not _cache_hit_on_next_run()
    assert json.loads(ok("cache", "clear", "--all", "--json")) == {"removed": 1}
    assert "Removed 0 cache entries." in ok("cache", "clear", "--all")


def test_cache_clear_key(runs):
    from headwater.client import get_client

    key = next(t.cache_key for t in get_client().read_task_runs(runs["etl_first"].id) if t.task_name == "double")
    assert key
    assert "nothing removed" in ok("cache", "clear", "--key", "not-a-key")
    assert _cache_hit_on_next_run()
    assert "Removed 1 cache entry." in ok("cache", "clear", "--key", key)
    assert not _cache_hit_on_next_run()


def test_cache_clear_expired(headwater_home):
    from datetime import timedelta

    @task(cache_key_fn=lambda ctx, params: "short-lived", cache_expiration=timedelta(microseconds=1))
    def short() -> int:
        return 1

    @task(cache_key_fn=lambda ctx, params: "long-lived", cache_expiration=timedelta(days=1))
    def long() -> int:
        return 2

    @flow(name="cli-expiring")
    def expiring() -> tuple:
        return short(), long()

    expiring()
    assert "Removed 1 expired cache entry." in ok("cache", "clear", "--expired")
    assert "Removed 0 expired cache entries." in ok("cache", "clear", "--expired")
    assert "Removed 1 cache entry." in ok("cache", "clear", "--all")


@pytest.mark.parametrize("args", [[], ["--all", "--expired"], ["--key", "k", "--all"]])
def test_cache_clear_needs_exactly_one_choice(headwater_home, args):
    result = headwater("cache", "clear", *args)
    assert result.returncode == 2
    assert "exactly one of --key K, --expired or --all" in result.stderr
    assert "Traceback" not in result.stderr


# -- plugins ls ----------------------------------------------------------------------------------


def test_plugins_ls(headwater_home):
    out = ok("plugins", "ls")
    sections = _sections(out)
    assert re.search(r"^\s+sqlite\s+headwater\s+\S+\s+register_result_stores", sections["Plugins"], re.M)
    assert re.search(r"^\s+headwater\.defaults\.rules\s+headwater\s+" + re.escape(__version__), sections["Plugins"], re.M)
    assert re.search(r"^\s+sequential\s+headwater\.task_runners\.SequentialTaskRunner", sections["Task runners"], re.M)
    assert re.search(r"^\s+concurrent\s+headwater\.task_runners\.ConcurrentTaskRunner", sections["Task runners"], re.M)
    assert re.search(r"^\s+sqlite\s+\S+SQLiteStore", sections["Stores"], re.M)
    assert re.search(r"^\s+task_input_hash\s", sections["Cache-key functions"], re.M)
    rules = re.findall(r"^\s+\d+\s+(\w+)", sections["Orchestration rules"], re.M)
    assert rules[:3] == ["CacheRetrieval", "CacheInsertion", "RetryFailedRuns"]
    assert "Failed to load" not in out


@pytest.fixture
def third_party_plugins(tmp_path):
    """A working plugin and a broken one, installed as a distribution found on PYTHONPATH."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "hw_cli_demo_plugin.py").write_text(
        textwrap.dedent(
            """
            from headwater import hookimpl

            def constant_key(context, parameters):
                return "constant"

            @hookimpl
            def register_cache_key_functions(register):
                register(constant_key)
            """
        )
    )
    dist_info = site / "hw_cli_demo-0.3.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: hw-cli-demo\nVersion: 0.3.0\n")
    (dist_info / "entry_points.txt").write_text(
        "[headwater]\ndemo = hw_cli_demo_plugin\nbroken = hw_cli_no_such_module\n"
    )
    paths = [str(site)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    return {"PYTHONPATH": os.pathsep.join(paths)}


def test_plugins_ls_shows_third_party_and_failed_plugins(headwater_home, third_party_plugins):
    result = headwater("plugins", "ls", env=third_party_plugins)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    sections = _sections(out)
    assert re.search(r"^\s+demo\s+hw-cli-demo\s+0\.3\.0\s+register_cache_key_functions", sections["Plugins"], re.M)
    assert re.search(r"^\s+constant_key\s+hw_cli_demo_plugin\.constant_key", sections["Cache-key functions"], re.M)
    failed = sections["Failed to load"]
    assert "broken = hw_cli_no_such_module" in failed and "hw-cli-demo 0.3.0" in failed
    assert "ModuleNotFoundError" in failed
    assert "Traceback" not in result.stderr

    data = json.loads(ok("plugins", "ls", "--json", env=third_party_plugins))
    assert [f["entry_point"] for f in data["failures"]] == ["broken"]
    assert "demo" in [p["name"] for p in data["plugins"]]
    assert [r["name"] for r in data["orchestration_rules"]][:3] == ["CacheRetrieval", "CacheInsertion", "RetryFailedRuns"]
    assert {"sequential", "concurrent"} <= {r["name"] for r in data["task_runners"]}


def test_a_broken_plugin_warns_once_and_runs_ls_still_works(runs, third_party_plugins):
    result = headwater("runs", "ls", env=third_party_plugins)
    assert result.returncode == 0
    assert len(table_rows(result.stdout)) == 3
    assert result.stderr.count("'broken'") == 1
    assert "Traceback" not in result.stderr


# -- config ---------------------------------------------------------------------------------------


def test_config_shows_settings_and_sources(headwater_home):
    out = ok("config")
    assert re.search(r"^HEADWATER_HOME\s+" + re.escape(str(headwater_home)) + r"\s+env$", out, re.M)
    assert re.search(r"^HEADWATER_DATABASE_URL\s+sqlite:///" + re.escape(str(headwater_home / "headwater.db")) + r"\s+derived", out, re.M)
    assert re.search(r"^HEADWATER_LOGGING_LEVEL\s+INFO\s+default$", out, re.M)
    data = json.loads(ok("config", "--json", env={"HEADWATER_LOGGING_LEVEL": "debug"}))
    assert data["home"] == {**data["home"], "value": str(headwater_home), "source": "env"}
    assert data["logging_level"]["value"] == "DEBUG" and data["logging_level"]["source"] == "env"
    assert data["store"]["source"] == "default"


# -- formatting ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "seconds, text",
    [(0.00085, "850µs"), (0.0123, "12.3ms"), (0.25, "250ms"), (4.561, "4.56s"), (125, "2m 05s"), (3720, "1h 02m"), (273600, "3d 04h")],
)
def test_durations_read_well(seconds, text):
    from datetime import timedelta

    from headwater.cli._output import duration

    assert duration(timedelta(seconds=seconds)).replace("us", "µs") == text
    assert duration(None) == "-"
