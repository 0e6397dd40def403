"""headwater's pytest plugin, tried the way a user's test suite meets it: through pytester."""

import os
import pathlib
import re
import sys

import pytest

from headwater import flow, task
from headwater.testing import assert_state_history, latest_flow_run, state_history

pytest_plugins = ["pytester"]

USER_FLOWS = """
from headwater import flow, task

attempts = []


@task
def double(x: int) -> int:
    return 2 * x


@task(retries=1)
def flaky() -> str:
    attempts.append(1)
    if len(attempts) == 1:
        raise ValueError("first try fails")
    return "ok"


@flow(name="doubler")
def doubler(x: int) -> int:
    return double(x)


@flow(name="flaky-flow")
def flaky_flow() -> str:
    return flaky()
"""


@pytest.fixture
def user_project(pytester):
    """A user's project: a module of flows beside the test files pytester writes."""
    pytester.makepyfile(user_flows=USER_FLOWS)
    pytester.syspathinsert()
    return pytester


def test_fixture_isolates_home_and_store(user_project, monkeypatch):
    # The user's environment points headwater elsewhere; an isolated test must see none of it.
    outside = user_project.path / "outside"
    monkeypatch.delenv("HEADWATER_HOME", raising=False)
    monkeypatch.setenv("HEADWATER_DATABASE_URL", f"sqlite:///{outside / 'other.db'}")
    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", "")
    user_project.makepyfile(
        test_user="""
        import os

        from headwater.testing import assert_state_history, latest_flow_run
        from user_flows import doubler


        def test_runs_are_recorded_under_tmp(headwater_home, headwater_client, tmp_path):
            assert os.environ["HEADWATER_HOME"] == str(headwater_home)
            assert headwater_home.is_relative_to(tmp_path)
            assert "HEADWATER_DATABASE_URL" not in os.environ and "HEADWATER_LOAD_PLUGINS" not in os.environ
            assert doubler(21) == 42
            run = latest_flow_run("doubler")
            assert_state_history(run, ["Pending", "Running", "Completed"])
            [task_run] = headwater_client.read_task_runs(flow_run_id=run.id)
            assert_state_history(task_run, ["Pending", "Running", "Completed"])
            assert (headwater_home / "headwater.db").is_file()


        def test_each_test_has_its_own_store(headwater_client):
            assert headwater_client.read_flow_runs() == []
            assert doubler(1) == 2
            assert len(headwater_client.read_flow_runs()) == 1
        """
    )
    # A process of its own: nothing of this test process's settings or stores carries over.
    result = user_project.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert os.environ["HOME"] == str(user_project.path)  # pytester points HOME at its own folder
    assert not (user_project.path / ".headwater").exists(), "~/.headwater was written"
    assert not outside.exists()


OPT_IN_TESTS = """
import os

import pytest


def test_plain():
    print("HOME-OF-plain", os.environ.get("HEADWATER_HOME"))


@pytest.mark.headwater_isolate
def test_marked(tmp_path):
    assert os.environ["HEADWATER_HOME"].startswith(str(tmp_path))


def test_fixture(headwater_home):
    assert os.environ["HEADWATER_HOME"] == str(headwater_home)
"""


def test_isolation_is_opt_in(pytester, monkeypatch):
    monkeypatch.setenv("HEADWATER_HOME", "/users/own/home")
    pytester.makepyfile(test_opt_in=OPT_IN_TESTS)
    result = pytester.runpytest("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*HOME-OF-plain /users/own/home*"])  # an unmarked test is left alone


def test_ini_option_isolates_every_test(pytester, monkeypatch):
    monkeypatch.setenv("HEADWATER_HOME", "/users/own/home")
    pytester.makeini("[pytest]\nheadwater_isolate = true\n")
    pytester.makepyfile(test_opt_in=OPT_IN_TESTS)
    result = pytester.runpytest("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)
    result.stdout.no_fnmatch_line("*HOME-OF-plain /users/own/home*")
    result.stdout.fnmatch_lines(["*HOME-OF-plain */test_plain0/headwater-home"])


def test_plugin_is_registered_and_can_be_disabled(pytester):
    result = pytester.runpytest("--fixtures", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["*fixtures defined from headwater.testing.pytest_plugin*"])
    result.stdout.fnmatch_lines(["headwater_home -- *", "    An isolated headwater home for this test*"])
    result.stdout.fnmatch_lines(["headwater_client -- *", "    A :class:`headwater.client.Client` reading this test's isolated store."])
    result = pytester.runpytest("--markers", "-p", "no:cacheprovider")
    result.stdout.fnmatch_lines(["@pytest.mark.headwater_isolate*"])
    result = pytester.runpytest("--markers", "-p", "no:headwater", "-p", "no:cacheprovider")
    result.stdout.no_fnmatch_line("*headwater_isolate*")


def test_helpers_failure_messages(user_project):
    user_project.makepyfile(
        test_user="""
        from headwater.testing import assert_state_history, latest_flow_run
        from user_flows import doubler, flaky_flow


        def test_wrong_history(headwater_client):
            flaky_flow()
            [task_run] = headwater_client.read_task_runs()
            assert_state_history(task_run, ["Pending", "Running", "Completed"])


        def test_by_name(headwater_home):
            doubler(2)
            run = latest_flow_run("doubler")
            assert_state_history(run.name, ["Pending", "Running", "Failed"])


        def test_no_such_flow(headwater_home):
            doubler(2)
            latest_flow_run("tripler")


        def test_no_such_run(headwater_home):
            assert_state_history("0000ffff", ["Pending"])
        """
    )
    result = user_project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: task run 'flaky-*' of task 'flaky' (*): state history differs",
            "*actual:   Pending -> Running -> AwaitingRetry -> Retrying -> Completed",
            "*expected: Pending -> Running -> Completed",
            "*! AwaitingRetry: Retry 1 of 1",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: flow run '*' of flow 'doubler' (*): state history differs",
            "*expected: Pending -> Running -> Failed",
            "*! Completed: *",
        ]
    )
    result.stdout.fnmatch_lines(["*AssertionError: no recorded run of flow 'tripler'; flows with runs in this store: 'doubler'"])
    result.stdout.fnmatch_lines(["*AssertionError: run '0000ffff' has no recorded states in this store*expected Pending"])


# -- the helpers, called directly (this suite's tests are isolated by tests/conftest.py) -------------


@task
def add(x: int, y: int) -> int:
    return x + y


@flow(name="adder")
def adder(x: int) -> int:
    return add.submit(x, 1).result()


def test_helpers_accept_records_runs_ids_names_and_flows(client):
    assert adder(1) == 2
    run = latest_flow_run(adder)
    assert run == latest_flow_run("adder")
    expected = ["Pending", "Running", "Completed"]
    for given in (run, run.id, run.id[:8], run.name):
        assert_state_history(given, expected)
        assert [state.name for state in state_history(given)] == expected
    [task_run] = client.read_task_runs(flow_run_id=run.id)
    assert_state_history(task_run, expected)
    assert_state_history(task_run.id, expected)


def test_helpers_accept_a_future(client):
    futures = []

    @flow
    def keeps_its_future():
        futures.append(add.submit(1, 2))
        return futures[0].result()

    assert keeps_its_future() == 3
    assert_state_history(futures[0], ["Pending", "Running", "Completed"])
    with pytest.raises(AssertionError, match=r"task run 'add-\w+-0' of task 'add' \([0-9a-f]{8}\): state history differs"):
        assert_state_history(futures[0], ["Pending", "Completed"])


def test_helpers_read_a_given_client(client):
    adder(1)
    assert latest_flow_run("adder", client=client).flow_name == "adder"


def test_assert_state_history_takes_a_list_of_names(client):
    adder(1)
    with pytest.raises(TypeError, match="list of state names"):
        assert_state_history(latest_flow_run("adder"), "Completed")
    with pytest.raises(TypeError, match="run id"):
        assert_state_history(42, ["Completed"])


def test_fixture_restores_the_environment(pytester, monkeypatch):
    monkeypatch.setenv("HEADWATER_STORE", "kept-after-the-test")
    pytester.makepyfile(
        test_env="""
        import os

        def test_it(headwater_home):
            assert "HEADWATER_STORE" not in os.environ
        """
    )
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    assert os.environ["HEADWATER_STORE"] == "kept-after-the-test"
    assert sys.modules.get("headwater.testing.pytest_plugin") is not None


def test_the_documented_example_passes(pytester):
    """The test module shown in docs/testing.md passes when run by pytest."""
    page = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "testing.md").read_text()
    [example] = [block for block in re.findall(r"^```python\n(.*?)^```", page, re.S | re.M) if "def test_" in block]
    pytester.makepyfile(test_etl=example)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_run_logs_land_in_the_captured_output_of_their_test(user_project):
    # headwater writes log lines from a background thread, a few milliseconds late: the plugin
    # writes out what is still queued at the end of each test phase, inside pytest's capture.
    user_project.makepyfile(
        test_logs="""
        import logging

        from user_flows import doubler


        def test_fails_after_a_run(headwater_home):
            doubler(2)
            logging.getLogger("headwater.flow_runs").info("last words")
            assert False, "look at the logs"


        def test_passes_quietly(headwater_home):
            doubler(3)
            logging.getLogger("headwater.flow_runs").info("quiet words")
        """
    )
    result = user_project.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:logging")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        ["*- Captured stderr call -*", "*Flow run '*' - Beginning flow run '*' for flow 'doubler'", "*last words", "*1 failed, 1 passed*"]
    )
    assert "quiet words" not in result.stdout.str() + result.stderr.str()
