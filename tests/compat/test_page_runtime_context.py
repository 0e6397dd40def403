"""Prefect 2.20's runtime context guide, its examples ported with ``prefect`` renamed ``headwater``."""

import subprocess
import sys

import pytest

from headwater import flow, runtime, task
from headwater.context import FlowRunContext, TaskRunContext, get_run_context
from headwater.exceptions import MissingContextError


def test_runtime_names_the_runs_and_the_deployment_is_none(capfd):
    @task
    def my_task(y):
        print("My name is", runtime.task_run.name)
        print("Flow run parameters:", runtime.flow_run.parameters)
        return runtime.task_run.name

    @flow(log_prints=True)
    def my_flow(x):
        print("My name is", runtime.flow_run.name)
        print("I belong to deployment", runtime.deployment.name)
        return runtime.flow_run.name, my_task(2)

    flow_name, task_name = my_flow(1)
    err = capfd.readouterr().err
    assert f"My name is {flow_name}" in err and f"My name is {task_name}" in err
    assert "I belong to deployment None" in err and "Flow run parameters: {'x': 1}" in err


def test_a_runtime_value_mocked_by_the_environment():
    # Differs: the variables are HEADWATER__RUNTIME__..., not PREFECT__RUNTIME__...
    code = "from headwater.runtime import task_run; print(task_run.fake_key)"
    env = {"HEADWATER__RUNTIME__TASK_RUN__FAKE_KEY": "foo", "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.stdout.strip() == "foo", out.stderr  # a key runtime does not have, given by the environment
    env["HEADWATER__RUNTIME__TASK_RUN__NAME"] = "mocked"
    done = subprocess.run([sys.executable, "-c", "from headwater.runtime import task_run; print(task_run.name)"],
                          capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "mocked"


def test_the_run_context_and_the_flow_and_task_contexts():
    @task
    def inner():
        return type(get_run_context()).__name__, FlowRunContext.get() is not None, TaskRunContext.get().task_run.name

    @flow
    def outer():
        return type(get_run_context()).__name__, inner()

    kind, (task_kind, has_flow, name) = outer()
    assert (kind, task_kind, has_flow) == ("FlowRunContext", "TaskRunContext", True) and name.startswith("inner-")
    assert FlowRunContext.get() is None and TaskRunContext.get() is None
    with pytest.raises(MissingContextError):
        get_run_context()
