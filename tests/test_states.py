"""States: constructors, types, names, reprs, results and the is_* helpers."""

import datetime as dt

import pytest

from headwater.exceptions import MissingResult, RunFailed, UnfinishedRun
from headwater.states import (
    AwaitingRetry,
    Cached,
    Cancelled,
    Completed,
    Crashed,
    Failed,
    Pending,
    Retrying,
    Running,
    Scheduled,
    State,
    StateType,
    TimedOut,
    UpstreamFailed,
)

CONSTRUCTORS = [
    (Scheduled, "Scheduled", StateType.SCHEDULED),
    (Pending, "Pending", StateType.PENDING),
    (Running, "Running", StateType.RUNNING),
    (Completed, "Completed", StateType.COMPLETED),
    (Failed, "Failed", StateType.FAILED),
    (Crashed, "Crashed", StateType.CRASHED),
    (Cancelled, "Cancelled", StateType.CANCELLED),
    (Cached, "Cached", StateType.COMPLETED),
    (AwaitingRetry, "AwaitingRetry", StateType.SCHEDULED),
    (Retrying, "Retrying", StateType.RUNNING),
    (TimedOut, "TimedOut", StateType.FAILED),
    (UpstreamFailed, "UpstreamFailed", StateType.FAILED),
]


@pytest.mark.parametrize("make, name, type_", CONSTRUCTORS, ids=[c[1] for c in CONSTRUCTORS])
def test_constructor_gives_name_and_type(make, name, type_):
    state = make()
    assert state.name == name
    assert state.type is type_
    assert state.message is None
    assert isinstance(state.timestamp, dt.datetime) and state.timestamp.tzinfo is not None


@pytest.mark.parametrize("make, name, type_", CONSTRUCTORS, ids=[c[1] for c in CONSTRUCTORS])
def test_repr_reads_like_the_tutorial(make, name, type_):
    assert repr(make()) == f"{name}(message=None, type={type_.value})"
    assert repr(make("hi")) == f"{name}(message='hi', type={type_.value})"


def test_repr_examples_from_the_spec():
    assert repr(Completed()) == "Completed(message=None, type=COMPLETED)"
    assert repr(Cached()) == "Cached(message=None, type=COMPLETED)"
    assert repr(Failed("Task run encountered an exception.")) == (
        "Failed(message='Task run encountered an exception.', type=FAILED)"
    )


def test_short_form_used_in_log_lines():
    assert Completed().short() == "Completed()"
    assert Completed("All states completed.").short() == "Completed('All states completed.')"
    assert Cached().short() == "Cached(type=COMPLETED)"
    assert Failed("boom").short() == "Failed('boom')"
    assert AwaitingRetry().short() == "AwaitingRetry(type=SCHEDULED)"


def test_sub_states_have_the_parent_type():
    assert Cached().is_completed()
    assert AwaitingRetry().is_scheduled()
    assert Retrying().is_running()
    assert TimedOut().is_failed()
    assert UpstreamFailed().is_failed()


@pytest.mark.parametrize(
    "state, true_helper",
    [
        (Scheduled(), "is_scheduled"),
        (Pending(), "is_pending"),
        (Running(), "is_running"),
        (Completed(), "is_completed"),
        (Failed(), "is_failed"),
        (Crashed(), "is_crashed"),
        (Cancelled(), "is_cancelled"),
    ],
    ids=lambda value: value if isinstance(value, str) else value.name,
)
def test_exactly_one_is_helper_is_true(state, true_helper):
    helpers = ["is_scheduled", "is_pending", "is_running", "is_completed", "is_failed", "is_crashed", "is_cancelled"]
    assert [h for h in helpers if getattr(state, h)()] == [true_helper]


@pytest.mark.parametrize("make", [Completed, Failed, Crashed, Cancelled, Cached, TimedOut])
def test_final_states(make):
    assert make().is_final()


@pytest.mark.parametrize("make", [Scheduled, Pending, Running, AwaitingRetry, Retrying])
def test_non_final_states(make):
    assert not make().is_final()


def test_result_of_completed_state_is_its_value():
    assert Completed(data=42).result() == 42
    assert Cached(data="hello Marvin").result() == "hello Marvin"
    assert Completed(data=None).result() is None


def test_result_of_failed_state_raises_the_exception():
    error = ValueError("bad code")
    state = Failed("Task run encountered an exception.", data=error)
    with pytest.raises(ValueError, match="bad code") as info:
        state.result()
    assert info.value is error


def test_result_raise_on_failure_false_returns_the_exception():
    error = KeyError("k")
    assert Failed(data=error).result(raise_on_failure=False) is error
    assert TimedOut(data=TimeoutError("t")).result(raise_on_failure=False).args == ("t",)


@pytest.mark.parametrize("make", [Failed, Crashed, Cancelled])
def test_failed_state_without_exception_raises_run_failed(make):
    with pytest.raises(RunFailed, match=make().name):
        make().result()
    assert isinstance(make().result(raise_on_failure=False), RunFailed)


def test_completed_state_without_data_raises_missing_result():
    with pytest.raises(MissingResult, match="persist_result"):
        Completed().result()


def test_unfinished_state_has_no_result():
    with pytest.raises(UnfinishedRun):
        Running().result()
    with pytest.raises(UnfinishedRun):
        Pending().result()


def test_awaiting_retry_carries_its_scheduled_time():
    when = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
    assert AwaitingRetry(scheduled_time=when).scheduled_time == when
    assert AwaitingRetry().scheduled_time is not None


def test_state_type_str_is_its_value():
    assert str(StateType.COMPLETED) == "COMPLETED"
    assert StateType("FAILED") is StateType.FAILED


def test_custom_name_and_copy():
    state = State(StateType.COMPLETED, "Special", "msg", data=1)
    assert state.name == "Special" and state.is_completed()
    twin = state.copy(message="other")
    assert twin.message == "other" and twin.name == "Special" and twin.result() == 1
    assert state.message == "msg"


def test_tasks_take_return_state_like_flows():
    from headwater import flow, task

    @task
    def boom(x: int) -> int:
        raise ValueError(f"bad {x}")

    @task
    async def fine(x: int) -> int:
        return x

    @flow
    def caller():
        failed = boom(3, return_state=True)  # no exception: the final state comes back
        completed = fine(4, return_state=True)  # an async task in a sync flow runs to its end
        return {"failed": failed, "completed": completed}  # a dict: its states are not counted

    states = caller()
    failed, completed = states["failed"], states["completed"]
    assert failed.is_failed() and "bad 3" in failed.message
    assert completed.is_completed() and completed.result() == 4
