import pytest


@pytest.fixture(scope="session")
def dask_cluster():
    """One local cluster for the session: two worker processes of one thread each (a 2-core CI machine).

    A task whose worker dies is not run again by Dask (allowed-failures 0), so that the test of a
    dying worker is quick; the nanny restarts the worker.
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            yield cluster
