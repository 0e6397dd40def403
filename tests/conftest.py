import os

import pytest

# headwater_home and headwater_client come from headwater's own pytest plugin
# (headwater.testing.pytest_plugin, loaded through its pytest11 entry point); the
# headwater_isolate ini option in pyproject.toml applies headwater_home to every test.


@pytest.fixture
def client(headwater_client):
    return headwater_client


@pytest.fixture
def run_python(tmp_path):
    """Run Python code (a string, or the path of a script) in a separate process with this test's environment."""
    import subprocess
    import sys

    def run(code=None, *, script=None, args=(), env=None, cwd=None, timeout=120, check=True):
        command = [sys.executable, str(script), *args] if script is not None else [sys.executable, "-c", code, *args]
        full_env = {**os.environ, **(env or {})}
        proc = subprocess.run(command, capture_output=True, text=True, env=full_env, cwd=cwd or tmp_path, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"subprocess failed ({proc.returncode}):\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    return run
