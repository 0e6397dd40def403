"""Prefect 2.20's tasks concept page, its examples ported with ``prefect`` renamed ``headwater``.

Run names are in test_run_names.py, ``unmapped`` in test_annotations.py.
"""

import asyncio
import datetime
import random
import threading

import pytest

from headwater import flow, tags, task, unmapped
from headwater.client import get_client
from headwater.tasks import exponential_backoff, task_input_hash


def test_a_task_called_in_a_flow_is_a_task_run(headwater_client):
    @task
    def my_task():
        return "Hello, I'm a task"

    @flow
    def my_flow():
        return my_task()

    assert my_flow() == "Hello, I'm a task"
    [run] = headwater_client.read_task_runs()
    assert run.task_name == "my_task"


def test_name_description_and_tags_and_the_tags_context():
    @task(name="hello-task", description="This task says hello.", tags=["test"])
    def my_task():
        return 1

    @flow
    def my_flow():
        with tags("extra"):
            my_task()

    assert (my_task.name, my_task.description, my_task.tags) == ("hello-task", "This task says hello.", ("test",))
    my_flow()
    [run] = get_client().read_task_runs()
    assert set(run.tags) == {"test", "extra"}


def test_retries_with_a_list_of_delays_a_condition_and_exponential_backoff(headwater_client):
    attempts = []

    def retry_handler(task, task_run, state) -> bool:
        try:
            state.result()
        except KeyError:
            return False  # do not retry this one
        except Exception:
            return True

    @task(retries=3, retry_delay_seconds=[0, 0.01, 0.02], retry_condition_fn=retry_handler)
    def flaky(kind):
        attempts.append(kind)
        if len([a for a in attempts if a == kind]) < 3:
            raise (KeyError if kind == "fatal" else ValueError)(kind)
        return kind

    @flow
    def get_data_flow():
        fatal = flaky(kind="fatal", return_state=True)
        return flaky(kind="transient"), fatal.is_failed()

    assert get_data_flow() == ("transient", True)
    assert attempts.count("fatal") == 1 and attempts.count("transient") == 3
    assert exponential_backoff(backoff_factor=10)(3) == [10, 20, 40]

    @task(retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=10), retry_jitter_factor=1)
    def jittered():
        return 1

    assert jittered.retry_jitter_factor == 1 and jittered.retry_delay_seconds == [10, 20, 40]


def test_caching_on_inputs_and_on_a_static_key():
    calls = []

    @task(cache_key_fn=task_input_hash, cache_expiration=datetime.timedelta(days=1))
    def hello_task(name_input):
        calls.append(name_input)
        return "hello " + name_input

    def static_cache_key(context, parameters):
        return "static cache key"

    @task(cache_key_fn=static_cache_key)
    def cached_task():
        calls.append("expensive")
        return 42

    @flow
    def test_caching():
        return hello_task("marvin"), cached_task(), cached_task(), cached_task()

    assert test_caching() == ("hello marvin", 42, 42, 42)
    assert test_caching() == ("hello marvin", 42, 42, 42)
    assert calls == ["marvin", "expensive"]


def test_a_cache_key_within_the_flow_run_from_the_context():
    calls = []

    def cache_within_flow_run(context, parameters):
        return f"{context.task_run.flow_run_id}-{task_input_hash(context, parameters)}"

    @task(cache_key_fn=cache_within_flow_run)
    def cached_task():
        calls.append(1)
        return 42

    @flow
    def twice():
        return cached_task() + cached_task()

    assert twice() == 84 and twice() == 84
    assert len(calls) == 2  # once a flow run


def test_refresh_cache_always_runs_and_updates_the_cache():
    def static_cache_key(context, parameters):
        return "refreshed key"

    @task(cache_key_fn=static_cache_key, refresh_cache=True)
    def caching_task():
        return random.random()

    @task(cache_key_fn=static_cache_key)
    def reader():
        return -1.0

    @flow
    def refresh():
        fresh = caching_task()
        return fresh, reader()

    fresh, read = refresh()
    assert fresh == read  # the reader is served what the refresh wrote


def test_the_refresh_cache_setting_refreshes_every_cached_task_that_does_not_say(monkeypatch):
    # Prefect: PREFECT_TASKS_REFRESH_CACHE=true; a task's own refresh_cache=False still reads the cache.
    calls = []

    @task(cache_key_fn=lambda context, parameters: "one key")
    def cached():
        calls.append("cached")
        return len(calls)

    @task(cache_key_fn=lambda context, parameters: "one key", refresh_cache=False)
    def never_refreshed():
        calls.append("never")
        return -1

    @flow
    def twice():
        return cached(), cached(), never_refreshed()

    assert twice() == (1, 1, 1)  # the second call and the other task are served the entry
    monkeypatch.setenv("HEADWATER_TASKS_REFRESH_CACHE", "true")
    assert twice() == (2, 3, 3)  # each call of cached runs again and files its result
    assert calls == ["cached", "cached", "cached"]


def test_default_retries_come_from_the_settings_when_a_task_or_flow_sets_none(monkeypatch):
    # Prefect: PREFECT_TASK_DEFAULT_RETRIES and the like, read when the task or flow is made.
    monkeypatch.setenv("HEADWATER_TASK_DEFAULT_RETRIES", "2")
    monkeypatch.setenv("HEADWATER_TASK_DEFAULT_RETRY_DELAY_SECONDS", "0,0.01")
    monkeypatch.setenv("HEADWATER_FLOW_DEFAULT_RETRIES", "1")
    attempts = []

    @task
    def flaky():
        attempts.append("task")
        if attempts.count("task") < 3:
            raise ValueError("not yet")
        return "done"

    @task(retries=0)
    def once():
        return "once"

    @flow
    def patient():
        attempts.append("flow")
        return flaky(), once()

    assert (flaky.retries, flaky.retry_delay_seconds, once.retries) == (2, [0.0, 0.01], 0)
    assert patient.retries == 1 and patient.retry_delay_seconds == 0.0
    assert patient() == ("done", "once")
    assert attempts == ["flow", "task", "task", "task"]


def test_a_bad_default_retries_setting_names_the_variable(monkeypatch):
    from headwater.exceptions import ConfigurationError

    monkeypatch.setenv("HEADWATER_TASK_DEFAULT_RETRIES", "-1")
    with pytest.raises(ConfigurationError, match="HEADWATER_TASK_DEFAULT_RETRIES"):

        @task
        def anything():
            pass


def test_a_task_timeout_fails_the_run_as_timed_out(capfd):
    @task(timeout_seconds=0.2, log_prints=True)
    def show_timeouts():
        print("I will execute")
        threading.Event().wait(2)
        print("I will not execute")

    @flow
    def f():
        state = show_timeouts(return_state=True)
        return state.name, state.is_failed()

    assert f() == ("TimedOut", True)
    assert "I will not execute" not in capfd.readouterr().err


def test_wait_for_on_a_direct_call_and_on_submit():
    order = []

    @task
    def task_1():
        order.append(1)

    @task
    def task_2():
        order.append(2)

    @flow
    def my_flow():
        x = task_1()
        task_2(wait_for=[x])  # x is task_1's value (None): the call runs after it anyway
        slow = task_1.submit()
        task_2(wait_for=[slow])  # a direct call that waits for a submitted run

    my_flow()
    assert order == [1, 2, 1, 2]


def test_map_and_unmapped():
    @task
    def square_num(num):
        return num**2

    @task
    def print_nums(nums):
        return list(nums)

    @task
    def sum_plus(x, static_iterable):
        return x + sum(static_iterable)

    @flow
    def map_flow(nums):
        squared_nums = square_num.map(nums)
        return print_nums(squared_nums)  # a list of futures given to a task arrives as their values

    @flow
    def sum_it(numbers, static_iterable):
        return [f.result() for f in sum_plus.map(numbers, static_iterable)]

    assert map_flow([1, 2, 3, 5, 8, 13]) == [1, 4, 9, 25, 64, 169]
    assert sum_it([4, 5, 6], unmapped([1, 2, 3])) == [10, 11, 12]


def test_async_tasks_gather():
    printed = []

    @task
    async def print_values(values):
        for value in values:
            await asyncio.sleep(0.001)
            printed.append(value)

    @flow
    async def async_flow():
        await print_values([1, 2])
        await asyncio.gather(print_values("abcd"), print_values("6789"))

    asyncio.run(async_flow())
    assert printed[:2] == [1, 2] and sorted(printed[2:]) == sorted("abcd6789")


def test_tag_concurrency_limits_are_kept_in_the_store_not_a_server(headwater_home):
    # Prefect's `async with get_client() as client: await client.create_concurrency_limit(tag=..., concurrency_limit=...)`
    # talks to its server. headwater's client reads the store, synchronously; the CLI is
    # `headwater concurrency-limit create small_instance 10` (see tests/test_concurrency_limits.py).
    client = get_client()
    client.create_concurrency_limit("small_instance", 10)
    assert client.read_concurrency_limit("small_instance").limit == 10
    assert client.delete_concurrency_limit("small_instance")
    with pytest.raises(AttributeError):
        client.create_concurrency_limit_by_tag  # noqa: B018 (Prefect's async names are not there)
