"""Prefect 2.20's results page: ``persist_result``, ``result_storage``, ``result_serializer`` and
``cache_result_in_memory``, ported (storage through fsspec; Prefect's storage blocks as
``headwater.filesystems.LocalFileSystem`` / ``RemoteFileSystem``)."""

import sqlite3
import subprocess
import sys

import pytest

from headwater import flow, task
from headwater.exceptions import ConfigurationError, MissingResult
from headwater.filesystems import LocalFileSystem, RemoteFileSystem
from headwater.serializers import JSONSerializer, Serializer


def _store_payloads(home):
    conn = sqlite3.connect(home / "headwater.db")
    try:
        return conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("where", ["path", "file-url", "local-block", "remote-block"])
def test_result_storage_keeps_results_outside_the_store(tmp_path, headwater_home, where):
    folder = tmp_path / "results"
    storage = {
        "path": str(folder), "file-url": folder.as_uri(),
        "local-block": LocalFileSystem(basepath=folder), "remote-block": RemoteFileSystem(basepath=folder.as_uri()),
    }[where]

    @task(result_storage=storage)  # choosing a storage persists results (persist_result is left unset)
    def double(x):
        return {"doubled": x * 2}

    state = double(21, return_state=True)  # a task called outside a flow is a recorded run too
    assert state.storage_key.startswith("file://") and state.storage_key.endswith(next(folder.iterdir()).name)
    assert state.result() == {"doubled": 42}
    assert _store_payloads(headwater_home) == 0
    from headwater.results import load_result

    assert load_result(state.storage_key) == {"doubled": 42}  # read back from the URL alone


def test_memory_storage_and_each_serializer():
    class Point:
        def __init__(self, x):
            self.x = x

    @task(result_storage="memory://hw-results", result_serializer="json")
    def as_json():
        return [1, "two", {"three": 3.0}]

    @task(result_storage="memory://hw-results", result_serializer="pickle")
    def as_pickle():
        return Point(5)

    @task(result_storage="memory://hw-results", result_serializer="compressed/json")
    def compressed():
        return "z" * 10_000

    @flow
    def my_flow():
        return as_json(), as_pickle().x, compressed()

    assert my_flow() == ([1, "two", {"three": 3.0}], 5, "z" * 10_000)
    import fsspec

    sizes = [info["size"] for info in fsspec.filesystem("memory").ls("/hw-results", detail=True)]
    assert len(sizes) == 3 and min(sizes) < 200  # the compressed one


def test_a_value_the_serializer_cannot_take_fails_the_run_with_a_message_naming_the_option():
    @task(result_serializer="json")
    def not_json():
        return {1, 2}

    state = not_json(return_state=True)  # a task called outside a flow is a recorded run too
    assert state.is_failed()
    assert "cannot be serialized with result_serializer='json'" in state.message and "set" in state.message


def test_a_serializer_of_your_own(headwater_home):
    class Reversed(Serializer):
        type = "reversed-json"

        def dumps(self, value):
            return JSONSerializer().dumps(value)[::-1]

        def loads(self, data):
            return JSONSerializer().loads(data[::-1])

    @task(result_serializer=Reversed())
    def greet():
        return "hello"

    state = greet(return_state=True)  # a task called outside a flow is a recorded run too
    from headwater.client import get_client
    from headwater.stores import get_store

    payload = get_store().read_result(state.storage_key)
    assert payload.startswith(b"Sreversed-json\n") and payload.endswith(b'"olleh"')
    [record] = get_client().read_task_runs()
    assert record.state.to_state().result() == "hello"


def test_cache_result_in_memory_false_reads_the_result_back_from_storage(tmp_path):
    storage = tmp_path / "results"

    @task(result_storage=str(storage), cache_result_in_memory=False)
    def big():
        return list(range(1000))

    state = big(return_state=True)
    assert state.result() == list(range(1000))  # read from the file
    gone = big(return_state=True)
    for payload in storage.iterdir():
        payload.unlink()
    with pytest.raises(MissingResult, match="is gone"):  # nothing was kept in memory
        gone.result()


def test_bad_result_options_are_refused_when_the_task_is_made():
    with pytest.raises(ConfigurationError, match="result_serializer='yaml' names no serializer; use one of"):
        task(result_serializer="yaml")(lambda: 1)
    with pytest.raises(ConfigurationError, match="result_storage='s3-bucket/my-block' names a Prefect block; headwater has no blocks"):
        task(result_storage="s3-bucket/my-block")(lambda: 1)
    with pytest.raises(ConfigurationError, match="result_storage=42 is not a result storage"):
        flow(result_storage=42)(lambda: 1)


def test_a_storage_that_cannot_be_written_fails_the_run_and_says_where(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    @task(result_storage=str(blocker / "results"))
    def t():
        return 1

    state = t(return_state=True)  # a task called outside a flow is a recorded run too
    assert state.is_failed() and "could not be written to result_storage" in state.message


CACHED_SCRIPT = """
import sys
from headwater import flow, task
from headwater.tasks import task_input_hash

@task(cache_key_fn=task_input_hash, result_storage=sys.argv[1])
def expensive(x):
    print("computing", x, flush=True)
    return {"squared": x * x}

@flow
def my_flow():
    return expensive(12)

print(my_flow(), flush=True)
"""


def test_a_cached_result_is_served_to_another_process_from_shared_storage(tmp_path, headwater_home):
    # Two processes share the store's database (the record) and a storage location (the results),
    # but not the store's own storage folder: the second gets a cache hit, read from the shared location.
    script = tmp_path / "cached.py"
    script.write_text(CACHED_SCRIPT)
    shared = (tmp_path / "shared").as_uri()
    import os

    def run(storage_folder):
        env = {**os.environ, "HEADWATER_LOCAL_STORAGE_PATH": str(tmp_path / storage_folder)}
        return subprocess.run([sys.executable, str(script), shared], env=env, capture_output=True, text=True, timeout=120, check=True)

    first, second = run("machine-a"), run("machine-b")
    assert "computing 12" in first.stdout and "{'squared': 144}" in first.stdout
    assert "computing" not in second.stdout and "{'squared': 144}" in second.stdout
    assert _store_payloads(headwater_home) == 0
    assert list((tmp_path / "shared").iterdir())


def test_result_storage_key_names_the_file_from_parameters_and_the_runtime(tmp_path):
    storage = tmp_path / "results"

    @task(result_storage=str(storage), result_storage_key="{flow_run.name}/{parameters[city]}.json", result_serializer="json")
    def weather(city):
        return {"city": city, "temperature": 3}

    @flow(flow_run_name="daily-report")
    def report():
        called = weather("oslo", return_state=True)
        submitted = weather.submit("bergen").wait()
        return called, submitted

    called, submitted = report()
    assert called.storage_key == (storage / "daily-report" / "oslo.json").as_uri()
    assert submitted.storage_key == (storage / "daily-report" / "bergen.json").as_uri()
    assert sorted(p.name for p in (storage / "daily-report").iterdir()) == ["bergen.json", "oslo.json"]
    assert submitted.result() == {"city": "bergen", "temperature": 3}


def test_result_storage_key_without_result_storage_writes_under_the_local_storage_folder(headwater_home):
    @task(result_storage_key="greeting-{parameters[name]}.pickle")
    def greet(name):
        return f"hello {name}"

    state = greet("ada", return_state=True)
    path = headwater_home / "storage" / "greeting-ada.pickle"
    assert state.storage_key == path.as_uri() and path.exists()
    assert state.result() == "hello ada"


def test_a_bad_result_storage_key_is_refused_or_fails_the_run_with_a_message():
    with pytest.raises(ConfigurationError, match=r"result_storage_key='\{city\}.json' has the field \{city\}"):
        task(result_storage_key="{city}.json")(lambda city: city)

    @task(result_storage_key="{parameters[town]}.json")
    def weather(city):
        return city

    state = weather("oslo", return_state=True)
    assert state.is_failed() and "result_storage_key='{parameters[town]}.json' cannot be filled in" in state.message

    @task(result_storage_key="../{parameters[city]}")
    def escapes(city):
        return city

    state = escapes("oslo", return_state=True)
    assert state.is_failed() and "not a path under the result storage" in state.message


def test_results_settings_persist_by_default_and_choose_the_serializer(headwater_home, monkeypatch):
    from headwater.stores import get_store

    @task
    def plain():
        return {"n": 1}

    @task(persist_result=False)
    def never():
        return 2

    assert plain(return_state=True).storage_key is None  # the default: nothing to persist for
    monkeypatch.setenv("HEADWATER_RESULTS_PERSIST_BY_DEFAULT", "true")
    monkeypatch.setenv("HEADWATER_RESULTS_DEFAULT_SERIALIZER", "pickle")
    state = plain(return_state=True)
    assert state.storage_key is not None and never(return_state=True).storage_key is None
    assert get_store().read_result(state.storage_key).startswith(b"Spickle\n")  # not JSON, as chosen


def test_a_bad_default_serializer_setting_names_the_variable(monkeypatch):
    from headwater.settings import get_settings

    monkeypatch.setenv("HEADWATER_RESULTS_DEFAULT_SERIALIZER", "yaml")
    with pytest.raises(ConfigurationError, match="HEADWATER_RESULTS_DEFAULT_SERIALIZER='yaml' is not valid: it must name a serializer: one of json, pickle"):
        get_settings()
