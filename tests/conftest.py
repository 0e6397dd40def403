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


@pytest.fixture(scope="session")
def install_distribution(tmp_path_factory):
    """Build and install a distribution folder with pip into a folder of its own; return that folder.

    Offline and without build isolation (hatchling, the build backend of the test plugins, is in the
    test extra), so that it works on a machine without internet; the shared venv is left alone.
    """
    import importlib.util
    import shutil
    import subprocess
    import sys

    def install(source_dir, dist_info_glob):
        pip = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True, text=True)
        if pip.returncode != 0:
            pytest.skip("pip is not available")
        if importlib.util.find_spec("hatchling") is None:
            pytest.skip("hatchling (the plugin's build backend) is not installed; --no-build-isolation needs it")
        source = tmp_path_factory.mktemp("dist_src") / source_dir.name
        shutil.copytree(source_dir, source, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist"))
        site = tmp_path_factory.mktemp("dist_site")
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
             "--disable-pip-version-check", "--quiet", "--target", str(site), str(source)],
            capture_output=True, text=True, timeout=300,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert list(site.glob(dist_info_glob)), f"pip installed no {dist_info_glob} into {site}"
        return site

    return install
