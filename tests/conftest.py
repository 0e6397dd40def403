import os

import pytest

from headwater.plugins import Plugins, use_plugins
from headwater.stores import close_stores


@pytest.fixture(autouse=True)
def headwater_home(tmp_path, monkeypatch):
    """Every test gets its own home, database and result storage; plugin failures raise."""
    home = tmp_path / "headwater-home"
    monkeypatch.setenv("HEADWATER_HOME", str(home))
    for name in ("HEADWATER_DATABASE_URL", "HEADWATER_LOCAL_STORAGE_PATH", "HEADWATER_STORE", "HEADWATER_LOAD_PLUGINS", "HEADWATER_BLOCK_PLUGINS"):
        monkeypatch.delenv(name, raising=False)
    with use_plugins(Plugins(strict=True)):
        yield home
    close_stores()


@pytest.fixture
def client(headwater_home):
    from headwater.client import get_client

    return get_client()


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
