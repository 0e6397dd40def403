"""What a type checker sees of headwater's decorators. Checked by mypy in CI, never run or collected by pytest:

    mypy tests/typing_check.py --strict --warn-unused-ignores

``assert_type`` fails the check when a type is not exactly the one written. Each
``# type: ignore[code]`` asserts that mypy reports that error on that line:
with ``--warn-unused-ignores`` an ignore that is no longer needed is an error too.
"""

from __future__ import annotations

from typing_extensions import assert_type

from headwater import Flow, Task, flow, task
from headwater.futures import HeadwaterFuture
from headwater.states import State


@task
def double(x: int) -> int:
    return 2 * x


@task(retries=2, retry_delay_seconds=0.1, tags=["io"])
def greet(name: str, excited: bool = False) -> str:
    return name + ("!" if excited else "")


@flow(name="typed")
def typed(n: int, label: str = "x") -> list[int]:
    # A task keeps its signature: called, it returns its function's type...
    assert_type(double(n), int)
    assert_type(greet(label, excited=True), str)
    # ...submitted or mapped, a future of that type.
    future = double.submit(n)
    assert_type(future, HeadwaterFuture[int])
    assert_type(future.result(), int)
    assert_type(future.state, State)
    assert_type(double.map([1, 2, 3]), list[HeadwaterFuture[int]])
    # Wrong arguments are errors, for calls and for submissions (both are overloaded, for
    # return_state= and wait_for=, so mypy reports "no overload variant matches").
    double("n")  # type: ignore[call-overload]
    double.submit("n")  # type: ignore[call-overload]
    greet("a", loud=True)  # type: ignore[call-overload]
    # wait_for= is accepted by submit, and return_state=True gives the final state.
    assert_type(double.submit(n, wait_for=[future]), HeadwaterFuture[int])
    assert_type(double(n, return_state=True), State)
    assert_type(typed(n, return_state=True), State)
    # An async task's future holds what its coroutine returns, not the coroutine.
    assert_type(fetch.submit("u"), HeadwaterFuture[bytes])
    assert_type(fetch.submit("u").result(), bytes)
    assert_type(fetch.map(["u", "v"]), list[HeadwaterFuture[bytes]])
    return [future.result()]


@task
async def fetch(url: str) -> bytes:
    return url.encode()


@flow
async def async_flow(url: str) -> bytes:
    # Awaited, an async task or flow gives its value, or its state with return_state=True.
    assert_type(await fetch(url), bytes)
    assert_type(await fetch(url, return_state=True), State)
    return await fetch(url)


async def caller() -> None:
    assert_type(await async_flow("u"), bytes)
    assert_type(await async_flow("u", return_state=True), State)


# Decorating keeps the parameters and the return type.
double_task: Task[[int], int] = double
typed_flow: Flow[[int, str], list[int]] = typed
assert_type(typed(1), list[int])
assert_type(typed(1, label="y"), list[int])
assert_type(typed.with_options(name="other")(2), list[int])

# A flow rejects a wrong argument type. Flow.__call__ is overloaded (the second
# variant takes return_state=), so mypy reports "no overload variant matches".
typed("1")  # type: ignore[call-overload]
typed(1, label=2)  # type: ignore[call-overload]
typed()  # type: ignore[call-overload]


# State hooks, retry conditions and backoff policies are typed options of both decorators.
from headwater import exponential_backoff  # noqa: E402
from headwater.runs import FlowRun, TaskRun  # noqa: E402


def task_done(task: Task[..., object], run: TaskRun, state: State) -> None: ...


def flow_done(flow: Flow[..., object], run: FlowRun, state: State) -> None: ...


def retry_timeouts(task: Task[..., object], run: TaskRun, state: State) -> bool:
    return isinstance(state.result(raise_on_failure=False), TimeoutError)


@task(on_completion=[task_done], on_failure=[task_done], retries=3,
      retry_delay_seconds=exponential_backoff(2), retry_condition_fn=retry_timeouts)
def hooked(x: int) -> int:
    return x


@flow(on_completion=[flow_done], on_failure=[flow_done], on_cancellation=[flow_done], on_crashed=[flow_done],
      retries=1, retry_delay_seconds=lambda n: [1.0] * n)
def hooked_flow() -> None: ...


hooked_task: Task[[int], int] = hooked
hooked_flow_typed: Flow[[], None] = hooked_flow
task(on_completion=task_done)  # type: ignore[call-overload]


# A function without annotations returns Any; with return_state=True, a sync flow or task still
# gives a State (not the coroutine an async one gives), and an async one still gives a coroutine.
@flow
def untyped_flow(x):  # type: ignore[no-untyped-def]
    return x


@task
def untyped_task(x):  # type: ignore[no-untyped-def]
    return x


@flow
async def untyped_async_flow(x):  # type: ignore[no-untyped-def]
    return x


assert_type(untyped_flow(1, return_state=True), State)
assert_type(untyped_task(1, return_state=True), State)


async def untyped_caller() -> None:
    assert_type(await untyped_async_flow(1, return_state=True), State)
