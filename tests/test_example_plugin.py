"""The example plugin distribution (docs/examples/headwater-example-plugin), pip-installed and used through its entry point.

The distribution is built offline with hatchling and installed by pip into a
folder of its own, which the tests put on ``sys.path`` (or ``PYTHONPATH`` for a
subprocess): the shared virtual environment is left alone. Every hook of the
plugin is exercised in real flow runs.
"""

import datetime as _dt
import importlib
import importlib.util
import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from headwater import flow, tags, task
from headwater.client import get_client
from headwater.orchestration import TransitionContext
from headwater.plugins import Plugins, use_plugins
from headwater.runs import TaskRun
from headwater.states import Pending, Running
from headwater.stores import get_store
from headwater.testing.runner_conformance import RunnerConformance

EXAMPLE_DIST = Path(__file__).resolve().parent.parent / "docs" / "examples" / "headwater-example-plugin"

ALL_HOOKS = [
    "on_flow_run_state_change",
    "on_task_run_state_change",
    "register_cache_key_functions",
    "register_input_hashers",
    "register_orchestration_rules",
    "register_result_stores",
    "register_task_runners",
]


@pytest.fixture(scope="module")
def example_site(install_distribution):
    """The example distribution built and installed by pip into a folder of its own."""
    return install_distribution(EXAMPLE_DIST, "headwater_example_plugin-0.1.0.dist-info")


@pytest.fixture
def plugins(example_site, monkeypatch):
    """This process's plugins, loaded afresh (strict) with the installed example on sys.path."""
    monkeypatch.syspath_prepend(str(example_site))
    for name in ("HEADWATER_EXAMPLE_MAINTENANCE_WINDOW", "HEADWATER_EXAMPLE_MAINTENANCE_CHECK_SECONDS",
                 "HEADWATER_EXAMPLE_DATA_VERSION", "HEADWATER_EXAMPLE_AUDIT_FILE"):
        monkeypatch.delenv(name, raising=False)
    loaded = Plugins(strict=True)
    try:
        with use_plugins(loaded):
            yield loaded
    finally:
        # The next test imports the plugin again from its own sys.path, or not at all.
        for module in [m for m in sys.modules if m == "headwater_example" or m.startswith("headwater_example.")]:
            del sys.modules[module]


@pytest.fixture
def run_log():
    """The messages of headwater's run loggers, as they are logged; ``run_log.on(text, fn)`` calls ``fn`` on a match."""

    class Recorder(logging.Handler):
        def __init__(self):
            super().__init__(logging.INFO)
            self.messages = []
            self.actions = []

        def on(self, text, action):
            self.actions.append((text, action))

        def emit(self, record):
            message = record.getMessage()
            self.messages.append((getattr(record, "run_label", record.name), message))
            for text, action in self.actions:
                if text in message:
                    action()

    recorder = Recorder()
    root = logging.getLogger("headwater")
    root.addHandler(recorder)
    yield recorder
    root.removeHandler(recorder)


def history(run_id):
    return [state.name for state in get_client().read_state_history(run_id)]


def task_runs_of(a_flow):
    """The latest run of ``a_flow`` and its task runs, as recorded."""
    client = get_client()
    [flow_run] = client.read_flow_runs(flow_name=a_flow.name, limit=1)
    return flow_run, client.read_task_runs(flow_run_id=flow_run.id)


# -- discovery ---------------------------------------------------------------------------------------


def test_the_plugin_is_found_through_its_entry_point_with_one_hook_of_each_kind(plugins):
    rows = {row["name"]: row for row in plugins.describe()}
    assert rows["example"]["distribution"] == "headwater-example-plugin"
    assert rows["example"]["version"] == "0.1.0"
    assert rows["example"]["hooks"] == ALL_HOOKS
    assert plugins.failures == []
    assert plugins.task_runners.get("timed").__module__ == "headwater_example.runner"
    assert plugins.stores.get("memory").__module__ == "headwater_example.store"
    assert plugins.cache_key_functions.get("inputs_and_data_version").__module__ == "headwater_example.cache_keys"
    assert plugins.input_hashers.get("function_by_code").__module__ == "headwater_example.input_hashers"
    assert [rule.name for rule in plugins.policy.rules][:2] == ["FailFast", "MaintenanceWindow"]


def test_plugins_ls_shows_the_plugin_and_its_rules_in_policy_order(example_site, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(example_site), "HEADWATER_HOME": str(tmp_path / "home")}
    env.pop("HEADWATER_LOAD_PLUGINS", None)
    env.pop("HEADWATER_BLOCK_PLUGINS", None)
    ls = [sys.executable, "-m", "headwater.cli", "plugins", "ls"]
    text = subprocess.run(ls, capture_output=True, text=True, env=env, timeout=120)
    assert text.returncode == 0, text.stderr
    plugin_line = next(line for line in text.stdout.splitlines() if line.split()[:1] == ["example"])
    assert plugin_line.split()[1:3] == ["headwater-example-plugin", "0.1.0"]
    assert plugin_line.split(None, 3)[3].split(", ") == ALL_HOOKS

    # The rules section, in policy order: the example's two tryfirst rules, then everyone else's.
    rules_section = text.stdout.split("Orchestration rules (policy order)", 1)[1].split("\n\n", 1)[0]
    rows = [line.split() for line in rules_section.splitlines()[2:] if line.strip()]
    assert [row[:2] for row in rows[:2]] == [["1", "FailFast"], ["2", "MaintenanceWindow"]]
    assert rows[0][-1] == "headwater_example.rules.FailFast"
    assert rows[1][-1] == "headwater_example.rules.MaintenanceWindow"

    as_json = subprocess.run([*ls, "--json"], capture_output=True, text=True, env=env, timeout=120)
    info = json.loads(as_json.stdout)
    assert info["failures"] == []
    policy = info["orchestration_rules"]
    assert [(r["position"], r["name"]) for r in policy[:2]] == [(1, "FailFast"), (2, "MaintenanceWindow")]
    assert policy[1]["applies_to"] == ["task"] and (policy[1]["from_states"], policy[1]["to_states"]) == ("PENDING", "RUNNING")
    defaults = [r for r in policy if r["object"].startswith("headwater.defaults.")]
    assert {"CacheRetrieval", "CacheInsertion", "RetryFailedRuns"} <= {r["name"] for r in defaults}
    assert all(r["position"] > 2 for r in defaults)


# -- MaintenanceWindow ----------------------------------------------------------------------------


def _window_around_now(before_minutes, after_minutes):
    now = _dt.datetime.now(_dt.timezone.utc)
    start = now - _dt.timedelta(minutes=before_minutes)
    end = now + _dt.timedelta(minutes=after_minutes)
    return f"{start:%H:%M}-{end:%H:%M}"


@task(tags=["maintenance"])
def vacuum(table):
    return f"vacuumed {table}"


@task
def report():
    return "report"


@flow(task_runner="sequential")
def nightly():
    return vacuum("orders"), report()


def test_maintenance_task_waits_in_pending_while_the_window_is_open(plugins, monkeypatch, run_log):
    window = _window_around_now(1, 2)  # may cross midnight: the rule handles that too
    monkeypatch.setenv("HEADWATER_EXAMPLE_MAINTENANCE_WINDOW", window)
    monkeypatch.setenv("HEADWATER_EXAMPLE_MAINTENANCE_CHECK_SECONDS", "0.01")
    # The window "closes" as soon as the rule has made the run wait once: no test sleeps for minutes.
    run_log.on("wait for the maintenance window", lambda: os.environ.pop("HEADWATER_EXAMPLE_MAINTENANCE_WINDOW", None))

    assert nightly() == ("vacuumed orders", "report")

    waits = [(label, message) for label, message in run_log.messages if message.startswith("Waiting")]
    assert len(waits) == 1
    label, message = waits[0]
    assert label.startswith("Task run 'vacuum-")
    assert message.startswith("Waiting in state AwaitingMaintenanceWindow ")
    assert "before entering Running: task runs tagged 'maintenance' wait for the maintenance window" in message
    assert f"{window} UTC to close" in message
    seconds_left = int(message.rsplit("(", 1)[1].split("s from now")[0])
    assert 60 <= seconds_left <= 180
    _, task_runs = task_runs_of(nightly)
    by_task = {run.task_name: run for run in task_runs}
    assert history(by_task["vacuum"].id) == ["Pending", "AwaitingMaintenanceWindow", "Running", "Completed"]
    assert history(by_task["report"].id) == ["Pending", "Running", "Completed"]


def test_maintenance_task_runs_at_once_outside_the_window(plugins, monkeypatch, run_log):
    monkeypatch.setenv("HEADWATER_EXAMPLE_MAINTENANCE_WINDOW", _window_around_now(-120, 180))  # opens in two hours
    assert nightly() == ("vacuumed orders", "report")
    assert not [message for _, message in run_log.messages if message.startswith("Waiting")]


def test_a_badly_formed_window_fails_the_maintenance_task_naming_the_variable(plugins, monkeypatch):
    monkeypatch.setenv("HEADWATER_EXAMPLE_MAINTENANCE_WINDOW", "2am-4am")

    @flow(task_runner="sequential")
    def careful():
        return vacuum.call_with_state("orders"), report()

    state, other = careful()
    assert state.is_failed()
    assert "HEADWATER_EXAMPLE_MAINTENANCE_WINDOW='2am-4am'" in state.message
    assert "HH:MM-HH:MM" in state.message and "UTC" in state.message
    assert other == "report"  # untagged tasks do not care


def _maintenance_rule(plugins):
    return next(rule for rule in plugins.policy.rules if rule.name == "MaintenanceWindow")


@pytest.mark.parametrize(
    "window, clock, delay",
    [
        ("02:00-04:00", "03:00", 3600.0),
        ("02:00-04:00", "02:00", 7200.0),  # the start is in the window
        ("02:00-04:00", "04:00", None),  # the end is not
        ("02:00-04:00", "12:00", None),
        ("23:30-00:30", "23:45", 2700.0),  # across midnight, before it
        ("23:30-00:30", "00:10", 1200.0),  # across midnight, after it
        ("23:30-00:30", "00:30", None),
        ("23:30-00:30", "12:00", None),
    ],
)
def test_the_rule_asks_to_wait_until_the_window_closes(plugins, monkeypatch, window, clock, delay):
    monkeypatch.setenv("HEADWATER_EXAMPLE_MAINTENANCE_WINDOW", window)
    monkeypatch.setenv("HEADWATER_EXAMPLE_MAINTENANCE_CHECK_SECONDS", "86400")  # longer than any wait here
    rule = _maintenance_rule(plugins)
    hours, minutes = map(int, clock.split(":"))
    monkeypatch.setattr(rule, "clock", lambda: _dt.datetime(2030, 1, 1, hours, minutes, tzinfo=_dt.timezone.utc))
    run = TaskRun("vacuum-0", "vacuum", "vacuum-key", None, {}, tags=("maintenance",))
    run.state = Pending()
    ctx = TransitionContext(run, None, None, Running())
    rule.before_transition(ctx)
    assert ctx.delay_seconds == delay
    assert ctx.proposed_state.is_running()  # a wait, never a replacement


def test_the_wait_is_cut_into_checks(plugins, monkeypatch):
    monkeypatch.setenv("HEADWATER_EXAMPLE_MAINTENANCE_WINDOW", "02:00-04:00")
    rule = _maintenance_rule(plugins)
    monkeypatch.setattr(rule, "clock", lambda: _dt.datetime(2030, 1, 1, 3, 0, tzinfo=_dt.timezone.utc))
    run = TaskRun("vacuum-0", "vacuum", "vacuum-key", None, {}, tags=("maintenance",))
    run.state = Pending()
    ctx = TransitionContext(run, None, None, Running())
    rule.before_transition(ctx)
    assert ctx.delay_seconds == 60.0  # the default check interval
    assert "(3600s from now)" in ctx.reason


# -- FailFast -------------------------------------------------------------------------------------


@task
def boom():
    raise ValueError("the source is gone")


@task
def load(part):
    return part


@flow(task_runner="sequential")
def etl():
    first = boom.submit()
    later = [load.submit(part) for part in ("a", "b")]
    return first.wait(), [future.wait() for future in later]


def test_fail_fast_cancels_the_task_runs_not_started_after_a_failure(plugins):
    with tags("fail-fast"):
        state = etl(return_state=True)
    assert state.is_failed()
    _, task_runs = task_runs_of(etl)
    by_name = {run.task_name: [] for run in task_runs}
    for run in task_runs:
        by_name[run.task_name].append(run)
    [failed] = by_name["boom"]
    assert failed.state.name == "Failed"
    assert [run.state.name for run in by_name["load"]] == ["Cancelled", "Cancelled"]
    for run in by_name["load"]:
        assert f"task run '{failed.name}' (Failed: " in run.state.message
        assert "tagged 'fail-fast'" in run.state.message
        assert history(run.id) == ["Pending", "Cancelled"]  # never Running


def test_without_the_tag_the_other_task_runs_go_on(plugins):
    etl(return_state=True)
    _, task_runs = task_runs_of(etl)
    assert sorted(run.state.name for run in task_runs if run.task_name == "load") == ["Completed", "Completed"]


def test_a_failure_with_retries_left_does_not_cancel_anything(plugins):
    attempts = []

    @task(retries=1)
    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("once")
        return "ok"

    @flow(task_runner="sequential")
    def patient():
        return flaky.submit().result(), load.submit("a").result()

    with tags("fail-fast"):
        assert patient() == ("ok", "a")
    _, task_runs = task_runs_of(patient)
    flaky_run = next(run for run in task_runs if run.task_name == "flaky")
    assert history(flaky_run.id) == ["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]


def test_a_retry_of_the_flow_starts_with_a_clean_slate(plugins):
    calls = []

    @task
    def shaky():
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("first attempt")
        return "fine"

    @flow(task_runner="sequential", retries=1)
    def twice():
        first = shaky.submit()
        second = load.submit("x")
        return first.result(), second.result()

    with tags("fail-fast"):
        assert twice() == ("fine", "x")
    _, task_runs = task_runs_of(twice)
    assert [run.state.name for run in task_runs if run.task_name == "load"] == ["Cancelled", "Completed"]


# -- TimedTaskRunner ------------------------------------------------------------------------------


def test_the_timed_runner_runs_tasks_and_logs_their_wall_time(plugins, run_log):
    @task
    def square(x):
        return x * x

    @task
    async def shout(word):
        return word.upper()

    @flow(task_runner="timed")
    def timed():
        return [f.result() for f in square.map(range(4))], shout.submit("hi").result()

    assert timed() == ([0, 1, 4, 9], "HI")
    timings = [(label, message) for label, message in run_log.messages if message.startswith("Function ran for ")]
    assert sorted(label.split("'")[1].split("-")[0] for label, _ in timings) == ["shout"] + ["square"] * 4
    assert all(message.endswith("s (attempt 1)") for _, message in timings)
    assert any("Using task runner 'TimedTaskRunner'" in message for _, message in run_log.messages)
    _, task_runs = task_runs_of(timed)
    assert [run.state.name for run in task_runs] == ["Completed"] * 5


# -- inputs_and_data_version ------------------------------------------------------------------------


def test_the_cache_key_changes_with_the_data_version(plugins, monkeypatch):
    calls = []

    @task(cache_key_fn="inputs_and_data_version")
    def extract(table):
        calls.append(table)
        return f"rows of {table}"

    @flow(task_runner="sequential")
    def pipeline(table):
        return extract.call_with_state(table).name

    monkeypatch.setenv("HEADWATER_EXAMPLE_DATA_VERSION", "1")
    assert pipeline("orders") == "Completed"
    assert pipeline("orders") == "Cached"  # same inputs, same version: a hit
    assert pipeline("users") == "Completed"  # other inputs: a miss
    monkeypatch.setenv("HEADWATER_EXAMPLE_DATA_VERSION", "2")
    assert pipeline("orders") == "Completed"  # new data: a miss
    assert pipeline("orders") == "Cached"
    monkeypatch.setenv("HEADWATER_EXAMPLE_DATA_VERSION", "1")
    assert pipeline("orders") == "Cached"  # the entry of version 1 is still there
    monkeypatch.delenv("HEADWATER_EXAMPLE_DATA_VERSION")
    assert pipeline("orders") == "Completed"  # unset is a version of its own
    assert calls == ["orders", "users", "orders", "orders"]


# -- function_by_code ----------------------------------------------------------------------------------


def test_a_function_input_is_hashed_by_its_code(plugins, tmp_path, monkeypatch):
    from headwater.tasks import task_input_hash

    module = tmp_path / "hw_example_transforms.py"
    module.write_text("def clean(rows):\n    return [row.strip() for row in rows]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import hw_example_transforms

    @task(cache_key_fn=task_input_hash)
    def apply(transform, rows):
        return transform(rows)

    @flow(task_runner="sequential")
    def transformed(transform):
        state = apply.call_with_state(transform, [" a "])
        return state.name, state.result()

    def make_scaler(factor):
        def scale(rows):
            return [row * factor for row in rows]

        return scale

    try:
        assert transformed(hw_example_transforms.clean) == ("Completed", ["a"])
        assert transformed(hw_example_transforms.clean) == ("Cached", ["a"])
        # The module's function changes under the same name: a new key, not the old result.
        module.write_text("def clean(rows):\n    return [row.strip().upper() for row in rows]\n")
        importlib.reload(hw_example_transforms)
        assert transformed(hw_example_transforms.clean) == ("Completed", ["A"])
        # One source, one name, different values closed over: different keys.
        assert transformed(make_scaler(2)) == ("Completed", [" a  a "])
        assert transformed(make_scaler(3)) == ("Completed", [" a  a  a "])
        assert transformed(make_scaler(2)) == ("Cached", [" a  a "])
    finally:
        sys.modules.pop("hw_example_transforms", None)


# -- MemoryStore ------------------------------------------------------------------------------------


def test_the_memory_store_is_selected_by_headwater_store_and_records_runs(plugins, monkeypatch, headwater_home):
    monkeypatch.setenv("HEADWATER_STORE", "memory")

    @task(cache_key_fn="inputs_and_data_version")
    def double(x):
        return 2 * x

    @flow(task_runner="sequential")
    def kept_in_memory(x):
        return double(x) + double(x)

    assert kept_in_memory(5) == 20
    store = get_store()
    assert type(store).__name__ == "MemoryStore" and type(store).__module__ == "headwater_example.store"
    client = get_client()
    [flow_run] = client.read_flow_runs()
    assert flow_run.flow_name == "kept-in-memory" and flow_run.state.name == "Completed"
    assert flow_run.parameters == {"x": 5}
    assert client.read_flow_run(flow_run.name).id == flow_run.id
    assert client.read_flow_run(flow_run.id[:8]).id == flow_run.id
    assert history(flow_run.id) == ["Pending", "Running", "Completed"]
    task_runs = client.read_task_runs(flow_run_id=flow_run.id)
    assert [run.state.name for run in task_runs] == ["Completed", "Cached"]
    assert task_runs[1].state.to_state().result() == 10  # the payload, read back from the store
    assert store.clear_cache() == 1
    assert not list(headwater_home.rglob("*.db"))  # nothing on disk


# -- the audit trail --------------------------------------------------------------------------------


def test_the_audit_file_gets_one_line_per_state_change_in_order(plugins, monkeypatch, tmp_path):
    audit = tmp_path / "audit.jsonl"
    monkeypatch.setenv("HEADWATER_EXAMPLE_AUDIT_FILE", str(audit))

    @task
    def step():
        return 1

    @flow(task_runner="sequential")
    def audited():
        return step()

    audited()
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(line["kind"], line["from"], line["to"]) for line in lines] == [
        ("flow", None, "Pending"),
        ("flow", "Pending", "Running"),
        ("task", None, "Pending"),
        ("task", "Pending", "Running"),
        ("task", "Running", "Completed"),
        ("flow", "Running", "Completed"),
    ]
    flow_run, [task_run] = task_runs_of(audited)
    assert {line["run_id"] for line in lines if line["kind"] == "flow"} == {flow_run.id}
    assert {(line["run_id"], line["flow_run_id"], line["task_name"]) for line in lines if line["kind"] == "task"} == {
        (task_run.id, flow_run.id, "step")
    }
    assert lines[-1]["flow_name"] == "audited" and lines[-1]["type"] == "COMPLETED"


# -- the docs quote the example's code ---------------------------------------------------------------


def test_the_code_quoted_in_writing_rules_is_the_examples_own():
    page = (EXAMPLE_DIST.parent.parent / "writing-rules.md").read_text()
    package = EXAMPLE_DIST / "headwater_example"
    sources = {path.name: path.read_text() for path in package.glob("*.py")}
    # Each block loses the indentation of its fence (a block in a list item), and keeps the module's.
    quotes = [
        "\n".join(line[len(fence):] for line in block.splitlines())
        for fence, block in re.findall(r"^( *)```py\n(.*?)^ *```", page, re.S | re.M)
    ]
    assert len(quotes) >= 4
    for quote in quotes:
        lines = [line for line in quote.splitlines() if line.strip()]
        # Each quoted line is a line of one module, in the module's order (a quote may leave out a docstring).
        assert any(_in_order(lines, source.splitlines()) for source in sources.values()), (
            f"quoted in docs/writing-rules.md but not found in the example's code:\n{quote}"
        )


def _in_order(lines, source_lines):
    remaining = iter(source_lines)
    return all(any(line == candidate for candidate in remaining) for line in lines)


# -- the runner passes headwater's runner contract ------------------------------------------------------


class TestTimedTaskRunnerConformance(RunnerConformance):
    """The example's runner, put through the suite every runner passes (see docs/runner-plugins.md)."""

    @pytest.fixture
    def runner(self, example_site, monkeypatch):
        monkeypatch.syspath_prepend(str(example_site))
        from headwater_example.runner import TimedTaskRunner

        return TimedTaskRunner(max_workers=4)
