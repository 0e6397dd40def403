import pytest

# Ray takes about 4 s to start on a 2-core machine: the tests share one Ray, started once.
# Tests marked own_ray check that a runner starts and stops a Ray of its own; they run first,
# before the shared one is up.


def pytest_configure(config):
    config.addinivalue_line("markers", "own_ray: the test starts (and stops) a Ray of its own; runs before the shared Ray starts")


def pytest_collection_modifyitems(session, config, items):
    items.sort(key=lambda item: item.get_closest_marker("own_ray") is None)  # stable: only moves own_ray tests first


@pytest.fixture(scope="session")
def _shared_ray():
    import ray

    yield ray
    if ray.is_initialized():
        ray.shutdown()


@pytest.fixture
def ray_running(_shared_ray):
    """Ray is initialized in this process (started once, shut down at the end of the session)."""
    if not _shared_ray.is_initialized():
        _shared_ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    return _shared_ray
