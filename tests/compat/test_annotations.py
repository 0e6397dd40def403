"""Prefect 2.20's tasks and states pages: ``unmapped``, ``allow_failure`` and ``quote``, ported.

``from prefect import allow_failure, unmapped`` and ``from prefect.utilities.annotations import quote``
become the same imports from ``headwater``; each combination with ``.map()`` and ``wait_for`` is here.
"""

from headwater import allow_failure, flow, task, unmapped
from headwater.utilities.annotations import quote


@task
def add_together(x, y):
    return x + y


@task
def fails(x):
    raise ValueError(f"no {x}")


@task
def echo(value, other=None):
    return value, other


def test_map_with_an_unmapped_static_argument():
    @flow
    def sum_it(numbers, static_value):
        futures = add_together.map(numbers, static_value)
        return [f.result() for f in futures]

    @flow
    def sum_it_list(numbers, static_iterable):
        futures = add_together.map(numbers, unmapped(static_iterable))
        return [f.result() for f in futures]

    assert sum_it([1, 2, 3], 5) == [6, 7, 8]
    assert sum_it_list([[1], [2]], [5, 6]) == [[1, 5, 6], [2, 5, 6]]


def test_map_keeps_a_default_iterable_whole():
    @task
    def tag(item, labels=["a", "b"]):  # noqa: B006 (a default that a map must not iterate)
        return f"{item}:{','.join(labels)}"

    @flow
    def f():
        return [future.result() for future in tag.map([1, 2])]

    assert f() == ["1:a,b", "2:a,b"]


def test_allow_failure_lets_a_downstream_task_run_and_gives_it_the_exception():
    @flow
    def my_flow():
        upstream = fails.submit(1)
        value, _ = echo.submit(allow_failure(upstream)).result()
        waited, _ = echo.submit("ran", wait_for=[allow_failure(upstream)]).result()
        blocked = echo.submit(upstream, return_state=True)
        # Looked at, the failure is this flow's to handle (one nobody looked at would fail the flow:
        # see "Coming from Prefect" in the docs).
        upstream.result(raise_on_failure=False)
        return value, waited, blocked

    value, waited, blocked = my_flow()
    assert isinstance(value, ValueError) and str(value) == "no 1"
    assert waited == "ran"
    assert blocked.name == "UpstreamFailed" and "finished in state Failed" in blocked.message


def test_allow_failure_around_an_iterable_maps_and_wraps_each_element():
    @flow
    def my_flow():
        upstream = [fails.submit(1), add_together.submit(1, 1)]
        results = [f.result() for f in echo.map(allow_failure(upstream), other=unmapped([0]))]
        for future in upstream:
            future.result(raise_on_failure=False)
        return results

    (first, other_first), (second, other_second) = my_flow()
    assert isinstance(first, ValueError) and second == 2
    assert other_first == other_second == [0]


def test_map_over_a_future_of_a_list_maps_over_its_result():
    @task
    def numbers():
        return [1, 2, 3]

    @flow
    def my_flow():
        return [f.result() for f in add_together.map(numbers.submit(), unmapped(10))]

    assert my_flow() == [11, 12, 13]


def test_map_with_wait_for():
    order = []

    @task
    def first():
        order.append("first")

    @task
    def second(x):
        order.append(x)
        return x

    @flow
    def my_flow():
        gate = first.submit()
        return [f.result() for f in second.map([1, 2], wait_for=[gate])]

    assert my_flow() == [1, 2]
    assert order[0] == "first"


def test_quote_passes_a_value_as_it_is_without_looking_inside():
    @flow
    def my_flow():
        inner = add_together.submit(1, 2)
        quoted, _ = echo(quote({"future": inner}))
        resolved, _ = echo({"future": inner})
        mapped = [f.result()[0] for f in echo.map(quote([[1, 2], [3]]))]
        return type(quoted["future"]).__name__, resolved, mapped

    assert my_flow() == ("HeadwaterFuture", {"future": 3}, [[1, 2], [3]])


def test_futures_and_states_at_any_depth_are_resolved():
    @flow
    def my_flow():
        three = add_together.submit(1, 2)
        state = add_together(2, 2, return_state=True)
        nested = {"a": [(three, {"b": [state]})]}
        return echo(nested)[0]

    assert my_flow() == {"a": [(3, {"b": [4]})]}


def test_a_failed_state_passed_as_an_argument_stops_the_run_unless_allowed():
    @flow
    def my_flow():
        failed = fails(1, return_state=True)
        blocked = echo(failed, return_state=True)
        allowed, _ = echo(allow_failure(failed))
        return blocked.name, type(allowed).__name__

    assert my_flow() == ("UpstreamFailed", "ValueError")
