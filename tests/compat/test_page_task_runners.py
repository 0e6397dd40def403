"""Prefect 2.20's task runners concept page, its examples ported with ``prefect`` renamed ``headwater``.

Dask and Ray are plugins (plugins/dask_runner, plugins/ray_runner), tested with their own suites.
"""

import threading
import time

from headwater import flow, task
from headwater.futures import HeadwaterFuture
from headwater.task_runners import ConcurrentTaskRunner, SequentialTaskRunner


def test_the_concurrent_runner_runs_submitted_tasks_at_once():
    running = []
    all_in = threading.Barrier(3, timeout=10)

    @task
    def stop_at_floor(floor):
        running.append(floor)
        all_in.wait()  # only returns if the three run at the same time
        return floor

    @flow(task_runner=ConcurrentTaskRunner())
    def elevator():
        return [f.result() for f in [stop_at_floor.submit(floor) for floor in range(3, 0, -1)]]

    assert elevator() == [3, 2, 1]


def test_the_sequential_runner_runs_them_in_order():
    order = []

    @task
    def stop_at_floor(floor):
        order.append(floor)

    @flow(task_runner=SequentialTaskRunner(), name="towering-infernflow")
    def glass_tower():
        for floor in range(1, 39):
            stop_at_floor.submit(floor)

    glass_tower()
    assert order == list(range(1, 39))


def test_a_runner_class_is_made_with_its_defaults_and_subflows_have_their_own():
    seen = []

    @task
    def hello_local():
        seen.append(("local", threading.current_thread().name))

    @flow(task_runner=ConcurrentTaskRunner)
    def concurrent_subflow():
        hello_local.submit().result()

    @flow(task_runner=SequentialTaskRunner())
    def sequential_flow():
        hello_local.submit()
        concurrent_subflow()
        hello_local.submit()

    sequential_flow()
    threads = [name for _, name in seen]
    assert threads[0] == threads[2] == threading.current_thread().name and threads[1] != threads[0]


def test_a_future_passed_to_a_task_arrives_as_its_value():
    got = []

    @task
    def say_hello(name):
        return f"Hello {name}!"

    @task
    def print_result(result):
        got.append((type(result), result))

    @flow(name="hello-flow")
    def hello_world():
        future = say_hello.submit("Marvin")
        assert isinstance(future, HeadwaterFuture)
        print_result.submit(future)

    hello_world()
    assert got == [(str, "Hello Marvin!")]


def test_result_get_state_and_wait_with_a_timeout():
    @task
    def my_task():
        return "I'm a task!"

    @task
    def slow():
        time.sleep(0.5)

    @flow
    def my_flow():
        future = my_task.submit()
        result = future.result(raise_on_failure=False)
        failed = future.get_state().is_failed()
        final_state = slow.submit().wait(0.01)  # not done within the timeout: None
        return result, failed, final_state, future.wait().result()

    assert my_flow() == ("I'm a task!", False, None, "I'm a task!")


def test_wait_for_upstream_tasks_with_submit_and_a_direct_call():
    order = []

    def step(name):
        @task(name=name)
        def run():
            time.sleep(0.05 if name in "ab" else 0)
            order.append(name)

        return run

    task_a, task_b, task_c, task_d = (step(n) for n in "abcd")

    @flow
    def my_flow():
        a = task_a.submit()
        b = task_b.submit()
        c = task_c.submit(wait_for=[a, b])
        task_d(wait_for=[c])

    my_flow()
    assert sorted(order[:2]) == ["a", "b"] and order[2:] == ["c", "d"]


def test_mixing_tasks_and_python_functions():
    def say_hello_extra_nicely_to_marvin(hello):
        return "HI MARVIN!" if hello == "Hello Marvin!" else hello

    @task
    def say_hello(name):
        return f"Hello {name}!"

    @task
    def say_nice_to_meet_you(hello_greeting):
        return f"{hello_greeting} Nice to meet you :)"

    @flow
    def hello_world():
        hello = say_hello.submit("Marvin").result()
        special_greeting = say_hello_extra_nicely_to_marvin(hello)
        return say_nice_to_meet_you.submit(special_greeting).result()

    assert hello_world() == "HI MARVIN! Nice to meet you :)"
