"""Retry conditions and backoff policies: RetryFailedRuns decides, the options feed it."""

import logging

import pytest

import headwater
import headwater_sqlite
from headwater import flow, hookimpl, task
from headwater.client import get_client
from headwater.exceptions import ConfigurationError
from headwater.plugins import Plugins, use_plugins
from headwater.states import AWAITING_RETRY
from headwater.tasks import exponential_backoff
from headwater.testing import assert_state_history


def only_task_run():
    [run] = get_client().read_task_runs()
    return run


# -- retry_condition_fn ---------------------------------------------------------------------------


def test_condition_false_does_not_retry():
    calls = []

    def never(task, task_run, state):
        calls.append((task, task_run.name, type(state.result(raise_on_failure=False))))
        return False

    @task(retries=3, retry_delay_seconds=0, retry_condition_fn=never)
    def boom():
        raise ValueError("permanent")

    state = boom.call_with_state()
    assert state.is_failed() and isinstance(state.result(raise_on_failure=False), ValueError)
    run = only_task_run()
    assert run.run_count == 1
    assert_state_history(run.id, ["Pending", "Running", "Failed"])
    assert calls == [(boom, run.name, ValueError)]


def test_condition_decides_per_failure():
    attempts = []

    def only_timeouts(task, task_run, state):
        return isinstance(state.result(raise_on_failure=False), TimeoutError)

    @task(retries=5, retry_delay_seconds=0, retry_condition_fn=only_timeouts)
    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise TimeoutError("busy")
        raise KeyError("not worth retrying")

    with pytest.raises(KeyError):
        flaky()
    run = only_task_run()
    assert run.run_count == 3
    assert_state_history(
        run.id, ["Pending", "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Failed"]
    )


def test_condition_is_not_asked_once_retries_are_spent():
    asked = []

    def count(task, task_run, state):
        asked.append(task_run.run_count)
        return True

    @task(retries=1, retry_delay_seconds=0, retry_condition_fn=count)
    def boom():
        raise ValueError

    assert boom.call_with_state().is_failed()
    assert asked == [1]
    assert only_task_run().run_count == 2


def test_condition_that_raises_is_logged_and_the_run_fails_with_its_own_error(caplog):
    def buggy_condition(task, task_run, state):
        raise AttributeError("condition bug")

    @task(retries=2, retry_delay_seconds=0, retry_condition_fn=buggy_condition)
    def boom():
        raise ValueError("the real error")

    with caplog.at_level(logging.WARNING, logger="headwater"):
        state = boom.call_with_state()
    with pytest.raises(ValueError, match="the real error"):
        state.result()
    run = only_task_run()
    assert run.run_count == 1 and run.state.name == "Failed"
    assert_state_history(run.id, ["Pending", "Running", "Failed"])
    warning = next(r.getMessage() for r in caplog.records if "retry_condition_fn" in r.getMessage())
    assert "buggy_condition" in warning and "AttributeError: condition bug" in warning and run.name in warning


def test_flow_retry_condition():
    attempts = []

    @flow(retries=3, retry_delay_seconds=0, retry_condition_fn=lambda flow, run, state: len(attempts) < 2)
    def shaky():
        attempts.append(1)
        raise ConnectionError

    assert shaky(return_state=True).is_failed()
    assert len(attempts) == 2


def test_retry_condition_must_be_callable():
    with pytest.raises(ConfigurationError, match=r"task 't': retry_condition_fn=True is not callable"):
        task(name="t", retry_condition_fn=True)(lambda: None)
    with pytest.raises(ConfigurationError, match=r"flow 'f': retry_condition_fn='no' is not callable"):
        flow(name="f", retry_condition_fn="no")(lambda: None)


def test_with_options_keeps_the_condition():
    def cond(task, run, state):
        return False

    @task(retries=1, retry_condition_fn=cond)
    def t():
        pass

    assert t.with_options(name="other").retry_condition_fn is cond


# -- exponential backoff -----------------------------------------------------------------------------


def test_exponential_backoff_doubles_from_the_factor():
    assert exponential_backoff(10)(4) == [10, 20, 40, 80]
    assert exponential_backoff(0.5)(0) == []
    assert headwater.exponential_backoff is exponential_backoff


@pytest.mark.parametrize("factor", [-1, "2", None, True])
def test_exponential_backoff_rejects_bad_factors(factor):
    with pytest.raises(ConfigurationError, match=rf"exponential_backoff\(backoff_factor={factor!r}\)"):
        exponential_backoff(factor)


def test_a_backoff_policy_gives_one_delay_per_retry():
    @task(retries=3, retry_delay_seconds=exponential_backoff(2))
    def t():
        pass

    assert t.retry_delay_seconds == [2, 4, 8]
    # A new number of retries works the delays out again from the policy.
    assert t.with_options(retries=4).retry_delay_seconds == [2, 4, 8, 16]


def test_a_backoff_policy_that_returns_nonsense_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match=r"task 't': retry_delay_seconds=<function .*> returned 5 for retries=2"):
        task(name="t", retries=2, retry_delay_seconds=lambda n: 5)(lambda: None)
    with pytest.raises(ConfigurationError, match=r"retry_delay_seconds=\[-1, -1\]"):
        task(name="t", retries=2, retry_delay_seconds=lambda n: [-1] * n)(lambda: None)


class ScheduledDelays:
    """Records how far ahead each AwaitingRetry state was scheduled."""

    def __init__(self):
        self.delays = []

    @hookimpl
    def on_task_run_state_change(self, task_run, old_state, new_state):
        if new_state.name == AWAITING_RETRY:
            self.delays.append((new_state.scheduled_time - new_state.timestamp).total_seconds())


@pytest.fixture
def scheduled_delays():
    recorder = ScheduledDelays()
    plugins = Plugins(load_entry_points=False)
    plugins.register(headwater_sqlite, name="sqlite")
    plugins.register(recorder)
    with use_plugins(plugins):
        yield recorder.delays


def test_awaiting_retry_is_scheduled_by_the_backoff(scheduled_delays):
    @task(retries=3, retry_delay_seconds=exponential_backoff(0.01))
    def always_fails():
        raise ValueError

    assert always_fails.call_with_state().is_failed()
    assert scheduled_delays == pytest.approx([0.01, 0.02, 0.04], abs=0.005)


def test_jitter_spreads_the_backoff_delays(scheduled_delays):
    @task(retries=3, retry_delay_seconds=exponential_backoff(0.01), retry_jitter_factor=0.5)
    def always_fails():
        raise ValueError

    assert always_fails.call_with_state().is_failed()
    assert len(scheduled_delays) == 3
    for delay, base in zip(scheduled_delays, [0.01, 0.02, 0.04]):
        assert base * 0.5 - 0.005 <= delay <= base * 1.5 + 0.005
