"""What DaskTaskRunner does beyond the runner contract: its options, its cluster's life, its errors."""

import socket
import sys
import time

import distributed
import pytest

from headwater import flow, get_run_logger, task
from headwater.client import get_client
from headwater.exceptions import ConfigurationError
from headwater.plugins import get_plugins
from headwater_dask import DaskTaskRunner, remote_options


@task
def scheduler_address():
    return distributed.get_worker().scheduler.address


@task
def worker_address(i):
    return distributed.get_worker().address


@task
def blob(size):
    return b"x" * size


@task
def length(data):
    return len(data)


@task
def through_worker_client(x):
    # The escape hatch: task code reaches the native Dask client on its worker.
    with distributed.worker_client() as client:
        return client.submit(lambda y: y * 2, x).result() + 1


@task
def die():
    import os

    os._exit(1)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reachable(address, timeout=0.5):
    host, port = address.split("://", 1)[1].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
        return True
    except OSError:
        return False


# -- choosing and starting the runner ----------------------------------------------------------


def test_registered_as_dask_through_the_entry_point():
    assert get_plugins().task_runner_class("dask") is DaskTaskRunner


def test_by_name_starts_a_temporary_local_cluster_and_closes_it(dask_cluster):
    @flow(task_runner="dask")
    def on_own_cluster():
        return scheduler_address.submit().result()

    address = on_own_cluster()
    assert address != dask_cluster.scheduler_address
    assert not _reachable(address), "the flow run's temporary cluster is still up"


def test_cluster_class_by_dotted_path_with_kwargs_and_adapt():
    runner = DaskTaskRunner(
        cluster_class="distributed.LocalCluster",
        cluster_kwargs={"n_workers": 0, "processes": False, "dashboard_address": None},
        adapt_kwargs={"minimum": 1, "maximum": 1},
        client_kwargs={"name": "headwater-test"},
    )

    @flow(task_runner=runner)
    def adaptive():
        return [f.result() for f in length.map(["a", "bb", "ccc"])]

    assert adaptive() == [1, 2, 3]


def test_connecting_to_an_existing_scheduler_leaves_it_running(dask_cluster):
    @flow(task_runner=DaskTaskRunner(address=dask_cluster.scheduler_address))
    def on_shared_cluster():
        return scheduler_address.submit().result()

    assert on_shared_cluster() == dask_cluster.scheduler_address
    assert _reachable(dask_cluster.scheduler_address)


def test_unreachable_address_names_it_within_the_timeout():
    address = f"tcp://127.0.0.1:{_free_port()}"

    @flow(task_runner=DaskTaskRunner(address=address, connect_timeout=1))
    def nowhere():
        return length.submit("x").result()

    started = time.monotonic()
    with pytest.raises(ConnectionError, match=address.replace(".", r"\.")) as info:
        nowhere()
    assert time.monotonic() - started < 10
    assert "connect_timeout" in str(info.value)


def test_options_are_checked_where_given():
    with pytest.raises(ConfigurationError, match="one or the other"):
        DaskTaskRunner(address="tcp://127.0.0.1:8786", cluster_kwargs={"n_workers": 1})
    with pytest.raises(ConfigurationError, match="cluster_class"):
        DaskTaskRunner(cluster_class=42)
    with pytest.raises(ConfigurationError, match="asynchronous"):
        DaskTaskRunner(client_kwargs={"asynchronous": False})
    with pytest.raises(ConfigurationError, match="connect_timeout"):
        DaskTaskRunner(connect_timeout=0)


def test_cluster_class_that_cannot_be_imported_is_named():
    @flow(task_runner=DaskTaskRunner(cluster_class="no_such_package.Cluster"))
    def missing():
        return length.submit("x").result()

    with pytest.raises(ConfigurationError, match="no_such_package.Cluster"):
        missing()


def test_dask_not_installed_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(ImportError, match="pip install headwater-dask"):
        DaskTaskRunner()


# -- how tasks reach Dask ------------------------------------------------------------------------


@pytest.fixture
def submissions(monkeypatch):
    """Every Client.submit call: (key, arguments dict, options)."""
    seen = []
    original = distributed.Client.submit

    def spy(self, func, *args, **kwargs):
        seen.append((kwargs.get("key"), args[1] if len(args) > 1 else None, kwargs))
        return original(self, func, *args, **kwargs)

    monkeypatch.setattr(distributed.Client, "submit", spy)
    return seen


def test_a_large_upstream_result_goes_worker_to_worker(dask_cluster, submissions):
    @flow(task_runner=DaskTaskRunner(address=dask_cluster.scheduler_address))
    def pipeline():
        big, small = blob.submit(2 << 20), blob.submit(10)
        return length.submit(big).result(), length.submit(small).result()

    assert pipeline() == (2 << 20, 10)
    passed = [arguments["data"] for _, arguments, _ in submissions if arguments and "data" in arguments]
    kinds = sorted(type(value).__name__ for value in passed)
    assert kinds == ["Future", "bytes"]  # the 2 MiB result by reference, the 10 bytes by value


def test_keys_name_the_task_and_attempt(dask_cluster, submissions):
    @flow(task_runner=DaskTaskRunner(address=dask_cluster.scheduler_address))
    def keyed():
        return length.submit("abc").result()

    assert keyed() == 3
    (key, _, options), = submissions
    assert key.startswith("length-") and key.endswith("-1")
    assert options["pure"] is False


def test_remote_options_reach_client_submit(dask_cluster):
    target = sorted(dask_cluster.scheduler_info["workers"])[-1]

    @flow(task_runner=DaskTaskRunner(address=dask_cluster.scheduler_address))
    def pinned():
        with remote_options(workers=[target], allow_other_workers=False):
            futures = worker_address.map(range(4))
        return {f.result() for f in futures}

    assert pinned() == {target}
    with pytest.raises(TypeError, match="retries"):
        with remote_options(retries=3):
            pass


def test_task_code_can_use_the_native_client(dask_cluster):
    @flow(task_runner=DaskTaskRunner(address=dask_cluster.scheduler_address))
    def nested():
        return through_worker_client.submit(20).result()

    assert nested() == 41


def test_a_dying_worker_is_recorded_as_a_failed_run(dask_cluster):
    @flow(task_runner=DaskTaskRunner(address=dask_cluster.scheduler_address))
    def fatal():
        future = die.submit()
        return future.result(raise_on_failure=False), future.task_run.id

    error, run_id = fatal()
    assert type(error).__name__ == "KilledWorker"

    from headwater.client import get_client

    (record,) = [r for r in get_client().read_task_runs() if r.id == run_id]
    assert record.state_name == "Failed" and "KilledWorker" in record.state.message


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


def test_task_code_logs_and_prints_to_its_task_run(dask_cluster):
    @flow(task_runner=DaskTaskRunner(address=dask_cluster.scheduler_address))
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
