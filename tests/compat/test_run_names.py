"""Prefect 2.20's flows and tasks pages: custom run names (``flow_run_name``, ``task_run_name``), ported.

Each example is written with ``prefect`` renamed ``headwater``, and checks what the Prefect docs say
happens: the name is the template formatted with the run's parameters, or what the function
returns; it is what the store records and what the log lines say.
"""

import datetime

import pytest

from headwater import flow, task
from headwater.exceptions import ConfigurationError
from headwater.runtime import flow_run, task_run


def test_a_flow_run_name_is_a_template_over_the_parameters(headwater_client, capfd):
    @flow(flow_run_name="{name}-on-{date:%A}")
    def my_flow(name: str, date: datetime.datetime):
        return flow_run.name

    name = my_flow(name="marvin", date=datetime.datetime(2026, 12, 5))
    assert name == "marvin-on-Saturday"
    [record] = headwater_client.read_flow_runs()
    assert record.name == "marvin-on-Saturday"
    assert "Flow run 'marvin-on-Saturday' - Beginning flow run 'marvin-on-Saturday'" in capfd.readouterr().err


def test_a_flow_run_name_is_what_a_function_returns_which_may_read_the_runtime(headwater_client):
    def generate_flow_run_name():
        parameters = flow_run.parameters
        return f"{flow_run.flow_name}-with-{parameters['name']}-and-{parameters['limit']}"

    @flow(flow_run_name=generate_flow_run_name)
    def my_flow(name: str, limit: int = 100):
        return flow_run.name

    assert my_flow(name="marvin") == "my-flow-with-marvin-and-100"
    assert headwater_client.read_flow_runs()[0].name == "my-flow-with-marvin-and-100"


def test_a_task_run_name_is_a_template_or_a_function(headwater_client, capfd):
    @task(name="My Example Task", description="An example task for a tutorial.", task_run_name="hello-{name}-on-{date:%A}")
    def my_task(name, date):
        return task_run.name

    def generate_task_name():
        return f"{task_run.task_name}-with-{task_run.parameters['name']}"

    @task(task_run_name=generate_task_name)
    def other(name):
        return task_run.name

    @flow
    def my_flow():
        # the names of runs in the same flow need not be unique
        first = my_task(name="marvin", date=datetime.datetime(2026, 12, 5))
        again = my_task.submit(name="marvin", date=datetime.datetime(2026, 12, 5)).result()
        return first, again, other(name="arthur")

    assert my_flow() == ("hello-marvin-on-Saturday", "hello-marvin-on-Saturday", "other-with-arthur")
    names = [run.name for run in headwater_client.read_task_runs()]
    assert names == ["hello-marvin-on-Saturday", "hello-marvin-on-Saturday", "other-with-arthur"]
    err = capfd.readouterr().err
    assert "Created task run 'hello-marvin-on-Saturday' for task 'My Example Task'" in err
    assert "Task run 'other-with-arthur' - Finished in state Completed()" in err


def test_a_task_run_name_formats_the_upstream_values_once_they_are_there(headwater_client):
    @task
    def fetch():
        return "lyon"

    @task(task_run_name="report-{city}")
    def report(city):
        return task_run.name

    @flow
    def weather():
        return report.submit(fetch.submit()).result()

    assert weather() == "report-lyon"
    assert {run.name for run in headwater_client.read_task_runs()} >= {"report-lyon"}


def test_a_template_naming_no_parameter_is_refused_when_the_task_is_made():
    with pytest.raises(ConfigurationError, match=r"task_run_name='t-\{y\}' names 'y', which is not a parameter \(parameters: x\)"):
        @task(task_run_name="t-{y}")
        def t(x):
            return x

    with pytest.raises(ConfigurationError, match="flow_run_name=3 must be a string"):
        flow(flow_run_name=3)(lambda: None)


def test_a_name_function_that_returns_no_string_is_an_error_naming_the_option():
    @flow(flow_run_name=lambda: 42)
    def numbered():
        return 1

    with pytest.raises(TypeError, match="the flow_run_name function .* returned 42, a int; it must return a string"):
        numbered()


def test_with_options_keeps_or_changes_the_run_name(headwater_client):
    @task(task_run_name="first-{x}")
    def t(x):
        return task_run.name

    @flow
    def f():
        return t(1), t.with_options(task_run_name="second-{x}")(2)

    assert f() == ("first-1", "second-2")
