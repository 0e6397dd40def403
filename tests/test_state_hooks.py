"""State hooks: on_completion, on_failure, on_cancellation and on_crashed, called once the final state is recorded."""

import asyncio
import logging

import pytest

from headwater import flow, task
from headwater.client import get_client
from headwater.exceptions import ConfigurationError
from headwater.runs import FlowRun, TaskRun
from headwater.states import StateType


class Recorder:
    """A hook that records what it was called with, and what the store held for the run at that moment."""

    def __init__(self, name="recorder"):
        self.calls = []
        self.__qualname__ = name

    def __call__(self, subject, run, state):
        recorded = get_client().read_state_history(run.id)
        self.calls.append((subject, run, state, [s.name for s in recorded]))


def test_task_on_completion_gets_the_task_its_run_and_the_recorded_final_state():
    done = Recorder()

    @task(on_completion=[done])
    def add(x, y):
        return x + y

    @flow
    def f():
        return add(1, 2)

    assert f() == 3
    [(subject, run, state, recorded)] = done.calls
    assert subject is add
    assert isinstance(run, TaskRun) and run.task_name == "add"
    assert state.is_completed() and state.result() == 3
    assert recorded == ["Pending", "Running", "Completed"]  # the final state was recorded before the hook


def test_task_on_failure_after_the_last_retry_only():
    failed, done = Recorder(), Recorder()

    @task(retries=2, retry_delay_seconds=0, on_failure=[failed], on_completion=[done])
    def boom():
        raise ValueError("no")

    @flow
    def f():
        return boom.call_with_state()

    state = f(return_state=True)  # the flow returned the task's Failed state, and ends in it
    assert state.is_failed()
    [(_, run, hook_state, recorded)] = failed.calls
    assert run.run_count == 3
    assert isinstance(hook_state.result(raise_on_failure=False), ValueError)
    assert recorded[-1] == "Failed" and recorded.count("AwaitingRetry") == 2
    assert done.calls == []


def test_cached_run_fires_on_completion():
    done = Recorder()

    @task(cache_key_fn=lambda ctx, params: "state-hooks-cached", on_completion=[done])
    def once():
        return "value"

    @flow
    def f():
        return once(), once()

    assert f() == ("value", "value")
    assert [state.name for _, _, state, _ in done.calls] == ["Completed", "Cached"]


def test_flow_hooks_for_completion_and_failure():
    done, failed = Recorder(), Recorder()

    @flow(on_completion=[done], on_failure=[failed])
    def maybe(fail: bool):
        if fail:
            raise RuntimeError("asked to fail")
        return "fine"

    assert maybe(False) == "fine"
    with pytest.raises(RuntimeError):
        maybe(True)
    [(subject, run, state, recorded)] = done.calls
    assert subject is maybe and isinstance(run, FlowRun) and run.flow_name == "maybe"
    assert state.is_completed() and recorded[-1] == "Completed"
    [(_, run, state, recorded)] = failed.calls
    assert state.is_failed() and recorded[-1] == "Failed"


def test_flow_parameter_error_fires_on_failure():
    failed = Recorder()

    @flow(on_failure=[failed])
    def typed(n: int):
        return n

    state = typed("not a number", return_state=True)
    assert state.is_failed()
    assert [s.name for _, _, s, _ in failed.calls] == ["Failed"]


def test_keyboard_interrupt_fires_on_cancellation_then_propagates():
    cancelled, failed = Recorder(), Recorder()

    @flow(on_cancellation=[cancelled], on_failure=[failed])
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        interrupted()
    [(_, run, state, recorded)] = cancelled.calls
    assert state.type is StateType.CANCELLED and recorded[-1] == "Cancelled"
    assert failed.calls == []


def test_crash_fires_on_crashed(monkeypatch):
    crashed = Recorder()

    @flow(on_crashed=[crashed])
    def victim():
        return 1

    # Orchestration itself fails: the engine records the run Crashed (through the policy if it still works).
    from headwater.flow_engine import FlowRunEngine

    def broken(self):
        raise RuntimeError("orchestration broke")
        yield  # pragma: no cover

    monkeypatch.setattr(FlowRunEngine, "steps", broken)
    state = victim(return_state=True)
    assert state.is_crashed()
    [(_, run, hook_state, recorded)] = crashed.calls
    assert hook_state is state and recorded[-1] == "Crashed"


def test_a_hook_that_raises_is_logged_and_the_state_and_later_hooks_stand(caplog):
    later = Recorder()

    def broken_hook(task, run, state):
        raise LookupError("hook bug")

    @task(on_completion=[broken_hook, later])
    def fine():
        return 1

    @flow
    def f():
        return fine.call_with_state()

    with caplog.at_level(logging.ERROR, logger="headwater"):
        state = f(return_state=True)
    assert state.is_completed() and state.result() == 1
    assert len(later.calls) == 1
    messages = [r.getMessage() for r in caplog.records if "hook" in r.getMessage()]
    assert any("broken_hook" in m and later.calls[0][1].name in m and "on_completion" in m for m in messages), messages
    run = get_client().read_task_runs()[0]
    assert run.state.name == "Completed"


def test_async_hooks_are_awaited():
    seen = []

    async def notify(flow, run, state):
        await asyncio.sleep(0)
        seen.append(state.name)

    @flow(on_completion=[notify])
    async def af():
        return 1

    assert asyncio.run(af()) == 1
    assert seen == ["Completed"]


def test_with_options_keeps_the_hooks_and_can_replace_them():
    first, second = Recorder(), Recorder()

    @task(on_completion=[first])
    def t():
        return 1

    @flow(on_failure=[first])
    def f():
        raise ValueError

    assert t.with_options(name="renamed").on_completion_hooks == (first,)
    assert t.with_options(on_completion=[second]).on_completion_hooks == (second,)
    assert f.with_options(retries=1).on_failure_hooks == (first,)


def test_hooks_cost_nothing_without_hooks():
    @task
    def plain():
        return 1

    assert plain.state_hooks == {}


@pytest.mark.parametrize("option", ["on_completion", "on_failure"])
@pytest.mark.parametrize("bad", [print, "notify", [print, 3]])
def test_bad_task_hooks_are_configuration_errors(option, bad):
    with pytest.raises(ConfigurationError) as info:
        task(**{option: bad})(lambda: None)
    message = str(info.value)
    assert option in message and "task '<lambda>'" in message
    assert repr(bad if not isinstance(bad, list) else bad[-1]) in message


@pytest.mark.parametrize("option", ["on_completion", "on_failure", "on_cancellation", "on_crashed"])
def test_bad_flow_hooks_are_configuration_errors(option):
    def hook(flow, run, state):
        pass

    with pytest.raises(ConfigurationError, match=rf"flow 'g': {option}=<function .*hook.* must be a list of functions, for example {option}=\[hook\]"):
        flow(name="g", **{option: hook})(lambda: None)


def test_task_has_no_cancellation_hooks():
    with pytest.raises(TypeError):
        task(on_cancellation=[print])(lambda: None)
