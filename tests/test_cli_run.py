"""``headwater run FILE.py:FLOW``: one run now, parameters from the shell checked against the type hints."""

import os
import subprocess
import sys
import textwrap

import pytest

from headwater.client import get_client

FLOWS = textwrap.dedent(
    """
    from headwater import flow, task

    @task
    def double(x: int) -> int:
        return x * 2

    @flow(log_prints=True)
    def etl(n: int, label: str = "none", names: list = []):
        print(f"label={label!r} names={names!r}")
        return double(n)

    @flow
    def broken():
        raise RuntimeError("broken on purpose")
    """
)


def headwater(cwd, *args):
    return subprocess.run([sys.executable, "-m", "headwater.cli", *args], cwd=cwd, capture_output=True, text=True, env=os.environ.copy(), timeout=120)


@pytest.fixture
def project(tmp_path, headwater_home):
    (tmp_path / "flows.py").write_text(FLOWS)
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "pipelines" / "__init__.py").write_text("")
    (tmp_path / "pipelines" / "daily.py").write_text(FLOWS)
    return tmp_path


def test_a_run_from_the_shell_is_recorded_with_its_parameters(project):
    done = headwater(project, "run", "flows.py:etl", "--param", "n=3", "-p", "label=123", "-p", 'names=["a", "b"]')
    assert done.returncode == 0, done.stderr
    assert "label='123' names=['a', 'b']" in done.stderr  # "123" stays text for a str; JSON for a list
    assert "finished in state Completed" in done.stderr
    [run] = get_client().read_flow_runs()
    assert run.flow_name == "etl" and run.parameters == {"n": 3, "label": "123", "names": ["a", "b"]}
    assert get_client().read_task_runs(flow_run_id=run.id)[0].state.name == "Completed"


def test_a_module_path_works_too(project):
    done = headwater(project, "run", "pipelines.daily:etl", "-p", "n=1")
    assert done.returncode == 0, done.stderr


def test_a_run_that_fails_exits_1(project):
    done = headwater(project, "run", "flows.py:broken")
    assert done.returncode == 1 and "finished in state Failed" in done.stderr
    assert get_client().read_flow_runs()[0].state.name == "Failed"


@pytest.mark.parametrize(
    "args, message",
    [
        (["flows.py:etl", "-p", "n=abc"], "bad value for parameter 'n': 'abc'"),
        (["flows.py:etl"], "missing a required argument: 'n'"),
        (["flows.py:etl", "-p", "n"], "--param 'n' is not KEY=VALUE"),
        (["flows.py:nope"], "'nope' in flows.py is not defined there; the flows it defines: broken, etl."),
        (["flows.py"], "names no flow: give FILE.py:FLOW"),
        (["missing.py:etl"], "There is no file 'missing.py'"),
        (["no_such_package.mod:etl"], "There is no module 'no_such_package.mod'"),
    ],
)
def test_bad_input_is_a_usage_error_and_starts_no_run(project, args, message):
    done = headwater(project, "run", *args)
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert get_client().read_flow_runs() == []
