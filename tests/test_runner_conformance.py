"""headwater's own runners keep the runner contract (headwater.testing.runner_conformance)."""

import pytest

from headwater.task_runners import ConcurrentTaskRunner, SequentialTaskRunner
from headwater.testing.runner_conformance import RunnerConformance


class TestSequentialTaskRunner(RunnerConformance):
    @pytest.fixture
    def runner(self):
        return SequentialTaskRunner()


class TestConcurrentTaskRunner(RunnerConformance):
    @pytest.fixture
    def runner(self):
        return ConcurrentTaskRunner()


class TestConcurrentTaskRunnerByName(RunnerConformance):
    """A registered name works the same as an instance: the flow builds the runner per run."""

    @pytest.fixture
    def runner(self):
        return "concurrent"


def test_known_failures_are_strict_xfails(tmp_path):
    """A runner's declared gap is an expected failure; a gap that is gone makes the run fail (XPASS strict)."""
    import subprocess
    import sys

    (tmp_path / "test_gap.py").write_text(
        "import pytest\n"
        "from headwater.task_runners import ConcurrentTaskRunner\n"
        "from headwater.testing.runner_conformance import RunnerConformance\n"
        "class TestGap(RunnerConformance):\n"
        "    known_failures = {'test_map': 'pretend map is broken'}\n"
        "    @pytest.fixture\n"
        "    def runner(self):\n"
        "        return ConcurrentTaskRunner()\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "test_map or test_submit_and_result", "test_gap.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1, proc.stdout
    assert "XPASS(strict)" in proc.stdout and "pretend map is broken" in proc.stdout
    assert "1 passed" in proc.stdout
