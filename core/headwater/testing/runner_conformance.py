"""The task runner contract, as tests a runner plugin runs against its own runner.

Subclass :class:`RunnerConformance` in the plugin's tests and override the
``runner`` fixture::

    from headwater.testing.runner_conformance import RunnerConformance

    class TestMyRunner(RunnerConformance):
        runs_in_other_processes = True     # tasks run in worker processes

        @pytest.fixture
        def runner(self):
            return MyTaskRunner(workers=2)  # anything @flow(task_runner=...) takes

pytest then collects every ``test_*`` method below for that runner. Each test
gets a fresh headwater home and plugin set. The task functions are module-level
functions of this module, so a runner that pickles them (cloudpickle by value)
can send them anywhere; a worker needs headwater installed to unpickle them.
Tests that count calls do it through files under ``side_channel``, which
workers must be able to write: override that fixture for a cluster that does
not share this machine's disk.

What the contract covers: submit and result; futures as arguments (also inside
lists), ``wait_for``; ``.map()``; a failing task gives a Failed state holding
the original exception type; retries run the function again; a failed upstream
run leaves its downstream run UpstreamFailed without running it; async tasks in
sync and async flows; many small tasks; a result of some megabytes, passed on to
another task; a cache hit never reaches the runner; timeouts give TimedOut, while
a TimeoutError the task raises itself stays a plain failure; ``result(timeout=...)``
raises a TimeoutError naming the run; two flow runs at once with one runner instance; a flow that fails after submitting still records
every submitted run as finished; ``get_run_logger()`` and ``log_prints`` in a
submitted task, their lines stored with the task run before its final state. For runners with ``runs_in_other_processes``:
the task's process differs from the flow's, and an argument that cannot be
pickled gives an error naming the task and the argument.

Not covered: cancelling submitted runs when the flow fails. headwater's flow
engine waits for every submitted run before it finishes, so there is nothing
for a runner to cancel yet.

A known gap in a runner goes in ``known_failures`` (test name -> reason): that
test is then expected to fail, strictly, so fixing the gap makes the suite say so.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, ClassVar

import pytest

from headwater import flow, get_run_logger, task, unmapped
from headwater.states import CACHED, TIMED_OUT, UPSTREAM_FAILED, State, StateType
from headwater.tasks import task_input_hash

__all__ = ["RunnerConformance", "ConformanceError"]


# -- the tasks the tests submit (module level, so workers can unpickle them) ---------------------


class ConformanceError(Exception):
    """The exception the failing tasks raise: a type of this module, not a builtin."""


def _count_call(path: str) -> int:
    """Append a line to ``path`` and return how many lines it has now: a call counter across processes."""
    with open(path, "a") as f:
        f.write("call\n")
    with open(path) as f:
        return sum(1 for _ in f)


def _calls(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@task
def add(x, y):
    return x + y


@task
def total(values):
    return sum(values)


@task
def square(x, offset=0):
    return x * x + offset


@task
async def async_add(x, y):
    await asyncio.sleep(0.01)
    return x + y


@task
def raise_conformance_error(message):
    raise ConformanceError(message)


@task
def count_and_return(path, value):
    _count_call(path)
    return value


@task(retries=2)
def fail_until_third_attempt(path):
    attempt = _count_call(path)
    if attempt < 3:
        raise ConformanceError(f"attempt {attempt} fails")
    return attempt


@task(retries=1)
def always_fail(path):
    attempt = _count_call(path)
    raise ConformanceError(f"attempt {attempt} fails")


@task(cache_key_fn=task_input_hash)
def cached_double(path, x):
    _count_call(path)
    return 2 * x


@task
def make_bytes(size):
    return (bytes(range(256)) * (size // 256 + 1))[:size]


@task
def digest(data):
    return len(data), hashlib.sha256(data).hexdigest()


@task(timeout_seconds=0.5)
def overrun(seconds):
    # Short sleeps, so that runners which interrupt a thread between bytecodes can do it.
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.02)
    return "finished"


@task(timeout_seconds=30)
def raise_timeout_error():
    raise TimeoutError("the task's own timeout error")


@task
def slow_identity(value, seconds):
    time.sleep(seconds)
    return value


@task
def process_id():
    return os.getpid()


@task
def describe(resource):
    return repr(resource)


@task(log_prints=True)
def log_and_print(message):
    get_run_logger().warning("logged: %s", message)
    print("printed:", message)
    return message


def _observed_state(future: Any) -> Any:
    """Wait for a run and take its failure as handled (so an unobserved failure does not fail the flow); return its state.

    A flow that returns this state alone ends in it (as in Prefect): call such a flow with
    ``return_state=True`` to look at the state without the call raising.
    """
    future.result(raise_on_failure=False)
    return future.wait()


def _traceback_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


# -- the suite -----------------------------------------------------------------------------------


class RunnerConformance:
    """The runner contract. Subclass it, override ``runner``; set the class attributes that apply."""

    #: Tasks run in other processes (so the pid test and the unpicklable-argument test apply).
    runs_in_other_processes: ClassVar[bool] = False
    #: How many trivial tasks the many-small-tasks test submits.
    many_tasks: ClassVar[int] = 200
    #: The size in bytes of the large result.
    large_result_bytes: ClassVar[int] = 5 * 2**20
    #: Tests expected to fail for this runner: test name -> reason (strict xfail).
    known_failures: ClassVar[dict[str, str]] = {}

    @pytest.fixture
    def runner(self) -> Any:
        """The runner under test: a TaskRunner instance, class, or registered name. Override this."""
        raise NotImplementedError(f"{type(self).__name__} must override the 'runner' fixture of RunnerConformance")

    @pytest.fixture
    def side_channel(self, tmp_path: Path) -> Path:
        """A folder both this process and the runner's workers can write to."""
        return tmp_path

    @pytest.fixture(autouse=True)
    def _conformance_isolation(self, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
        """A fresh headwater home and plugin set per test; the runner's known failures marked."""
        from headwater.plugins import Plugins, use_plugins
        from headwater.stores import close_stores

        reason = self.known_failures.get(request.node.originalname)
        if reason is not None:
            request.applymarker(pytest.mark.xfail(reason=reason, strict=True))
        monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "headwater-home"))
        for name in ("HEADWATER_DATABASE_URL", "HEADWATER_LOCAL_STORAGE_PATH", "HEADWATER_STORE", "HEADWATER_LOAD_PLUGINS", "HEADWATER_BLOCK_PLUGINS"):
            monkeypatch.delenv(name, raising=False)
        with use_plugins(Plugins(strict=True)):
            yield
        close_stores()

    # -- submitting --------------------------------------------------------------------------------
    def test_submit_and_result(self, runner: Any) -> None:
        @flow(task_runner=runner)
        def submit_one():
            future = add.submit(1, 2)
            return future.result(), future.wait()

        value, state = submit_one()
        assert value == 3
        assert state.type is StateType.COMPLETED

        from headwater.client import get_client

        client = get_client()
        flow_run = client.read_flow_runs(flow_name="submit-one", limit=1)[0]
        assert flow_run.state is not None and flow_run.state.is_completed()
        records = client.read_task_runs(flow_run_id=flow_run.id)
        assert [(r.task_name, r.state_name) for r in records] == [("add", "Completed")]

    def test_futures_as_arguments(self, runner: Any) -> None:
        @flow(task_runner=runner)
        def dependent():
            a = add.submit(1, 2)
            b = add.submit(a, 10)
            c = total.submit([a, b, 100])  # futures inside a list are resolved too
            chain = a
            for _ in range(10):
                chain = add.submit(chain, 1)
            d = add.submit(0, 1, wait_for=[c, chain])
            return a.result(), b.result(), c.result(), chain.result(), d.result(), d.task_run.state

        a, b, c, chain, d, d_state = dependent()
        assert (a, b, c, chain, d) == (3, 13, 116, 13, 1)
        assert d_state.is_completed()

    def test_map(self, runner: Any) -> None:
        @flow(task_runner=runner)
        def mapped():
            squares = square.map(range(5), offset=unmapped(1))
            sums = add.map([1, 2, 3], [10, 20, 30])
            return [f.result() for f in squares], [f.result() for f in sums]

        assert mapped() == ([1, 2, 5, 10, 17], [11, 22, 33])

    def test_many_small_tasks(self, runner: Any) -> None:
        n = self.many_tasks

        @flow(task_runner=runner)
        def many():
            futures = add.map(range(n), 1)
            return [f.result() for f in futures]

        assert many() == [i + 1 for i in range(n)]

    def test_large_result(self, runner: Any) -> None:
        size = self.large_result_bytes

        @flow(task_runner=runner)
        def large():
            data = make_bytes.submit(size)
            summary = digest.submit(data)  # the large value goes on to another task
            return data.result(), summary.result()

        data, (length, checksum) = large()
        assert len(data) == length == size
        assert checksum == hashlib.sha256(data).hexdigest()

    def test_result_timeout_names_the_run(self, runner: Any) -> None:
        @flow(task_runner=runner)
        def impatient():
            future = slow_identity.submit("late", 0.5)
            try:
                future.result(timeout=0.01)
            except TimeoutError as exc:
                return future.task_run.name, str(exc), future.result()
            return future.task_run.name, None, future.result()

        name, message, value = impatient()
        assert value == "late"
        if message is None:
            pytest.skip("the runner finished the run inside submit()")
        assert name in message

    # -- failures and retries --------------------------------------------------------------------
    def test_exception_gives_failed_state_with_original_type(self, runner: Any) -> None:
        @flow(task_runner=runner)
        def failing() -> State:
            return _observed_state(raise_conformance_error.submit("boom"))

        state = failing(return_state=True)  # the flow returned the task's state, so it ends in it
        assert state.type is StateType.FAILED
        error = state.result(raise_on_failure=False)
        assert type(error) is ConformanceError
        assert str(error) == "boom"
        assert "ConformanceError" in (state.message or "")
        with pytest.raises(ConformanceError, match="boom"):
            state.result()
        if sys.version_info >= (3, 11):  # engines that carry a remote traceback as text attach it as a note
            assert "raise_conformance_error" in _traceback_text(error)

    def test_retries_run_the_function_again(self, runner: Any, side_channel: Path) -> None:
        flaky, hopeless = side_channel / "flaky", side_channel / "hopeless"

        @flow(task_runner=runner)
        def retrying():
            a = fail_until_third_attempt.submit(str(flaky))
            b = always_fail.submit(str(hopeless))
            return a.result(), a.task_run.run_count, _observed_state(b), b.task_run.run_count

        value, runs, failed, failed_runs = retrying()
        assert (value, runs, _calls(flaky)) == (3, 3, 3)
        assert failed.type is StateType.FAILED and type(failed.result(raise_on_failure=False)) is ConformanceError
        assert (failed_runs, _calls(hopeless)) == (2, 2)

    def test_failed_upstream_is_not_run_downstream(self, runner: Any, side_channel: Path) -> None:
        calls = side_channel / "downstream"

        @flow(task_runner=runner)
        def upstream_fails():
            bad = raise_conformance_error.submit("upstream")
            after = count_and_return.submit(str(calls), bad)
            return {"upstream": _observed_state(bad), "downstream": _observed_state(after)}

        states = upstream_fails()
        upstream, state = states["upstream"], states["downstream"]
        assert type(upstream.result(raise_on_failure=False)) is ConformanceError
        assert state.type is StateType.FAILED and state.name == UPSTREAM_FAILED
        assert _calls(calls) == 0

    def test_timeout(self, runner: Any) -> None:
        @flow(task_runner=runner)
        def too_slow() -> State:
            return _observed_state(overrun.submit(1.5))

        started = time.monotonic()
        state = too_slow(return_state=True)
        assert state.type is StateType.FAILED and state.name == TIMED_OUT
        assert isinstance(state.result(raise_on_failure=False), TimeoutError)
        assert time.monotonic() - started < 10

    def test_a_timeout_error_of_the_task_is_not_a_timeout(self, runner: Any) -> None:
        @flow(task_runner=runner)
        def own_timeout_error() -> State:
            return _observed_state(raise_timeout_error.submit())

        state = own_timeout_error(return_state=True)
        assert state.type is StateType.FAILED and state.name != TIMED_OUT
        assert str(state.result(raise_on_failure=False)) == "the task's own timeout error"

    def test_flow_failure_still_records_submitted_runs(self, runner: Any) -> None:
        @flow(task_runner=runner)
        def fails_after_submitting() -> None:
            slow_identity.submit("done", 0.3)
            raise ConformanceError("the flow fails")

        state = fails_after_submitting(return_state=True)
        assert state.type is StateType.FAILED and type(state.result(raise_on_failure=False)) is ConformanceError

        from headwater.client import get_client

        client = get_client()
        flow_run = client.read_flow_runs(flow_name="fails-after-submitting", limit=1)[0]
        assert [r.state_name for r in client.read_task_runs(flow_run_id=flow_run.id)] == ["Completed"]

    # -- async -------------------------------------------------------------------------------------
    def test_async_task_in_sync_flow(self, runner: Any) -> None:
        @flow(task_runner=runner)
        def sync_flow():
            a = async_add.submit(1, 2)
            b = add.submit(a, 10)
            return a.result(), b.result()

        assert sync_flow() == (3, 13)

    def test_async_flow(self, runner: Any) -> None:
        @flow(task_runner=runner)
        async def async_flow():
            # As in Prefect 2: in an async flow a submit is awaited for its future, and result() too.
            a = await async_add.submit(1, 2)
            b = await add.submit(a, 10)
            return await a.result(), await b.result()

        assert asyncio.run(async_flow()) == (3, 13)

    # -- caching -----------------------------------------------------------------------------------
    def test_cache_hit_never_reaches_the_runner(self, runner: Any, side_channel: Path) -> None:
        calls = side_channel / "cached"

        @flow(task_runner=runner)
        def cached():
            future = cached_double.submit(str(calls), 21)
            return future.result(), future.wait().name

        assert cached() == (42, "Completed")
        assert cached() == (42, CACHED)
        assert _calls(calls) == 1

    # -- lifecycle ---------------------------------------------------------------------------------
    def test_two_flow_runs_at_once(self, runner: Any) -> None:
        @flow(task_runner=runner)
        def sums(start):
            futures = add.map(range(start, start + 20), 1)
            return sum(f.result() for f in futures)

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            results = list(pool.map(sums, [0, 100]))
        assert results == [sum(range(1, 21)), sum(range(101, 121))]
        assert sums(0) == sum(range(1, 21))  # and again, after both ended

    # -- logging -----------------------------------------------------------------------------------
    def test_run_logger_in_a_task_is_stored_with_its_run(self, runner: Any) -> None:
        @flow(task_runner=runner)
        def logging_task():
            future = log_and_print.submit("hello")
            return future.result(), future.task_run.id, future.task_run.name

        value, run_id, run_name = logging_task()
        assert value == "hello"

        from headwater.client import get_client

        client = get_client()
        flow_run = client.read_flow_runs(flow_name="logging-task", limit=1)[0]
        lines = [(line.run_name, line.level_name, line.message) for line in client.read_logs(flow_run.id) if line.run_id == run_id]
        expected = [
            (run_name, "WARNING", "logged: hello"),
            (run_name, "INFO", "printed: hello"),
            (run_name, "INFO", "Finished in state Completed()"),
        ]
        # In this order (a runner hands the lines back before the run records its final state); a runner
        # may log lines of its own about the run in between.
        remaining = iter(lines)
        assert all(line in remaining for line in expected), f"expected {expected} in this order among {lines}"

    # -- runners whose tasks run elsewhere ---------------------------------------------------------
    def test_tasks_run_in_another_process(self, runner: Any) -> None:
        if not self.runs_in_other_processes:
            pytest.skip("the runner runs tasks in the flow's process")

        @flow(task_runner=runner)
        def where():
            return process_id.submit().result()

        assert where() != os.getpid()

    def test_unpicklable_argument_names_task_and_argument(self, runner: Any) -> None:
        if not self.runs_in_other_processes:
            pytest.skip("the runner passes arguments without pickling them")

        @flow(task_runner=runner)
        def unpicklable() -> State:
            return _observed_state(describe.submit(threading.Lock()))

        state = unpicklable(return_state=True)
        assert state.type is StateType.FAILED
        message = str(state.result(raise_on_failure=False))
        assert "'describe'" in message and "'resource'" in message
