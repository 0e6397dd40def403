"""Prefect 2.20's runtime context page: ``get_run_context()`` and ``prefect.runtime``, ported."""

import datetime
import os

import pytest

from headwater import flow, task
from headwater.context import FlowRunContext, TaskRunContext, get_run_context
from headwater.exceptions import MissingContextError
import headwater.runtime


def test_the_runtime_module_tells_the_flow_run_and_the_task_run(headwater_client):
    seen = {}

    @flow(log_prints=True)
    def my_flow(x):
        seen["flow name"] = headwater.runtime.flow_run.name
        seen["deployment"] = headwater.runtime.deployment.name
        my_task(2)

    @task
    def my_task(y):
        seen["task name"] = headwater.runtime.task_run.name
        seen["flow parameters"] = headwater.runtime.flow_run.parameters
        seen["task parameters"] = headwater.runtime.task_run.parameters

    my_flow(1)
    flow_record = headwater_client.read_flow_runs()[0]
    task_record = headwater_client.read_task_runs()[0]
    assert seen == {
        "flow name": flow_record.name, "deployment": None, "task name": task_record.name,
        "flow parameters": {"x": 1}, "task parameters": {"y": 2},
    }


def test_every_documented_flow_run_and_task_run_attribute(headwater_client):
    seen = {}

    @task(tags=["etl"])
    def inner(y):
        from headwater.runtime import flow_run, task_run

        seen["task"] = (task_run.id, task_run.name, task_run.task_name, task_run.tags, task_run.run_count, task_run.parameters)
        seen["flow from task"] = flow_run.id

    @flow(version="7")
    def outer(x: int):
        from headwater.runtime import flow_run

        seen["flow"] = (
            flow_run.id, flow_run.name, flow_run.flow_name, flow_run.flow_version, flow_run.parameters,
            flow_run.tags, flow_run.run_count, flow_run.parent_flow_run_id, flow_run.root_flow_run_id,
        )
        seen["scheduled"] = flow_run.scheduled_start_time
        inner.submit(x + 1).result()

    outer(1)
    run = headwater_client.read_flow_runs()[0]
    [task_record] = headwater_client.read_task_runs()
    assert seen["flow"] == (run.id, run.name, "outer", "7", {"x": 1}, [], 1, None, run.id)
    assert seen["scheduled"] == run.created
    assert seen["task"] == (task_record.id, task_record.name, "inner", ["etl"], 1, {"y": 2})
    assert seen["flow from task"] == run.id


def test_outside_a_run_every_attribute_is_empty():
    from headwater.runtime import flow_run, task_run

    assert (flow_run.id, flow_run.name, flow_run.parameters, flow_run.tags, flow_run.run_count) == (None, None, {}, [], 0)
    assert (task_run.id, task_run.name, task_run.parameters, task_run.tags) == (None, None, {}, [])
    assert isinstance(flow_run.scheduled_start_time, datetime.datetime)
    with pytest.raises(AttributeError, match="has no attribute 'nme'"):
        flow_run.nme


def test_runtime_values_can_be_mocked_with_environment_variables(monkeypatch):
    from headwater.runtime import flow_run, task_run

    monkeypatch.setenv("HEADWATER__RUNTIME__TASK_RUN__FAKE_KEY", "foo")
    monkeypatch.setenv("HEADWATER__RUNTIME__FLOW_RUN__RUN_COUNT", "3")
    monkeypatch.setenv("HEADWATER__RUNTIME__FLOW_RUN__SCHEDULED_START_TIME", "2026-12-05T10:00:00+00:00")
    assert task_run.fake_key == "foo"
    assert flow_run.run_count == 3
    assert flow_run.scheduled_start_time == datetime.datetime(2026, 12, 5, 10, tzinfo=datetime.timezone.utc)


def test_get_run_context_in_a_flow_and_in_a_task():
    @task
    def my_task():
        ctx = get_run_context()
        return type(ctx), ctx.task.name, ctx.task_run.name, ctx.parameters, ctx is TaskRunContext.get()

    @flow
    def my_flow():
        ctx = get_run_context()
        return type(ctx), ctx.flow.name, ctx.flow_run.name, ctx.parameters, ctx is FlowRunContext.get(), my_task()

    kind, flow_name, run_name, parameters, same, task_seen = my_flow()
    assert (kind, flow_name, parameters, same) == (FlowRunContext, "my-flow", {}, True)
    assert isinstance(run_name, str)
    assert task_seen[0] is TaskRunContext and task_seen[1] == "my_task" and task_seen[3:] == ({}, True)


def test_get_run_context_outside_a_run_raises_missing_context_error():
    with pytest.raises(MissingContextError, match="No run context available"):
        get_run_context()
    assert FlowRunContext.get() is None and TaskRunContext.get() is None
    assert os.environ.get("HEADWATER__RUNTIME__FLOW_RUN__NAME") is None
