"""Every code example of the seed tutorial (flow-and-task-configuration.md), with prefect -> headwater.

Examples whose body is only a comment get ``pass``; long sleeps and retry delays are shortened.
"""

import importlib.util
import re
import time

import pytest

from headwater.client import get_client


def messages(caplog):
    return [record.getMessage() for record in caplog.records]


def state_names(run_id):
    return [state.name for state in get_client().read_state_history(run_id)]


# -- basic flow configuration ----------------------------------------------------------------


def test_flow_name():
    from headwater import flow

    @flow(name="My Example Flow")
    def my_flow():
        # run tasks and subflows
        pass

    assert my_flow.name == "My Example Flow"
    assert my_flow() is None
    [run] = get_client().read_flow_runs()
    assert run.flow_name == "My Example Flow"
    assert run.state.name == "Completed"


def test_flow_description_explicit():
    from headwater import flow

    @flow(name="My Example Flow",
          description="An example flow for a tutorial.")
    def my_flow():
        # run tasks and subflows
        pass

    assert my_flow.description == "An example flow for a tutorial."
    my_flow()


def test_flow_description_from_docstring():
    from headwater import flow

    @flow(name="My Example Flow")
    def my_flow():
        """An example flow for a tutorial."""
        # run tasks and subflows

    assert my_flow.description == "An example flow for a tutorial."
    my_flow()


def test_flow_without_docstring_has_no_description():
    from headwater import flow

    @flow
    def my_flow():
        pass

    assert my_flow.description is None


def test_flow_version_explicit():
    from headwater import flow

    @flow(name="My Example Flow",
          description="An example flow for a tutorial.",
          version="tutorial_02")
    def my_flow():
        # run tasks and subflows
        pass

    assert my_flow.version == "tutorial_02"
    my_flow()
    [run] = get_client().read_flow_runs()
    assert run.flow_version == "tutorial_02"


def test_flow_version_from_environment(monkeypatch):
    monkeypatch.setenv("GIT_COMMIT_SHA", "0a1b2c3d4e5f")
    import os

    from headwater import flow

    @flow(name="My Example Flow",
          description="An example flow for a tutorial.",
          version=os.getenv("GIT_COMMIT_SHA"))
    def my_flow():
        # run tasks and subflows
        pass

    assert my_flow.version == "0a1b2c3d4e5f"
    my_flow()
    assert get_client().read_flow_runs()[0].flow_version == "0a1b2c3d4e5f"


FLOW_MODULE = '''\
from headwater import flow

@flow(name="My Example Flow")
def my_flow():
    """An example flow for a tutorial."""
    # run tasks and subflows
    return 1
'''

PRINT_VERSION = """
import sys
sys.path.insert(0, sys.argv[1])
import tutorial_flow
print(tutorial_flow.my_flow.version)
if len(sys.argv) > 2:
    tutorial_flow.my_flow()
"""


def test_flow_version_default_is_a_stable_hash_of_the_file(tmp_path, run_python):
    folder = tmp_path / "mod"
    folder.mkdir()
    source = folder / "tutorial_flow.py"
    source.write_text(FLOW_MODULE)

    first = run_python(PRINT_VERSION, args=[str(folder)]).stdout.strip()
    second = run_python(PRINT_VERSION, args=[str(folder), "run"]).stdout.strip()
    assert first == second
    assert re.fullmatch(r"[0-9a-f]{8,}", first), first

    # The same in this process too.
    spec = importlib.util.spec_from_file_location("tutorial_flow_in_process", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.my_flow.version == first

    # The run made by the second process recorded it.
    [run] = get_client().read_flow_runs()
    assert run.flow_version == first

    # A change to the file changes the version.
    source.write_text(FLOW_MODULE + "\n# changed\n")
    changed = run_python(PRINT_VERSION, args=[str(folder)]).stdout.strip()
    assert changed != first and re.fullmatch(r"[0-9a-f]{8,}", changed)


def test_flow_version_is_none_without_a_file():
    namespace = {}
    exec(compile("from headwater import flow\n@flow\ndef my_flow():\n    pass\n", "<string>", "exec"), namespace)
    assert namespace["my_flow"].version is None


# -- basic task configuration ----------------------------------------------------------------


def test_task_name_and_description():
    from headwater import flow, task

    @task(name="My Example Task",
          description="An example task for a tutorial.")
    def my_task():
        # do some work
        pass

    @flow
    def my_flow():
        my_task()

    assert my_task.name == "My Example Task"
    assert my_task.description == "An example task for a tutorial."
    my_flow()
    [flow_run] = get_client().read_flow_runs()
    [task_run] = get_client().read_task_runs(flow_run_id=flow_run.id)
    assert task_run.task_name == "My Example Task"
    assert re.fullmatch(r"My Example Task-[0-9a-f]{8}-0", task_run.name), task_run.name
    assert task_run.state.name == "Completed"


def test_task_tags_are_recorded_on_the_task_run():
    from headwater import flow, task

    @task(name="My Example Task",
          description="An example task for a tutorial.",
          tags=["tutorial", "tag-test"])
    def my_task():
        # do some work
        pass

    @flow
    def my_flow():
        my_task()

    assert list(my_task.tags) == ["tutorial", "tag-test"]
    my_flow()
    [task_run] = get_client().read_task_runs()
    assert task_run.tags == ["tutorial", "tag-test"]
    assert task_run.task_name == "My Example Task"


# -- retries ---------------------------------------------------------------------------------


def test_retries_example(capsys, caplog):
    from headwater import flow, task

    # this tasks runs 3 times before the flow fails
    @task(retries=2, retry_delay_seconds=60)
    def failure():
        print('running')
        raise ValueError("bad code")

    assert failure.retries == 2 and failure.retry_delay_seconds == 60
    fast_failure = failure.with_options(retry_delay_seconds=0)  # the tutorial waits 60 s; the test does not
    assert fast_failure.retries == 2

    @flow
    def test_retries():
        return fast_failure()

    assert test_retries.name == "test-retries"
    started = time.monotonic()
    with pytest.raises(ValueError, match="bad code"):
        test_retries()
    assert time.monotonic() - started < 10
    assert capsys.readouterr().out.count("running") == 3

    client = get_client()
    [flow_run] = client.read_flow_runs()
    assert flow_run.flow_name == "test-retries"
    assert flow_run.state.type.value == "FAILED"
    [task_run] = client.read_task_runs(flow_run_id=flow_run.id)
    assert re.fullmatch(r"failure-[0-9a-f]{8}-0", task_run.name)
    assert task_run.run_count == 3
    assert state_names(task_run.id) == [
        "Pending", "Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Failed",
    ]

    logs = messages(caplog)
    retry_lines = [
        m for m in logs
        if re.search(r"received non-final state 'AwaitingRetry' when proposing final state 'Failed'", m, re.IGNORECASE)
    ]
    assert len(retry_lines) == 2
    assert all("will attempt to run again" in m for m in retry_lines)
    tracebacks = [m for m in logs if "encountered exception" in m.lower()]
    assert len(tracebacks) >= 3
    assert "Traceback (most recent call last)" in tracebacks[0] and "ValueError: bad code" in tracebacks[0]


def test_retries_example_with_its_delay_waits():
    """The retry delay is honoured (a shortened one, measured from the state history)."""
    from headwater import flow, task

    @task(retries=1, retry_delay_seconds=0.3)
    def failure():
        raise ValueError("bad code")

    @flow
    def test_retries():
        return failure()

    with pytest.raises(ValueError):
        test_retries()
    [task_run] = get_client().read_task_runs()
    history = get_client().read_state_history(task_run.id)
    assert [s.name for s in history] == ["Pending", "Running", "AwaitingRetry", "Retrying", "Failed"]
    waited = (history[3].timestamp - history[2].timestamp).total_seconds()
    assert waited >= 0.25


# -- caching ---------------------------------------------------------------------------------


def define_hello_flow():
    from datetime import timedelta

    from headwater import flow, task
    from headwater.tasks import task_input_hash

    @task(cache_key_fn=task_input_hash, cache_expiration=timedelta(minutes=1))
    def hello_task(name_input):
        # Doing some work
        print(f"Saying hello {name_input}")
        return "hello " + name_input

    @flow
    def hello_flow(name_input):
        hello_task(name_input)

    return hello_flow


def test_task_input_hash_caching(capsys, caplog):
    hello_flow = define_hello_flow()
    hello_flow("Marvin")
    assert capsys.readouterr().out.count("Saying hello Marvin") == 1
    state = hello_flow("Marvin", return_state=True)
    assert state.is_completed()
    assert "Saying hello" not in capsys.readouterr().out
    hello_flow("Trillian")
    assert capsys.readouterr().out.count("Saying hello Trillian") == 1

    client = get_client()
    runs = list(reversed(client.read_flow_runs(flow_name="hello-flow")))  # oldest first
    assert len(runs) == 3
    finals = []
    for run in runs:
        [task_run] = client.read_task_runs(flow_run_id=run.id)
        assert re.fullmatch(r"hello_task-[0-9a-f]{8}-0", task_run.name), task_run.name
        finals.append(task_run.state.name)
    assert finals == ["Completed", "Cached", "Completed"]
    [cached_run] = client.read_task_runs(flow_run_id=runs[1].id)
    assert state_names(cached_run.id) == ["Pending", "Cached"]
    assert cached_run.state.type.value == "COMPLETED"
    # The cached state carries the stored value.
    assert cached_run.state.to_state().result() == "hello Marvin"

    logs = messages(caplog)
    assert any("Beginning flow run" in m for m in logs)
    assert any("Using task runner 'ConcurrentTaskRunner'" in m for m in logs)
    assert any(re.search(r"Created task run 'hello_task-[0-9a-f]{8}-0' for task 'hello_task'", m) for m in logs)
    assert any("Finished in state Completed()" in m for m in logs)
    assert any("Finished in state Cached(" in m for m in logs)
    assert any("Finished in state Completed('All states completed.')" in m for m in logs)


HELLO_SCRIPT = '''\
from headwater import flow, task
from headwater.tasks import task_input_hash
from datetime import timedelta

@task(cache_key_fn=task_input_hash, cache_expiration=timedelta(minutes=1))
def hello_task(name_input):
    # Doing some work
    print(f"Saying hello {name_input}")
    return "hello " + name_input

@flow
def hello_flow(name_input):
    hello_task(name_input)

if __name__ == "__main__":
    import sys
    hello_flow(sys.argv[1])
'''


def test_caching_across_separate_processes(tmp_path, run_python):
    script = tmp_path / "hello.py"
    script.write_text(HELLO_SCRIPT)
    first = run_python(script=script, args=["Marvin"])
    assert "Saying hello Marvin" in first.stdout
    second = run_python(script=script, args=["Marvin"])
    assert "Saying hello" not in second.stdout
    assert "Cached(" in second.stderr  # the log line of the cached task run
    third = run_python(script=script, args=["Trillian"])
    assert "Saying hello Trillian" in third.stdout

    client = get_client()
    runs = list(reversed(client.read_flow_runs(flow_name="hello-flow")))
    assert len(runs) == 3
    states = [client.read_task_runs(flow_run_id=run.id)[0].state.name for run in runs]
    assert states == ["Completed", "Cached", "Completed"]


def test_cache_expiration(capsys):
    from datetime import timedelta

    from headwater import flow, task
    from headwater.tasks import task_input_hash

    @task(cache_key_fn=task_input_hash, cache_expiration=timedelta(milliseconds=300))
    def hello_task(name_input):
        # Doing some work
        print(f"Saying hello {name_input}")
        return "hello " + name_input

    @flow
    def hello_flow(name_input):
        hello_task(name_input)

    hello_flow("Marvin")
    hello_flow("Marvin")
    assert capsys.readouterr().out.count("Saying hello Marvin") == 1  # cached while fresh
    time.sleep(0.4)
    hello_flow("Marvin")
    assert capsys.readouterr().out.count("Saying hello Marvin") == 1  # expired: runs again
    names = [get_client().read_task_runs(flow_run_id=r.id)[0].state.name for r in reversed(get_client().read_flow_runs())]
    assert names == ["Completed", "Cached", "Completed"]


def test_cache_key_function_from_sum(capsys):
    from headwater import flow, task
    from datetime import timedelta
    import time

    def cache_key_from_sum(context, parameters):
        print(parameters)
        return sum(parameters["nums"])

    @task(cache_key_fn=cache_key_from_sum, cache_expiration=timedelta(minutes=1))
    def cached_task(nums):
        print('running an expensive operation')
        time.sleep(0.01)  # 3 s in the tutorial
        return sum(nums)

    @flow
    def test_caching(nums):
        cached_task(nums)

    test_caching([2, 2])
    out = capsys.readouterr().out
    assert "{'nums': [2, 2]}" in out and out.count("running an expensive operation") == 1
    test_caching([2, 2])
    out = capsys.readouterr().out
    assert "{'nums': [2, 2]}" in out and "running an expensive operation" not in out
    test_caching([1, 3])
    out = capsys.readouterr().out
    assert "{'nums': [1, 3]}" in out and "running an expensive operation" not in out
    test_caching([2, 3])
    out = capsys.readouterr().out
    assert "{'nums': [2, 3]}" in out and out.count("running an expensive operation") == 1

    client = get_client()
    task_runs = [client.read_task_runs(flow_run_id=r.id)[0] for r in reversed(client.read_flow_runs(flow_name="test-caching"))]
    assert [t.state.name for t in task_runs] == ["Completed", "Cached", "Cached", "Completed"]
    assert [t.cache_key for t in task_runs] == ["4", "4", "4", "5"]
    # [1, 3] got the value cached for [2, 2]: 4.
    assert task_runs[2].state.to_state().result() == 4


def test_sequential_task_runner_example(capsys, caplog):
    from headwater import flow, task
    from headwater.task_runners import SequentialTaskRunner

    @task
    def first_task(num):
        return num + num

    @task
    def second_task(num):
        return num * num

    @flow(name="My Example Flow",
          task_runner=SequentialTaskRunner(),
          )
    def my_flow(num):
        plusnum = first_task.submit(num)
        sqnum = second_task.submit(plusnum)
        print(f"add: {plusnum.result()}, square: {sqnum.result()}")

    my_flow(5)
    assert "add: 10, square: 100" in capsys.readouterr().out
    assert any("Using task runner 'SequentialTaskRunner'" in m for m in messages(caplog))
    [run] = get_client().read_flow_runs()
    task_runs = get_client().read_task_runs(flow_run_id=run.id)
    assert sorted(t.task_name for t in task_runs) == ["first_task", "second_task"]
    assert all(t.state.name == "Completed" for t in task_runs)
