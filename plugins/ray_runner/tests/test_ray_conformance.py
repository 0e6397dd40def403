"""RayTaskRunner keeps the runner contract, on real Ray worker processes."""

import pytest

from headwater.testing.runner_conformance import RunnerConformance
from headwater_ray import RayTaskRunner


class TestRayTaskRunner(RunnerConformance):
    runs_in_other_processes = True

    @pytest.fixture
    def runner(self, ray_running):
        return RayTaskRunner()
