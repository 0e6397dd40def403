"""Prefect 2.20's states concept page, its examples ported with ``prefect`` renamed ``headwater``."""

from functools import partial

from headwater import flow, task
from headwater.futures import HeadwaterFuture
from headwater.states import TERMINAL_TYPES, State, StateType


@task
def add_one(x):
    return x + 1


@flow
def subflow():
    return 42


def test_the_state_types_and_the_terminal_ones():
    assert {t.value for t in TERMINAL_TYPES} == {"COMPLETED", "CANCELLED", "FAILED", "CRASHED"}
    # Differs: no CANCELLING type (there is no server to clean infrastructure up); Late is recorded
    # by `headwater serve` as a SCHEDULED state, as Prefect does.
    assert {t.value for t in StateType} == {"SCHEDULED", "PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED", "CRASHED", "PAUSED"}


def test_calls_return_data_states_or_futures():
    @flow
    def my_flow():
        data, sub_data = add_one(1), subflow()
        state = add_one(1, return_state=True)
        sub_state = subflow(return_state=True)
        future = add_one.submit(1)
        return (
            data,
            sub_data,
            isinstance(state, State) and state.result(),
            isinstance(sub_state, State) and sub_state.result(),
            isinstance(future, HeadwaterFuture) and future.result(),
            future.wait().is_completed(),
        )

    assert my_flow() == (2, 42, 2, 42, 2, True)


def test_a_state_hook_on_a_flow():
    said = []

    def my_success_hook(flow, flow_run, state):
        said.append("Flow run succeeded!")

    @flow(on_completion=[my_success_hook])
    def my_flow():
        return 42

    assert my_flow() == 42 and said == ["Flow run succeeded!"]


def test_several_hooks_and_one_hook_for_several_transitions():
    said = []

    def my_success_hook(task, task_run, state):
        said.append("succeeded")

    def my_failure_hook(task, task_run, state):
        said.append("failed")

    def my_succeed_or_fail_hook(task, task_run, state):
        said.append("either")

    hooks = dict(on_completion=[my_success_hook, my_succeed_or_fail_hook], on_failure=[my_failure_hook, my_succeed_or_fail_hook])

    @task(**hooks)
    def ok():
        return 1

    @task(**hooks)
    def bad():
        raise ValueError("no")

    @flow
    def f():
        ok()
        bad(return_state=True)

    f()
    assert said == ["succeeded", "either", "failed", "either"]


def test_hooks_with_default_arguments_and_with_partial_keywords():
    data = {}

    def my_hook(flow, flow_run, state, my_arg="custom_value"):
        data.update(my_arg=my_arg, state=state)

    @flow(on_completion=[my_hook])
    def lazy_flow():
        pass

    state = lazy_flow(return_state=True)
    assert data == {"my_arg": "custom_value", "state": state}

    data.clear()

    def kw_hook(task, task_run, state, **kwargs):
        data.update(state=state, **kwargs)

    @task
    def bad_task():
        raise ValueError("meh")

    @flow
    def ok_with_failure_flow(x: str = "foo", y: int = 42):
        bad_task_with_a_hook = bad_task.with_options(on_failure=[partial(kw_hook, **dict(x=x, y=y))])
        return "bar", bad_task_with_a_hook(return_state=True)

    _, task_run_state = ok_with_failure_flow()
    assert data["x"] == "foo" and data["y"] == 42
    assert data["state"].is_failed() and task_run_state.is_failed()
