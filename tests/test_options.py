"""Each option of @flow and @task, the ways tasks are called, and the bad values of every option."""

import asyncio
import datetime as dt
import logging
import re
import threading
import time

import pytest

from headwater import flow, get_run_logger, tags, task, unmapped
from headwater.client import get_client
from headwater.exceptions import ConfigurationError, HeadwaterError, MissingResult, ParameterError, UpstreamFailedError
from headwater.futures import wait
from headwater.states import State
from headwater.task_runners import ConcurrentTaskRunner, SequentialTaskRunner


def history(run_id):
    return [state.name for state in get_client().read_state_history(run_id)]


def only_flow_run():
    [run] = get_client().read_flow_runs()
    return run


def task_runs_by_name():
    return {run.task_name: run for run in get_client().read_task_runs()}


# -- names -----------------------------------------------------------------------------------


def test_flow_name_defaults_to_function_name_with_dashes():
    @flow
    def my_nice_flow():
        return 1

    assert my_nice_flow.name == "my-nice-flow"
    my_nice_flow()
    assert only_flow_run().flow_name == "my-nice-flow"


def test_task_name_defaults_to_function_name():
    @task
    def my_nice_task():
        return 1

    @flow
    def f():
        return my_nice_task()

    assert my_nice_task.name == "my_nice_task"
    assert f() == 1
    [run] = get_client().read_task_runs()
    assert run.task_name == "my_nice_task"
    assert re.fullmatch(r"my_nice_task-[0-9a-f]{8}-0", run.name)


def test_task_run_names_count_up_within_a_flow_run():
    @task
    def t(x):
        return x

    @flow
    def f():
        return [t(i) for i in range(3)]

    assert f() == [0, 1, 2]
    names = [run.name for run in get_client().read_task_runs()]
    keys = {name.rsplit("-", 2)[1] for name in names}
    assert len(keys) == 1  # one stable key per task
    assert sorted(name.rsplit("-", 1)[1] for name in names) == ["0", "1", "2"]


def test_flow_and_task_expose_fn_and_keep_the_function_metadata():
    def original(x: int) -> int:
        """Doc."""
        return x

    wrapped = flow(original)
    assert wrapped.fn is original
    assert wrapped.__name__ == "original" and wrapped.__doc__ == "Doc."
    assert task(original).fn is original


# -- flow retries ------------------------------------------------------------------------------


def test_flow_retries_rerun_the_whole_body():
    attempts, task_calls = [], []

    @task
    def step():
        task_calls.append(1)
        return 1

    @flow
    def child():
        return "child"

    @flow(retries=2, retry_delay_seconds=0)
    def flaky():
        attempts.append(1)
        step()
        child()
        if len(attempts) < 3:
            raise RuntimeError("not yet")
        return "ok"

    assert flaky() == "ok"
    assert len(attempts) == 3
    assert len(task_calls) == 3
    parent = [run for run in get_client().read_flow_runs() if run.flow_name == "flaky"][0]
    assert parent.run_count == 3
    assert history(parent.id) == ["Pending", "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Completed"]
    children = [run for run in get_client().read_flow_runs() if run.flow_name == "child"]
    assert len(children) == 3 and all(run.parent_flow_run_id == parent.id for run in children)
    assert len(get_client().read_task_runs(flow_run_id=parent.id)) == 3


def test_flow_retries_exhausted_raise_the_last_error():
    attempts = []

    @flow(retries=1)
    def always_fails():
        attempts.append(1)
        raise KeyError("nope")

    with pytest.raises(KeyError):
        always_fails()
    assert len(attempts) == 2
    assert history(only_flow_run().id)[-1] == "Failed"


def test_retry_delay_seconds_as_a_list_is_one_delay_per_retry():
    @task(retries=2, retry_delay_seconds=[0, 0.3])
    def failing():
        raise ValueError("x")

    @flow
    def f():
        failing()

    with pytest.raises(ValueError):
        f()
    [run] = get_client().read_task_runs()
    states = get_client().read_state_history(run.id)
    assert [s.name for s in states] == ["Pending", "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Failed"]
    first_wait = (states[3].timestamp - states[2].timestamp).total_seconds()
    second_wait = (states[5].timestamp - states[4].timestamp).total_seconds()
    assert first_wait < 0.25
    assert second_wait >= 0.25


def test_retry_delay_function():
    from headwater.defaults.rules import retry_delay

    assert retry_delay(5, 1, None) == 5.0
    assert [retry_delay([1, 2, 4], attempt, None) for attempt in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 4.0]
    samples = {retry_delay(10, 1, 0.5) for _ in range(50)}
    assert all(5.0 <= s <= 15.0 for s in samples)
    assert len(samples) > 1  # the jitter spreads them


def test_retry_jitter_factor_is_accepted():
    attempts = []

    @task(retries=1, retry_delay_seconds=0.01, retry_jitter_factor=0.5)
    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first time")
        return "ok"

    @flow(retries=0, retry_jitter_factor=0.1)
    def f():
        return flaky()

    assert flaky.retry_jitter_factor == 0.5
    assert f() == "ok" and len(attempts) == 2


# -- timeouts --------------------------------------------------------------------------------


def test_task_timeout_records_timed_out_state():
    @task(timeout_seconds=0.2)
    def slow():
        time.sleep(5)

    @flow
    def f():
        try:
            slow()
        except TimeoutError as exc:
            return type(exc).__name__

    started = time.monotonic()
    assert f() == "TimeoutError"
    assert time.monotonic() - started < 3
    [run] = get_client().read_task_runs()
    assert run.state.name == "TimedOut"
    assert run.state.type.value == "FAILED"
    assert "0.2" in run.state.message


def test_task_timeout_gives_timed_out_state():
    @task(timeout_seconds=0.2)
    def slow():
        time.sleep(5)

    @flow
    def f():
        slow()

    started = time.monotonic()
    state = f(return_state=True)
    assert time.monotonic() - started < 3
    assert state.is_failed() and state.name == "Failed"  # the flow had no timeout of its own
    [run] = get_client().read_task_runs()
    assert run.state.name == "TimedOut"
    assert run.state.type.value == "FAILED"
    with pytest.raises(TimeoutError):
        state.result()


def test_task_timeout_on_a_worker_thread():
    @task(timeout_seconds=0.2)
    def slow():
        for _ in range(200):
            time.sleep(0.01)

    @flow(task_runner=ConcurrentTaskRunner())
    def f():
        future = slow.submit()
        state = future.wait()
        assert isinstance(future.result(raise_on_failure=False), TimeoutError)
        return state.name

    started = time.monotonic()
    assert f() == "TimedOut"
    assert time.monotonic() - started < 1.5
    [run] = get_client().read_task_runs()
    assert run.state.name == "TimedOut" and run.state.type.value == "FAILED"


def test_flow_timeout():
    @flow(timeout_seconds=0.2)
    def slow_flow():
        for _ in range(200):
            time.sleep(0.01)

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        slow_flow()
    assert time.monotonic() - started < 1.5
    run = only_flow_run()
    assert run.state.name == "TimedOut" and run.state.type.value == "FAILED"
    state = slow_flow(return_state=True)
    assert state.name == "TimedOut" and state.is_failed()
    assert isinstance(state.result(raise_on_failure=False), TimeoutError)


def test_async_flow_timeout():
    @flow(timeout_seconds=0.2)
    async def slow_flow():
        await asyncio.sleep(5)

    started = time.monotonic()
    state = asyncio.run(slow_flow(return_state=True))
    assert time.monotonic() - started < 3
    assert state.name == "TimedOut" and state.is_failed()


def test_flow_timeout_survives_a_task_with_its_own_timeout():
    @task(timeout_seconds=30)
    def quick():
        return 1

    @flow(timeout_seconds=0.3)
    def slow_flow():
        quick()
        for _ in range(80):
            time.sleep(0.01)
        return "finished"

    started = time.monotonic()
    with pytest.raises(TimeoutError):
        slow_flow()
    assert time.monotonic() - started < 0.7
    assert only_flow_run().state.name == "TimedOut"


# -- log_prints and run loggers ----------------------------------------------------------------


def test_log_prints_sends_print_to_the_run_logger(capsys, caplog):
    @task(log_prints=True)
    def noisy_task():
        print("hello from the task")

    @flow(log_prints=True)
    def noisy_flow():
        print("hello from the flow")
        noisy_task()

    noisy_flow()
    out = capsys.readouterr().out
    assert "hello from the flow" not in out and "hello from the task" not in out
    records = {r.getMessage(): r for r in caplog.records}
    assert records["hello from the flow"].name == "headwater.flow_runs"
    assert records["hello from the flow"].run_label.startswith("Flow run '")
    assert records["hello from the task"].name == "headwater.task_runs"
    assert records["hello from the task"].run_label.startswith("Task run 'noisy_task-")


def test_without_log_prints_print_goes_to_stdout(capsys, caplog):
    @flow
    def quiet_flow():
        print("plain print")

    quiet_flow()
    assert "plain print" in capsys.readouterr().out
    assert not any("plain print" in r.getMessage() for r in caplog.records)


def test_get_run_logger_names_the_run(caplog):
    @task
    def t():
        get_run_logger().info("from the task")

    @flow
    def f():
        get_run_logger().warning("from the flow")
        t()

    f()
    records = {r.getMessage(): r for r in caplog.records}
    run = only_flow_run()
    assert records["from the flow"].run_label == f"Flow run '{run.name}'"
    assert records["from the flow"].levelno == logging.WARNING
    assert records["from the task"].run_label.startswith("Task run 't-")


def test_get_run_logger_outside_a_run_is_an_error():
    with pytest.raises(HeadwaterError, match="outside a flow run"):
        get_run_logger()


# -- parameters ------------------------------------------------------------------------------


def test_validate_parameters_coerces_from_type_hints():
    @flow
    def typed(x: int, y: float = 1.5):
        return x, y

    assert typed("5") == (5, 1.5)
    value, _ = typed("7", y="2")
    assert value == 7 and type(value) is int


def test_bad_parameter_gives_failed_run_and_parameter_error():
    body_ran = []

    @flow
    def typed(x: int):
        body_ran.append(x)
        return x

    with pytest.raises(ParameterError, match=r"'x'") as info:
        typed("abc")
    assert "abc" in str(info.value)
    assert body_ran == []
    run = only_flow_run()
    assert run.state.type.value == "FAILED"
    assert "'x'" in run.state.message
    state = typed("abc", return_state=True)
    assert state.is_failed() and isinstance(state.result(raise_on_failure=False), ParameterError)


def test_validate_parameters_false_passes_values_through():
    @flow(validate_parameters=False)
    def typed(x: int):
        return x

    assert typed("5") == "5"
    assert typed("abc") == "abc"


def test_wrong_arguments_are_a_parameter_error():
    @flow
    def f(x):
        return x

    with pytest.raises(ParameterError, match="f"):
        f(1, 2)


def test_parameters_are_recorded():
    @task
    def t(a, b=2):
        return a + b

    @flow
    def f(n: int, label: str = "x"):
        return t(n)

    assert f(3) == 5
    assert only_flow_run().parameters == {"n": 3, "label": "x"}
    [run] = get_client().read_task_runs()
    assert run.parameters == {"a": 3, "b": 2}


# -- results ---------------------------------------------------------------------------------


def test_flow_persist_result_stores_the_return_value():
    @flow(persist_result=True)
    def f():
        return {"answer": 42}

    assert f() == {"answer": 42}
    run = only_flow_run()
    assert run.state.storage_key is not None
    assert run.state.to_state().result() == {"answer": 42}


def test_task_persist_result_true_stores_the_value_without_a_cache_key():
    @task(persist_result=True)
    def kept():
        return [1, 2, 3]

    @task
    def not_kept():
        return [4]

    @flow
    def f():
        kept()
        not_kept()

    f()
    runs = task_runs_by_name()
    assert runs["kept"].state.to_state().result() == [1, 2, 3]
    assert runs["not_kept"].state.storage_key is None
    with pytest.raises(MissingResult):
        runs["not_kept"].state.to_state().result()


def test_non_json_result_round_trips_through_the_store():
    @task(persist_result=True)
    def kept():
        return {1, 2}, dt.date(2024, 1, 2)

    @flow
    def f():
        return kept()

    f()
    [run] = get_client().read_task_runs()
    assert run.state.to_state().result() == ({1, 2}, dt.date(2024, 1, 2))


# -- caching options -----------------------------------------------------------------------------


def test_refresh_cache_runs_and_overwrites():
    calls = []

    def constant_key(context, parameters):
        return "the-key"

    @task(cache_key_fn=constant_key)
    def counted():
        calls.append(1)
        return len(calls)

    @flow
    def f(refresh: bool):
        chosen = counted.with_options(refresh_cache=True) if refresh else counted
        return chosen()

    assert f(False) == 1
    assert f(False) == 1  # cached
    assert f(True) == 2  # refreshed: ran again
    assert f(False) == 2  # the cache now holds the refreshed value
    assert len(calls) == 2


def test_cache_key_fn_that_raises_warns_and_runs_uncached(caplog):
    calls = []

    def broken_key(context, parameters):
        raise RuntimeError("key trouble")

    @task(cache_key_fn=broken_key)
    def sensitive_task(x):
        calls.append(x)
        return x

    @flow
    def f():
        return sensitive_task(1) + sensitive_task(1)

    assert f() == 2
    assert calls == [1, 1]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("sensitive_task" in m and "key trouble" in m for m in warnings), warnings
    assert all(run.cache_key is None for run in get_client().read_task_runs())


def test_cache_key_fn_returning_none_means_no_cache(caplog):
    calls = []

    @task(cache_key_fn=lambda context, parameters: None)
    def t():
        calls.append(1)
        return 1

    @flow
    def f():
        t()
        t()

    f()
    assert len(calls) == 2
    assert [r.state.name for r in get_client().read_task_runs()] == ["Completed", "Completed"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_cache_key_fn_sees_the_task_run_context():
    seen = {}

    def key_fn(context, parameters):
        seen.update(task=context.task.name, run=context.task_run.name, flow_run=context.flow_run.id, tags=context.task_run.tags,
                    parameters=dict(parameters))
        return "k"

    @task(cache_key_fn=key_fn, tags=["t1"])
    def t(a, b=3):
        return a

    @flow
    def f():
        return t(1)

    f()
    assert seen["task"] == "t"
    assert seen["run"].startswith("t-")
    assert seen["flow_run"] == only_flow_run().id
    assert list(seen["tags"]) == ["t1"]
    assert seen["parameters"] == {"a": 1, "b": 3}


def test_cache_is_shared_across_flows():
    from headwater.tasks import task_input_hash

    calls = []

    @task(cache_key_fn=task_input_hash)
    def shared(x):
        calls.append(x)
        return x * 10

    @flow
    def first_flow():
        return shared(1)

    @flow
    def second_flow():
        return shared(1)

    assert first_flow() == 10
    assert second_flow() == 10
    assert calls == [1]
    assert [run.state.name for run in get_client().read_task_runs()] == ["Completed", "Cached"]


# -- tags ------------------------------------------------------------------------------------


def test_tags_context_adds_tags_to_task_runs():
    @task(tags=["own"])
    def tagged():
        return 1

    @task
    def plain():
        return 1

    @flow
    def f():
        with tags("a", "b"):
            tagged()
            plain()
        plain()

    f()
    runs = get_client().read_task_runs()
    assert [run.tags for run in runs] == [["own", "a", "b"], ["a", "b"], []]


def test_tags_context_outside_the_flow_tags_its_runs():
    @task
    def t():
        return 1

    @flow
    def f():
        return t()

    with tags("outer"):
        f()
    assert only_flow_run().tags == ["outer"]
    assert get_client().read_task_runs()[0].tags == ["outer"]


def test_tags_context_refuses_non_strings():
    with pytest.raises(TypeError):
        with tags("a", 5):
            pass


# -- tasks outside a flow ------------------------------------------------------------------------


def test_task_called_outside_a_flow_is_retried_and_recorded():
    attempts = []

    @task(retries=1)
    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first")
        return "ok"

    assert flaky() == "ok"
    assert len(attempts) == 2
    [run] = get_client().read_task_runs()
    assert run.flow_run_id is None
    assert history(run.id) == ["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]
    assert get_client().read_flow_runs() == []


def test_task_called_outside_a_flow_is_cached():
    from headwater.tasks import task_input_hash

    calls = []

    @task(cache_key_fn=task_input_hash)
    def square(x):
        calls.append(x)
        return x * x

    assert square(3) == 9
    assert square(3) == 9
    assert square(4) == 16
    assert calls == [3, 4]
    assert [run.state.name for run in get_client().read_task_runs()] == ["Completed", "Cached", "Completed"]


def test_submit_outside_a_flow_is_an_error():
    @task
    def t():
        return 1

    with pytest.raises(HeadwaterError, match="submit"):
        t.submit()


def test_failing_task_outside_a_flow_raises_its_error():
    @task
    def t():
        raise LookupError("gone")

    with pytest.raises(LookupError, match="gone"):
        t()
    assert get_client().read_task_runs()[0].state.name == "Failed"


# -- subflows and async -----------------------------------------------------------------------


def test_subflow_is_linked_to_its_parent():
    @flow
    def child(x):
        return x * 2

    @flow
    def parent():
        return child(21)

    assert parent() == 42
    runs = {run.flow_name: run for run in get_client().read_flow_runs()}
    assert runs["child"].parent_flow_run_id == runs["parent"].id
    assert runs["parent"].parent_flow_run_id is None
    assert runs["child"].state.name == "Completed"


@pytest.mark.parametrize("runner", ["sequential", "concurrent"])
def test_a_subflow_called_in_a_task_is_linked_to_that_task_run_and_logs_as_itself(runner):
    @flow
    def child(x):
        return get_run_logger().extra["run_label"], x * 2

    @task
    def calls_a_flow(x):
        label, doubled = child(x)
        return get_run_logger().extra["run_label"], label, doubled

    @flow(task_runner=runner)
    def parent():
        return calls_a_flow.submit(21).result()

    task_label, child_label, doubled = parent()
    runs = {run.flow_name: run for run in get_client().read_flow_runs()}
    [task_run] = get_client().read_task_runs(flow_run_id=runs["parent"].id)
    assert runs["child"].parent_task_run_id == task_run.id
    assert runs["child"].parent_flow_run_id == runs["parent"].id
    assert runs["parent"].parent_task_run_id is None
    assert child_label == f"Flow run '{runs['child'].name}'"  # the subflow's own logger, not the task's
    assert task_label == f"Task run '{task_run.name}'" and doubled == 42  # and the task's again after it


def test_subflow_failure_fails_the_parent():
    @flow
    def child():
        raise ValueError("child broke")

    @flow
    def parent():
        return child()

    with pytest.raises(ValueError, match="child broke"):
        parent()
    runs = {run.flow_name: run for run in get_client().read_flow_runs()}
    assert runs["child"].state.name == "Failed" and runs["parent"].state.name == "Failed"


def test_async_flow_and_async_task():
    @task
    async def double(x):
        await asyncio.sleep(0.01)
        return x * 2

    @task
    def inc(x):
        return x + 1

    @flow
    async def async_flow(x):
        doubled = await double(x)
        return inc(doubled)

    assert asyncio.run(async_flow(3)) == 7
    run = only_flow_run()
    assert run.flow_name == "async-flow" and run.state.name == "Completed"
    assert sorted(r.task_name for r in get_client().read_task_runs(flow_run_id=run.id)) == ["double", "inc"]


def test_async_flow_failure_raises():
    @flow
    async def bad():
        raise ValueError("async broke")

    with pytest.raises(ValueError, match="async broke"):
        asyncio.run(bad())


def test_async_task_called_directly_from_a_sync_flow_runs_to_the_end():
    @task
    async def double(x):
        await asyncio.sleep(0.01)
        return x * 2

    @flow
    def f():
        return double(21)

    assert f() == 42
    run = only_flow_run()
    (task_run,) = get_client().read_task_runs(flow_run_id=run.id)
    assert task_run.state.name == "Completed"


def test_async_task_submitted_from_a_sync_flow():
    @task
    async def double(x):
        await asyncio.sleep(0.01)
        return x * 2

    @flow
    def f():
        return [double.submit(i).result() for i in range(3)]

    assert f() == [0, 2, 4]


def test_async_task_outside_a_flow():
    @task
    async def double(x):
        return x * 2

    assert asyncio.run(double(4)) == 8
    assert get_client().read_task_runs()[0].flow_run_id is None


# -- submitting, mapping, futures ------------------------------------------------------------------


def test_map_submits_one_run_per_element():
    @task
    def add(x, y):
        return x + sum(y)

    @flow
    def f():
        futures = add.map([1, 2, 3], unmapped([10, 20]))
        return [future.result() for future in futures]

    assert f() == [31, 32, 33]
    runs = get_client().read_task_runs()
    assert len(runs) == 3
    assert sorted(run.parameters["x"] for run in runs) == [1, 2, 3]


def test_map_with_iterables_of_different_lengths_is_an_error():
    @task
    def add(x, y):
        return x + y

    @flow
    def f():
        add.map([1, 2], [1])

    with pytest.raises(ValueError, match="different lengths"):
        f()


def test_futures_passed_as_arguments_are_resolved():
    @task
    def one():
        time.sleep(0.05)
        return 1

    @task
    def add(x, y):
        return x + y

    @task
    def total(values):
        return sum(values)

    @flow
    def f():
        a = one.submit()
        b = add.submit(a, 10)
        c = total.submit([a, b, 100])
        return c.result()

    assert f() == 112


def test_wait_for_orders_runs_without_passing_values():
    order = []

    @task
    def first():
        time.sleep(0.2)
        order.append("first")

    @task
    def second():
        order.append("second")

    @flow(task_runner=ConcurrentTaskRunner())
    def f():
        a = first.submit()
        b = second.submit(wait_for=[a])
        b.wait()

    f()
    assert order == ["first", "second"]


def test_failed_upstream_gives_upstream_failed():
    called = []

    @task
    def broken():
        raise ValueError("upstream broke")

    @task
    def downstream(x):
        called.append(x)
        return x

    @task
    def waits():
        called.append("waits")

    @flow
    def f():
        a = broken.submit()
        b = downstream.submit(a)
        c = waits.submit(wait_for=[a])
        with pytest.raises(UpstreamFailedError):
            b.result()
        assert c.wait().name == "UpstreamFailed"
        assert isinstance(c.result(raise_on_failure=False), UpstreamFailedError)
        assert isinstance(a.result(raise_on_failure=False), ValueError)
        return "handled"

    assert f() == "handled"  # every failure was looked at
    assert called == []
    runs = task_runs_by_name()
    assert runs["broken"].state.name == "Failed"
    for name in ("downstream", "waits"):
        assert runs[name].state.name == "UpstreamFailed"
        assert runs[name].state.type.value == "FAILED"
        assert "broken-" in runs[name].state.message


def test_return_state_gives_the_final_state():
    @flow
    def good():
        return 5

    @flow
    def bad():
        raise ValueError("no")

    state = good(return_state=True)
    assert state.is_completed() and state.result() == 5
    state = bad(return_state=True)
    assert state.is_failed()
    with pytest.raises(ValueError):
        state.result()
    assert isinstance(state.result(raise_on_failure=False), ValueError)


def test_unobserved_failed_submission_fails_the_flow():
    @task
    def broken():
        raise ValueError("never looked at")

    @flow
    def f():
        broken.submit()
        return "body finished"

    state = f(return_state=True)
    assert state.is_failed()
    assert state.message == "1/1 states failed."
    with pytest.raises(ValueError, match="never looked at"):
        f()
    assert only_flow_run_named("f").state.message == "1/1 states failed."


def only_flow_run_named(name):
    return get_client().read_flow_runs(flow_name=name)[0]


def test_a_returned_failed_state_is_the_flows_final_state():
    @task
    def broken():
        raise ValueError("returned, not raised")

    @flow
    def f():
        return broken(return_state=True)

    state = f(return_state=True)
    assert state.is_failed() and "returned, not raised" in state.message
    assert only_flow_run_named("f").state.is_failed()
    with pytest.raises(ValueError, match="returned, not raised"):
        f()


def test_a_returned_future_gives_its_value_and_its_outcome():
    @task
    def add(x, y):
        return x + y

    @task
    def broken():
        raise KeyError("k")

    @flow
    def ok():
        return add.submit(1, 2)

    @flow
    def not_ok():
        return broken.submit()

    assert ok() == 3
    state = not_ok(return_state=True)
    assert state.is_failed() and isinstance(state.result(raise_on_failure=False), KeyError)
    assert only_flow_run_named("not-ok").state.is_failed()


def test_a_returned_list_of_states_and_futures_is_counted():
    @task
    def square(x):
        if x == 2:
            raise ValueError("two")
        return x * x

    @flow
    def all_fine():
        return [square.submit(1), square(3, return_state=True)]

    @flow
    def one_failed():
        return [square(x, return_state=True) for x in range(3)]  # direct calls: no future to count

    state = all_fine(return_state=True)
    assert state.message == "All states completed."
    assert all(isinstance(s, State) for s in state.result())  # the result holds the states, as in Prefect
    assert [s.result() for s in state.result()] == [1, 9]
    state = one_failed(return_state=True)
    assert state.is_failed() and state.message == "1/3 states failed."
    assert isinstance(state.result(raise_on_failure=False), ValueError)


def test_a_returned_unfinished_state_fails_the_flow_with_a_reason():
    from headwater.states import Pending

    @flow
    def f():
        return Pending()

    state = f(return_state=True)
    assert state.is_failed() and "returned a Pending state" in state.message
    assert only_flow_run_named("f").state.is_failed()  # never left lying in a non-final state


def test_observed_and_handled_failure_does_not_fail_the_flow():
    @task
    def broken():
        raise ValueError("handled")

    @task
    def fine():
        return 1

    @flow
    def f():
        fine.submit()
        future = broken.submit()
        try:
            future.result()
        except ValueError:
            return "recovered"

    state = f(return_state=True)
    assert state.is_completed() and state.result() == "recovered"


def test_futures_wait():
    @task
    def quick(x):
        return x

    @task
    def slow():
        time.sleep(0.5)
        return "slow"

    @flow(task_runner=ConcurrentTaskRunner())
    def f():
        futures = [quick.submit(i) for i in range(3)]
        done, not_done = wait(futures)
        assert done == set(futures) and not not_done
        late = slow.submit()
        done, not_done = wait([late], timeout=0.05)
        assert not_done == {late} and not done
        return sorted(future.result() for future in futures), late.result()

    assert f() == ([0, 1, 2], "slow")


def test_future_state_and_result():
    @task
    def t():
        return "value"

    @flow(task_runner=SequentialTaskRunner())
    def f():
        future = t.submit()
        assert future.wait().is_completed()
        assert future.state.is_completed()
        assert re.fullmatch(r"t-[0-9a-f]{8}-0", future.task_run.name)
        return future.result()

    assert f() == "value"


# -- task runners ------------------------------------------------------------------------------


def test_concurrent_task_runner_runs_tasks_at_the_same_time():
    barrier = threading.Barrier(2)

    @task
    def meet(i):
        barrier.wait(timeout=5)  # both must be running at once, or this breaks
        return i

    @flow(task_runner=ConcurrentTaskRunner(max_workers=2))
    def f():
        futures = [meet.submit(i) for i in range(2)]
        return [future.result() for future in futures]

    assert f() == [0, 1]


def test_concurrent_task_runner_max_workers_limits_concurrency():
    lock = threading.Lock()
    active, peak = [0], [0]

    @task
    def work():
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1

    @flow(task_runner=ConcurrentTaskRunner(max_workers=2))
    def f():
        for future in [work.submit() for _ in range(6)]:
            future.wait()

    f()
    assert peak[0] == 2


def test_sequential_task_runner_runs_one_at_a_time_on_the_flow_thread():
    lock = threading.Lock()
    active, peak, threads = [0], [0], set()

    @task
    def work():
        threads.add(threading.get_ident())
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.02)
        with lock:
            active[0] -= 1

    @flow(task_runner=SequentialTaskRunner())
    def f():
        for future in [work.submit() for _ in range(4)]:
            future.wait()

    f()
    assert peak[0] == 1
    assert threads == {threading.get_ident()}


def _runner_used(task_runner):
    threads = []

    @task
    def where():
        threads.append(threading.current_thread())

    @flow(task_runner=task_runner)
    def f():
        where.submit().wait()

    f()
    return threads[0]


@pytest.mark.parametrize("runner", ["sequential", SequentialTaskRunner, SequentialTaskRunner()], ids=["name", "class", "instance"])
def test_task_runner_sequential_given_as_name_class_or_instance(runner, caplog):
    assert _runner_used(runner) is threading.main_thread()
    assert any("Using task runner 'SequentialTaskRunner'" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("runner", ["concurrent", ConcurrentTaskRunner, ConcurrentTaskRunner(), None], ids=["name", "class", "instance", "default"])
def test_task_runner_concurrent_given_as_name_class_instance_or_default(runner, caplog):
    assert _runner_used(runner) is not threading.main_thread()
    assert any("Using task runner 'ConcurrentTaskRunner'" in r.getMessage() for r in caplog.records)


def test_unknown_task_runner_name_is_a_configuration_error():
    @flow(task_runner="no-such-runner")
    def f():
        pass

    with pytest.raises(ConfigurationError, match="no-such-runner") as info:
        f()
    assert "sequential" in str(info.value)  # it lists the registered ones


def test_runner_instance_is_reused_across_flow_runs():
    runner = ConcurrentTaskRunner(max_workers=2)

    @task
    def t(x):
        return x

    @flow(task_runner=runner)
    def f(x):
        return t.submit(x).result()

    assert [f(i) for i in range(3)] == [0, 1, 2]


# -- bad option values ---------------------------------------------------------------------------

BAD_TASK_OPTIONS = [
    ("retries", -1, "-1"),
    ("retries", "x", "'x'"),
    ("retries", 1.5, "1.5"),
    ("retry_delay_seconds", -5, "-5"),
    ("retry_delay_seconds", [1, -2], "-2"),
    ("retry_delay_seconds", "soon", "'soon'"),
    ("retry_jitter_factor", -1, "-1"),
    ("timeout_seconds", 0, "0"),
    ("timeout_seconds", -3, "-3"),
    ("cache_expiration", 60, "60"),
    ("tags", "abc", "'abc'"),
    ("tags", ["ok", 3], "3"),
    ("cache_key_fn", 5, "5"),
]


@pytest.mark.parametrize("option, value, shown", BAD_TASK_OPTIONS, ids=[f"{o}={v!r}" for o, v, _ in BAD_TASK_OPTIONS])
def test_bad_task_option_is_a_configuration_error(option, value, shown):
    def fn():
        pass

    with pytest.raises(ConfigurationError) as info:
        task(**{option: value})(fn)
    message = str(info.value)
    assert option in message and shown in message, message
    assert "'fn'" in message  # it names the task


BAD_FLOW_OPTIONS = [
    ("retries", -1, "-1"),
    ("retries", "x", "'x'"),
    ("retry_delay_seconds", -5, "-5"),
    ("timeout_seconds", 0, "0"),
    ("task_runner", 42, "42"),
    ("task_runner", object, "object"),
]


@pytest.mark.parametrize("option, value, shown", BAD_FLOW_OPTIONS, ids=[f"{o}={v!r}" for o, v, _ in BAD_FLOW_OPTIONS])
def test_bad_flow_option_is_a_configuration_error(option, value, shown):
    def my_flow():
        pass

    with pytest.raises(ConfigurationError) as info:
        flow(**{option: value})(my_flow)
    message = str(info.value)
    assert option in message and shown in message, message
    assert "my-flow" in message


def test_bad_max_workers_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="max_workers=0"):
        ConcurrentTaskRunner(max_workers=0)


def test_unknown_cache_key_fn_name_is_a_configuration_error():
    @task(cache_key_fn="no_such_key_fn")
    def t():
        return 1

    with pytest.raises(ConfigurationError, match="no_such_key_fn"):
        t.cache_key_fn


def test_with_options_refuses_unknown_options():
    @task
    def t():
        pass

    @flow
    def f():
        pass

    with pytest.raises(TypeError, match="bogus"):
        t.with_options(bogus=1)
    with pytest.raises(TypeError, match="bogus"):
        f.with_options(bogus=1)


def test_decorating_a_non_function_is_a_type_error():
    with pytest.raises(TypeError):
        task(5)
    with pytest.raises(TypeError):
        flow("not a function")


def test_a_parameter_whose_repr_raises_is_recorded_with_a_placeholder():
    class Opaque:
        def __repr__(self):
            raise RuntimeError("no description")

    @task
    def takes(thing):
        return 1

    class OpaqueKey:
        def __str__(self):
            raise RuntimeError("no name")

        __repr__ = __str__

    @flow
    def also_takes(thing):
        return takes(thing) + takes.submit(thing).result() + takes({OpaqueKey(): 1})

    assert also_takes(Opaque()) == 3
    [run] = get_client().read_flow_runs(flow_name="also-takes")
    placeholder = f"<{Opaque.__qualname__} object; its repr() raised RuntimeError>"
    assert run.parameters == {"thing": placeholder} and run.state.is_completed()
    recorded = [t.parameters for t in get_client().read_task_runs(flow_run_id=run.id)]
    key = f"<{OpaqueKey.__qualname__} object; its str() raised RuntimeError>"
    assert sorted(recorded, key=str) == sorted([{"thing": placeholder}] * 2 + [{"thing": {key: 1}}], key=str)
