"""What RayTaskRunner does beyond the runner contract: its options, Ray's life, its errors."""

import concurrent.futures
import os
import socket
import sys
import time

import pytest

import headwater_ray._runner as runner_module
from headwater import flow, get_run_logger, task
from headwater.client import get_client
from headwater.exceptions import ConfigurationError
from headwater.plugins import get_plugins
from headwater_ray import RayTaskRunner, remote_options


@task
def process_id(i=0):
    return os.getpid()


@task
def assigned_cpus():
    import ray

    return ray.get_runtime_context().get_assigned_resources().get("CPU")


@task
def blob(size):
    return b"x" * size


@task
def length(data):
    return len(data)


@task
def through_ray_api(x):
    # Task code may use Ray itself on the worker.
    import ray

    return ray.get(ray.put(x)) + 1


@task
def fail_on_worker():
    raise KeyError("missing on the worker")


@task
def die():
    os._exit(1)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- choosing and starting the runner ----------------------------------------------------------


def test_registered_as_ray_through_the_entry_point():
    assert get_plugins().task_runner_class("ray") is RayTaskRunner


@pytest.mark.own_ray
def test_by_name_starts_a_local_ray_shared_by_concurrent_flow_runs_and_shuts_it_down():
    import ray

    if ray.is_initialized():  # only when this test did not run first
        ray.shutdown()

    @flow(task_runner="ray")
    def on_own_ray(n):
        return {f.result() for f in process_id.map(range(n))}

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        pids = set().union(*pool.map(on_own_ray, [4, 4]))
    assert os.getpid() not in pids
    assert not ray.is_initialized(), "the Ray the runner started is still up"


def test_an_existing_ray_is_used_and_left_running(ray_running):
    @flow(task_runner=RayTaskRunner())
    def on_shared_ray():
        return length.submit("abc").result()

    assert on_shared_ray() == 3
    assert ray_running.is_initialized()


def test_unreachable_address_names_it_within_the_timeout():
    address = f"ray://127.0.0.1:{_free_port()}"

    @flow(task_runner=RayTaskRunner(address=address, connect_timeout=1))
    def nowhere():
        return length.submit("x").result()

    started = time.monotonic()
    with pytest.raises(ConnectionError, match=address.replace(".", r"\.")) as info:
        nowhere()
    assert time.monotonic() - started < 10
    assert "connect_timeout" in str(info.value)


def test_options_are_checked_where_given():
    with pytest.raises(ConfigurationError, match="RayTaskRunner\\(address="):
        RayTaskRunner(init_kwargs={"address": "auto"})
    with pytest.raises(ConfigurationError, match="init_kwargs"):
        RayTaskRunner(init_kwargs=["num_cpus"])
    with pytest.raises(ConfigurationError, match="connect_timeout"):
        RayTaskRunner(connect_timeout=-1)


def test_ray_not_installed_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ImportError, match="pip install headwater-ray"):
        RayTaskRunner()


# -- how tasks reach Ray ---------------------------------------------------------------------------


def test_remote_options_set_per_task_resources(ray_running):
    @flow(task_runner=RayTaskRunner())
    def resources():
        with remote_options(num_cpus=2):
            two = assigned_cpus.submit()
        one = assigned_cpus.submit()
        return two.result(), one.result()

    assert resources() == (2.0, 1.0)
    with pytest.raises(ValueError):
        with remote_options(num_cpu=1):  # a misspelt option fails where it is written
            pass


@pytest.fixture
def remote_calls(monkeypatch):
    """Every call of a Ray remote function by the runner: its keyword arguments."""
    seen = []
    build = runner_module.remote_function

    class Recording:
        def __init__(self, remote):
            self._remote = remote

        def options(self, **options):
            return Recording(self._remote.options(**options))

        def remote(self, context, **kwargs):
            seen.append(kwargs)
            return self._remote.remote(context, **kwargs)

    monkeypatch.setattr(runner_module, "remote_function", lambda fn, is_async: Recording(build(fn, is_async)))
    return seen


def test_a_large_upstream_result_goes_through_the_object_store(ray_running, remote_calls):
    import ray

    @flow(task_runner=RayTaskRunner())
    def pipeline():
        big, small = blob.submit(2 << 20), blob.submit(10)
        return length.submit(big).result(), length.submit(small).result()

    assert pipeline() == (2 << 20, 10)
    passed = [kwargs["data"] for kwargs in remote_calls if "data" in kwargs]
    assert sorted(type(value) is ray.ObjectRef for value in passed) == [False, True]


def test_task_code_can_use_ray(ray_running):
    @flow(task_runner=RayTaskRunner())
    def nested():
        return through_ray_api.submit(40).result()

    assert nested() == 41


@pytest.mark.skipif(sys.version_info < (3, 11), reason="exception notes need Python 3.11")
def test_a_failure_carries_the_worker_traceback(ray_running):
    @flow(task_runner=RayTaskRunner())
    def failing():
        future = fail_on_worker.submit()
        return future.result(raise_on_failure=False)

    error = failing()
    assert type(error) is KeyError
    note = "\n".join(error.__notes__)
    assert "Raised on a Ray worker" in note and "fail_on_worker" in note and "\x1b[" not in note


def test_a_dying_worker_is_recorded_as_a_failed_run(ray_running):
    @flow(task_runner=RayTaskRunner())
    def fatal():
        with remote_options(max_retries=0):  # Ray would otherwise run it again on a new worker
            future = die.submit()
        return future.result(raise_on_failure=False), future.task_run.id

    error, run_id = fatal()
    assert type(error).__name__ == "WorkerCrashedError"

    from headwater.client import get_client

    (record,) = [r for r in get_client().read_task_runs() if r.id == run_id]
    assert record.state_name == "Failed" and "WorkerCrashedError" in record.state.message


# -- task code's log lines -----------------------------------------------------------------------


@task(log_prints=True)
def chatty(x):
    logger = get_run_logger()
    logger.info("info %s", x)
    logger.debug("below the run loggers' level")
    print("printed", x)
    return x


@task(log_prints=True)
async def async_chatty(x):
    get_run_logger().warning("async %s", x)
    return x


@task(log_prints=True)
def chatty_blob(size):
    print("making", size, "bytes")
    return b"x" * size


@task
def prints_without_log_prints():
    print("stays on the worker")
    return 1


@task(log_prints=True)
def logs_then_fails():
    get_run_logger().error("about to fail")
    raise ValueError("failing on purpose")


def _lines_by_run(flow_name):
    client = get_client()
    flow_run = client.read_flow_runs(flow_name=flow_name, limit=1)[0]
    lines = {}
    for line in client.read_logs(flow_run.id):
        lines.setdefault(line.run_id, []).append((line.run_name, line.level_name, line.message))
    return lines


def test_task_code_logs_and_prints_to_its_task_run(ray_running):
    @flow(task_runner=RayTaskRunner())
    def logging_on_workers():
        futures = [chatty.submit(1), async_chatty.submit(2), prints_without_log_prints.submit(), logs_then_fails.submit()]
        big = chatty_blob.submit(2 << 20)  # a value kept on the engine: the lines travel apart from it
        futures += [big, length.submit(big)]
        [f.result(raise_on_failure=False) for f in futures]
        return [(f.task_run.id, f.task_run.name) for f in futures], futures[-1].result()

    runs, size = logging_on_workers()
    assert size == 2 << 20
    lines = _lines_by_run("logging-on-workers")
    (a, a_name), (b, b_name), (c, c_name), (d, d_name), (e, e_name), _ = runs
    assert lines[a] == [(a_name, "INFO", "info 1"), (a_name, "INFO", "printed 1"), (a_name, "INFO", "Finished in state Completed()")]
    assert lines[b] == [(b_name, "WARNING", "async 2"), (b_name, "INFO", "Finished in state Completed()")]
    assert lines[c] == [(c_name, "INFO", "Finished in state Completed()")]  # no log_prints: print is the worker's
    assert lines[d][0] == (d_name, "ERROR", "about to fail")  # logged before the task raised
    assert lines[d][-1][2].startswith("Finished in state Failed")
    assert lines[e][0] == (e_name, "INFO", f"making {2 << 20} bytes")
