"""DaskTaskRunner keeps the runner contract, on real Dask worker processes."""

import pytest

from headwater.testing.runner_conformance import RunnerConformance
from headwater_dask import DaskTaskRunner


class TestDaskTaskRunner(RunnerConformance):
    runs_in_other_processes = True

    @pytest.fixture
    def runner(self, dask_cluster):
        return DaskTaskRunner(address=dask_cluster.scheduler_address)
