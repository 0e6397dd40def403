"""Prefect 2.20's logging page, ported: log_prints on a flow reaches its tasks and subflows unless they
opt out, HEADWATER_LOGGING_LOG_PRINTS turns it on everywhere; and the flow's on_running hook."""

import pytest

from headwater import flow, get_run_logger, task
from headwater.client import get_client
from headwater.exceptions import ConfigurationError


def _stored_messages():
    [run] = [r for r in get_client().read_flow_runs() if r.parent_flow_run_id is None]
    return [line.message for line in get_client().read_logs(run.id)]


def test_a_flows_log_prints_reaches_its_tasks_and_subflows_unless_they_opt_out(headwater_home, capsys):
    @task
    def inherits():
        print("task inherits")

    @task(log_prints=False)
    def opts_out():
        print("task opts out")

    @flow
    def subflow():
        print("subflow inherits")

    @flow(log_prints=True)
    def parent():
        print("flow prints")
        inherits()
        inherits.submit().result()  # on the runner's thread too
        opts_out()
        subflow()

    parent()
    stored = _stored_messages()
    assert {"flow prints", "task inherits", "subflow inherits"} <= set(stored)
    assert stored.count("task inherits") == 2
    assert "task opts out" not in stored and "task opts out" in capsys.readouterr().out


def test_without_log_prints_print_goes_to_stdout(headwater_home, capsys):
    @task
    def noisy():
        print("plain print")

    @flow
    def quiet():
        noisy()

    quiet()
    assert "plain print" not in _stored_messages() and "plain print" in capsys.readouterr().out


def test_the_setting_turns_log_prints_on_where_it_is_unset(headwater_home, monkeypatch, capsys):
    monkeypatch.setenv("HEADWATER_LOGGING_LOG_PRINTS", "true")

    @task
    def noisy():
        print("logged by the setting")

    @task(log_prints=False)
    def still_quiet():
        print("kept on stdout")

    @flow
    def f():
        noisy()
        still_quiet()

    f()
    stored = _stored_messages()
    assert "logged by the setting" in stored and "kept on stdout" not in stored
    assert "kept on stdout" in capsys.readouterr().out


def test_on_running_is_called_as_each_attempt_starts(headwater_home):
    seen = []
    attempts = []

    def note(flow_, flow_run, state):
        seen.append((flow_.name, state.name, flow_run.run_count))
        get_run_logger().info("on_running saw %s", state.name)  # hooks run in the run's context

    @flow(retries=1, on_running=[note])
    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first attempt fails")
        return "ok"

    assert flaky() == "ok"
    assert seen == [("flaky", "Running", 1), ("flaky", "Retrying", 2)]
    assert list(flaky.with_options(name="again").on_running_hooks) == [note]


def test_a_bad_on_running_hook_is_refused():
    with pytest.raises(ConfigurationError, match=r"on_running=\['not callable'\] must hold functions"):
        flow(on_running=["not callable"])(lambda: None)


def test_disable_run_logger_lets_a_tasks_function_be_called_directly(caplog):
    from headwater.exceptions import MissingContextError
    from headwater.logging import disable_run_logger

    @task
    def logs_something(x):
        get_run_logger().info("working on %s", x)
        return x + 1

    with pytest.raises(MissingContextError, match="disable_run_logger"):
        logs_something.fn(1)
    with disable_run_logger():
        assert logs_something.fn(1) == 2
    assert "working on" not in caplog.text
    with pytest.raises(MissingContextError):  # and it is over once the block ends
        logs_something.fn(1)


def test_extra_loggers_lines_in_a_run_become_the_runs(headwater_home, monkeypatch):
    import logging

    monkeypatch.setenv("HEADWATER_LOGGING_EXTRA_LOGGERS", "thirdparty.lib, other")
    library = logging.getLogger("thirdparty.lib")
    library.setLevel(logging.INFO)

    @task
    def uses_the_library():
        library.info("library line in a task")

    @flow
    def f():
        library.warning("library line in the flow")
        uses_the_library()

    f()
    library.info("library line outside any run")
    [run] = get_client().read_flow_runs()
    lines = {line.message: line for line in get_client().read_logs(run.id)}
    assert lines["library line in a task"].run_id != run.id  # the task run's
    assert lines["library line in the flow"].run_id == run.id and lines["library line in the flow"].level == logging.WARNING
    assert not any("outside any run" in message for message in lines)
