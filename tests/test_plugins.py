"""The plugin architecture: runners, rules, cache-key functions and event hooks from plugins, and entry-point loading."""

import sys
import threading
import time
import warnings
from pathlib import Path

import pytest

import headwater_sqlite
from headwater import flow, hookimpl, task
from headwater.client import get_client
from headwater.exceptions import ConfigurationError, PluginError
from headwater.orchestration import OrchestrationRule
from headwater.plugins import Plugins, use_plugins
from headwater.states import Cancelled, StateType
from headwater.task_runners import EventLoopTaskRunner, SequentialTaskRunner

PLUGIN_DIST = Path(__file__).parent / "plugin_dist"


@pytest.fixture
def plugins():
    """A fresh plugin manager without entry points: the defaults, plus the SQLite store registered by hand."""
    fresh = Plugins(load_entry_points=False)
    fresh.register(headwater_sqlite, name="sqlite")
    with use_plugins(fresh):
        yield fresh


def history(run_id):
    return [state.name for state in get_client().read_state_history(run_id)]


# -- task runners from plugins ------------------------------------------------------------------

EXECUTED = []


class RecordingRunner(EventLoopTaskRunner):
    name = "myname"

    async def execute(self, call):
        EXECUTED.append((call.task.name, dict(call.kwargs), threading.current_thread().name))
        return call.run_sync()


class RunnerPlugin:
    @hookimpl
    def register_task_runners(self, register):
        register(RecordingRunner)


def test_plugin_runner_is_used_by_name(plugins):
    EXECUTED.clear()

    @task
    def double(x):
        return x * 2

    @flow(task_runner="myname")
    def f():
        return [double.submit(i).result() for i in range(3)]

    with pytest.raises(ConfigurationError, match="myname"):
        f()
    plugins.register(RunnerPlugin())
    assert "myname" in plugins.task_runners.names()
    assert f() == [0, 2, 4]
    assert [(name, kwargs) for name, kwargs, _ in EXECUTED] == [("double", {"x": 0}), ("double", {"x": 1}), ("double", {"x": 2})]
    assert all(thread_name == "headwater-myname-loop" for _, _, thread_name in EXECUTED)
    run = get_client().read_flow_runs()[0]
    assert [t.state.name for t in get_client().read_task_runs(flow_run_id=run.id)] == ["Completed"] * 3


def test_plugin_runner_gets_orchestration_for_free(plugins):
    """Retries and upstream resolution work on a plugin runner: it only executes."""
    plugins.register(RunnerPlugin())
    attempts = []

    @task(retries=1)
    def flaky(x):
        attempts.append(x)
        if len(attempts) == 1:
            raise ValueError("first")
        return x

    @task
    def inc(x):
        return x + 1

    @flow(task_runner="myname")
    def f():
        return inc.submit(flaky.submit(1)).result()

    assert f() == 2
    assert attempts == [1, 1]


# -- orchestration rules from plugins ---------------------------------------------------------------


class MaintenanceWindow(OrchestrationRule):
    """Task runs tagged 'maintenance' are cancelled instead of started."""

    applies_to = frozenset({"task"})
    from_states = frozenset({StateType.PENDING})
    to_states = frozenset({StateType.RUNNING})

    def before_transition(self, ctx):
        if "maintenance" in ctx.run.tags:
            ctx.replace(Cancelled("maintenance window"), reason="maintenance")


class MaintenancePlugin:
    @hookimpl
    def register_orchestration_rules(self, register):
        register(MaintenanceWindow())


def _maintenance_flow(calls):
    @task(tags=["maintenance"])
    def risky():
        calls.append("risky")
        return "risky"

    @task
    def normal():
        calls.append("normal")
        return "normal"

    @flow
    def f():
        a, b = risky.submit(), normal.submit()
        return a.result(raise_on_failure=False), b.result()

    return f


def test_rule_from_plugin_changes_the_outcome(plugins):
    calls = []
    f = _maintenance_flow(calls)
    assert f() == ("risky", "normal")  # without the rule: both run
    assert sorted(calls) == ["normal", "risky"]

    calls.clear()
    plugins.register(MaintenancePlugin())
    assert MaintenanceWindow.name == "MaintenanceWindow"
    risky_result, normal_result = f()
    assert normal_result == "normal"
    assert calls == ["normal"]  # the cancelled task never ran
    runs = {run.task_name: run for run in get_client().read_task_runs(flow_run_id=get_client().read_flow_runs()[0].id)}
    assert runs["risky"].state.name == "Cancelled"
    assert runs["risky"].state.message == "maintenance window"
    assert history(runs["risky"].id) == ["Pending", "Cancelled"]
    assert runs["normal"].state.name == "Completed"


class DelayOnce(OrchestrationRule):
    applies_to = frozenset({"task"})
    from_states = frozenset({StateType.PENDING})
    to_states = frozenset({StateType.RUNNING})

    def __init__(self):
        self.delayed = set()

    def before_transition(self, ctx):
        if ctx.run.id not in self.delayed:
            self.delayed.add(ctx.run.id)
            ctx.delay(0.2, "waiting for a slot")


def _delay_once_flow(plugins):
    rule = DelayOnce()

    class DelayPlugin:
        @hookimpl
        def register_orchestration_rules(self, register):
            register(rule)

    plugins.register(DelayPlugin())

    @task
    def t():
        return time.time()

    @flow
    def f():
        return t()

    return rule, f


def test_rule_that_delays_makes_the_run_wait_and_propose_again(plugins, caplog):
    rule, f = _delay_once_flow(plugins)
    started = time.time()
    ran_at = f()
    assert ran_at - started >= 0.19
    assert len(rule.delayed) == 1
    [run] = get_client().read_task_runs()
    assert history(run.id) == ["Pending", "Running", "Completed"]  # a delay records no state
    assert any("waiting for a slot" in r.getMessage() and "Waiting" in r.getMessage() for r in caplog.records)


def test_state_entered_after_a_delay_is_timestamped_when_entered(plugins):
    _, f = _delay_once_flow(plugins)
    f()
    [run] = get_client().read_task_runs()
    states = get_client().read_state_history(run.id)
    assert (states[1].timestamp - states[0].timestamp).total_seconds() >= 0.19
    assert (run.start_time - states[0].timestamp).total_seconds() >= 0.19


def test_rule_that_raises_is_logged_and_skipped(plugins, caplog):
    class Exploding(OrchestrationRule):
        def before_transition(self, ctx):
            raise RuntimeError("rule bug")

    class ExplodingPlugin:
        @hookimpl
        def register_orchestration_rules(self, register):
            register(Exploding())

    plugins.register(ExplodingPlugin())

    @flow
    def f():
        return 3

    assert f() == 3
    assert any("Exploding" in r.getMessage() for r in caplog.records if r.name == "headwater.orchestration")


def test_registering_a_non_rule_is_a_plugin_error(plugins):
    class BadRules:
        @hookimpl
        def register_orchestration_rules(self, register):
            register(MaintenanceWindow)  # the class, not an instance

    with pytest.raises(PluginError, match="OrchestrationRule"):
        plugins.register(BadRules())


# -- event hooks: the lifecycle contract --------------------------------------------------------------


class Listener:
    def __init__(self):
        self.events = []
        self.lock = threading.Lock()

    @hookimpl
    def on_flow_run_state_change(self, flow_run, old_state, new_state):
        with self.lock:
            self.events.append(("flow", flow_run.flow_name, old_state.name if old_state else None, new_state.name))

    @hookimpl
    def on_task_run_state_change(self, task_run, old_state, new_state):
        with self.lock:
            self.events.append(("task", task_run.task_name, old_state.name if old_state else None, new_state.name))


def test_event_hooks_see_every_transition_in_order(plugins):
    listener = Listener()
    plugins.register(listener)

    @task
    def step():
        return 1

    @flow
    def simple():
        return step()

    assert simple() == 1
    assert listener.events == [
        ("flow", "simple", None, "Pending"),
        ("flow", "simple", "Pending", "Running"),
        ("task", "step", None, "Pending"),
        ("task", "step", "Pending", "Running"),
        ("task", "step", "Running", "Completed"),
        ("flow", "simple", "Running", "Completed"),
    ]


def test_event_hooks_see_retries_and_cache_hits(plugins):
    listener = Listener()
    plugins.register(listener)
    attempts = []

    @task(retries=1, cache_key_fn=lambda context, parameters: "fixed")
    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first")
        return "ok"

    @flow
    def f():
        return flaky(), flaky()

    assert f() == ("ok", "ok")
    task_events = [event[2:] for event in listener.events if event[0] == "task"]
    assert task_events == [
        (None, "Pending"), ("Pending", "Running"), ("Running", "AwaitingRetry"), ("AwaitingRetry", "Retrying"),
        ("Retrying", "Completed"),
        (None, "Pending"), ("Pending", "Cached"),
    ]


def test_event_hook_that_raises_does_not_break_the_run(plugins):
    class Broken:
        @hookimpl
        def on_flow_run_state_change(self, flow_run, new_state):  # a subset of the arguments is allowed
            raise RuntimeError("listener bug")

    plugins.register(Broken())

    @flow
    def f():
        return "fine"

    assert f() == "fine"
    assert get_client().read_flow_runs()[0].state.name == "Completed"


# -- registration errors -----------------------------------------------------------------------------


class DuplicateSequential(SequentialTaskRunner):
    name = "sequential"


class DuplicatePlugin:
    @hookimpl
    def register_task_runners(self, register):
        register(DuplicateSequential)


def test_duplicate_runner_name_names_both(plugins):
    with pytest.raises(PluginError) as info:
        plugins.register(DuplicatePlugin())
    message = str(info.value)
    assert "'sequential'" in message
    assert "headwater.task_runners.SequentialTaskRunner" in message
    assert "DuplicateSequential" in message


class FirstLetterPlugin:
    @hookimpl
    def register_cache_key_functions(self, register):
        register(lambda context, parameters: str(parameters["word"])[:1], name="first_letter")


def test_refused_plugin_is_not_left_registered(plugins):
    with pytest.raises(PluginError):
        plugins.register(DuplicatePlugin())
    plugins.register(FirstLetterPlugin())
    assert "first_letter" in plugins.cache_key_functions
    assert plugins.task_runner_class("sequential") is SequentialTaskRunner


def test_registering_a_non_task_runner_is_a_plugin_error(plugins):
    class NotARunner:
        name = "not-a-runner"

    class BadPlugin:
        @hookimpl
        def register_task_runners(self, register):
            register(NotARunner)

    with pytest.raises(PluginError) as info:
        plugins.register(BadPlugin())
    assert "headwater.task_runners.TaskRunner" in str(info.value)
    assert "NotARunner" in str(info.value)


def test_plugin_with_unknown_hook_is_refused(plugins):
    class Typo:
        @hookimpl
        def register_task_runner(self, register):  # missing 's'
            pass

    with pytest.raises(Exception, match="register_task_runner"):
        plugins.register(Typo())


def test_cache_key_function_from_a_plugin_by_name(plugins):
    plugins.register(FirstLetterPlugin())
    calls = []

    @task(cache_key_fn="first_letter")
    def shout(word):
        calls.append(word)
        return word.upper()

    @flow
    def f(word):
        return shout(word)

    assert f("apple") == "APPLE"
    assert f("avocado") == "APPLE"  # same first letter: cached
    assert f("banana") == "BANANA"
    assert calls == ["apple", "banana"]
    assert [r.cache_key for r in get_client().read_task_runs()] == ["a", "a", "b"]


class Connection:
    """A value task_input_hash cannot hash by itself: not canonical data, and its lock cannot be pickled."""

    def __init__(self, url):
        self.url = url
        self.lock = threading.Lock()


class ConnectionHasherPlugin:
    def __init__(self):
        self.asked = []

    @hookimpl
    def register_input_hashers(self, register):
        def connection_by_url(value):
            self.asked.append(type(value).__name__)
            return {"url": value.url} if isinstance(value, Connection) else NotImplemented

        register(connection_by_url)


def test_input_hasher_from_a_plugin_makes_a_custom_type_cacheable(plugins):
    calls = []

    @task(cache_key_fn="task_input_hash")
    def query(connection, sql):
        calls.append((connection.url, sql))
        return len(calls)

    @flow
    def f():
        return [
            query(Connection("db://a"), "select 1"),
            query(Connection("db://a"), "select 1"),  # an equal connection: Cached
            query(Connection("db://b"), "select 1"),  # another one: runs
        ]

    assert f() == [1, 2, 3]  # without the hasher nothing is cached
    hasher = ConnectionHasherPlugin()
    plugins.register(hasher)
    assert plugins.input_hashers.names() == ["connection_by_url"]
    calls.clear()
    assert f() == [1, 1, 2]
    assert calls == [("db://a", "select 1"), ("db://b", "select 1")]
    # Asked only about the values task_input_hash does not know: never about the SQL string.
    assert set(hasher.asked) == {"Connection"}
    latest = get_client().read_flow_runs(limit=1)[0]
    keys = [r.cache_key for r in sorted(get_client().read_task_runs(flow_run_id=latest.id), key=lambda r: r.name)]
    assert keys[0] == keys[1] != keys[2] and None not in keys


def test_input_hasher_that_raises_runs_the_task_uncached_and_names_the_hasher(plugins, caplog):
    class BrokenHasher:
        @hookimpl
        def register_input_hashers(self, register):
            def explode(value):
                raise RuntimeError("hasher bug")

            register(explode)

    plugins.register(BrokenHasher())

    @task(cache_key_fn="task_input_hash")
    def use(connection):
        return connection.url

    assert use(Connection("db://a")) == "db://a"
    assert get_client().read_task_runs()[0].cache_key is None
    assert any("'explode'" in r.getMessage() and "hasher bug" in r.getMessage() for r in caplog.records)


def test_duplicate_input_hasher_name_names_both(plugins):
    class One:
        @hookimpl
        def register_input_hashers(self, register):
            register(lambda value: NotImplemented, name="same")

    class Two:
        @hookimpl
        def register_input_hashers(self, register):
            register(lambda value: NotImplemented, name="same")

    plugins.register(One())
    with pytest.raises(PluginError, match="input hasher name 'same' is registered twice"):
        plugins.register(Two())
    assert plugins.input_hashers.names() == ["same"]


def test_default_plugins_register_the_builtins(plugins):
    assert {"sequential", "concurrent"} <= set(plugins.task_runners.names())
    assert {"task_input_hash", "task_source_hash", "flow_parameters_hash"} <= set(plugins.cache_key_functions.names())
    assert [rule.name for rule in plugins.policy.rules] == [
        "CacheRetrieval", "CacheInsertion", "RetryFailedRuns", "TagConcurrencyLimits",  # trylast: after the cache
    ]
    assert "sqlite" in plugins.stores


def test_every_hook_is_documented():
    from headwater import hookspecs

    names = hookspecs.hook_names()
    assert set(names) == {
        "register_task_runners",
        "register_result_stores",
        "register_cache_key_functions",
        "register_input_hashers",
        "register_orchestration_rules",
        "register_commands",
        "on_flow_run_state_change",
        "on_task_run_state_change",
    }
    for name in names:
        doc = getattr(hookspecs, name).__doc__
        assert doc and len(doc.strip()) > 40, name


# -- entry points ---------------------------------------------------------------------------------


def _fake_distribution(site: Path, dist: str, version: str, entry_point: str, module: str, source: str) -> None:
    """A distribution as pip would leave it: a module and a .dist-info folder with its entry point."""
    (site / f"{module}.py").write_text(source)
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(f"[headwater]\n{entry_point} = {module}\n")


OK_PLUGIN = """
from headwater import hookimpl
from headwater.task_runners import SequentialTaskRunner

class FakeThirdRunner(SequentialTaskRunner):
    name = "fake-third"

@hookimpl
def register_task_runners(register):
    register(FakeThirdRunner)
"""


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    """Two installed third-party plugins on sys.path: 'hw_broken' raises on import, 'hw_fake_ok' works."""
    site = tmp_path / "site"
    site.mkdir()
    _fake_distribution(site, "hw-broken", "1.2", "hw_broken", "hw_broken_plugin", "raise RuntimeError('boom at import')\n")
    _fake_distribution(site, "hw-fake-ok", "2.0", "hw_fake_ok", "hw_fake_ok_plugin", OK_PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    yield site
    for module in ("hw_broken_plugin", "hw_fake_ok_plugin"):
        sys.modules.pop(module, None)


def test_entry_point_that_fails_to_import_gives_one_warning(third_party):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = Plugins()
    runtime = [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert len(runtime) == 1
    text = str(runtime[0].message)
    assert "hw_broken" in text and "hw-broken" in text and "boom at import" in text
    [failure] = loaded.failures
    assert (failure.entry_point, failure.value, failure.distribution, failure.version) == (
        "hw_broken", "hw_broken_plugin", "hw-broken", "1.2",
    )
    assert "RuntimeError" in failure.error
    # Everything else keeps working: the other plugin and the built-in store loaded.
    assert "fake-third" in loaded.task_runners.names()
    assert "sqlite" in loaded.stores

    @task
    def t():
        return 1

    @flow(task_runner="fake-third")
    def f():
        return t.submit().result()

    with use_plugins(loaded):
        assert f() == 1


def test_strict_plugins_reraise(third_party):
    with pytest.raises(RuntimeError, match="boom at import"):
        Plugins(strict=True)


def test_allow_list_skips_third_party_but_not_the_builtin_store(third_party):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the broken plugin is not even imported
        loaded = Plugins(allow=set())
    assert loaded.failures == []
    assert "fake-third" not in loaded.task_runners.names()
    assert "sqlite" in loaded.stores

    only_ok = Plugins(allow={"hw_fake_ok"})
    assert "fake-third" in only_ok.task_runners.names()
    assert only_ok.failures == [] and "sqlite" in only_ok.stores


def test_block_list_skips_named_plugins_but_not_the_builtin_store(third_party):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = Plugins(block={"hw_broken", "sqlite"})
    assert loaded.failures == []
    assert "fake-third" in loaded.task_runners.names()
    assert "sqlite" in loaded.stores  # built in: cannot be blocked


def test_allow_and_block_lists_from_settings(third_party, monkeypatch):
    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", "")
    assert "fake-third" not in Plugins.from_settings().task_runners.names()
    monkeypatch.delenv("HEADWATER_LOAD_PLUGINS")
    monkeypatch.setenv("HEADWATER_BLOCK_PLUGINS", "hw_broken, hw_fake_ok")
    loaded = Plugins.from_settings()
    assert "fake-third" not in loaded.task_runners.names() and loaded.failures == []
    assert "sqlite" in loaded.stores


def test_describe_lists_plugins_with_their_distribution(third_party):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = {row["name"]: row for row in Plugins().describe()}
    assert rows["hw_fake_ok"]["distribution"] == "hw-fake-ok"
    assert rows["hw_fake_ok"]["version"] == "2.0"
    assert rows["hw_fake_ok"]["hooks"] == ["register_task_runners"]
    assert rows["sqlite"]["distribution"] == "headwater"
    assert rows["headwater.defaults.rules"]["distribution"] == "headwater"
    assert "hw_broken" not in rows


# -- a real plugin distribution, built and installed with pip ----------------------------------------

E2E_CODE = """
from headwater import flow, task
from headwater.plugins import get_plugins

@task
def double(x):
    return 2 * x

@flow(task_runner="example-inline")
def uses_plugin_runner(x):
    return double.submit(x).result()

print("result", uses_plugin_runner(21))
import hw_example_plugin
print("submitted", hw_example_plugin.ExampleInlineRunner.submitted)
row = {r["name"]: r for r in get_plugins().describe()}["hw_example"]
print("plugin", row["distribution"], row["version"], ",".join(row["hooks"]))
"""


@pytest.fixture(scope="module")
def example_plugin_site(install_distribution):
    """tests/plugin_dist built and installed by pip into a folder of its own (the shared venv is left alone)."""
    return install_distribution(PLUGIN_DIST, "hw_example_plugin-0.3.1.dist-info")


def test_pip_installed_plugin_is_found_through_its_entry_point(example_plugin_site, run_python):
    proc = run_python(E2E_CODE, env={"PYTHONPATH": str(example_plugin_site)})
    lines = proc.stdout.splitlines()
    assert "result 42" in lines
    assert "submitted 1" in lines
    assert "plugin hw-example-plugin 0.3.1 register_task_runners" in lines
    assert "Using task runner 'ExampleInlineRunner'" in proc.stderr
    [run] = get_client().read_flow_runs()
    assert run.flow_name == "uses-plugin-runner" and run.state.name == "Completed"


def test_without_the_plugin_installed_the_runner_name_is_unknown(example_plugin_site, run_python):
    proc = run_python(E2E_CODE, check=False)
    assert proc.returncode != 0
    assert "ConfigurationError" in proc.stderr and "example-inline" in proc.stderr
