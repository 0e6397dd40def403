"""The store is private to its owner, and secrets do not reach records or logs."""

import stat

from pydantic import SecretStr

from headwater import flow, task
from headwater.client import get_client


def test_home_database_and_storage_are_private(headwater_home):
    @flow
    def f():
        return 1

    f()
    assert stat.S_IMODE(headwater_home.stat().st_mode) == 0o700
    assert stat.S_IMODE((headwater_home / "storage").stat().st_mode) == 0o700
    assert stat.S_IMODE((headwater_home / "headwater.db").stat().st_mode) == 0o600


def test_secret_parameters_are_masked_in_records_and_logs(caplog):
    @task
    def connect(password: SecretStr) -> int:
        return len(password.get_secret_value())

    @flow
    def login(user: str, password: SecretStr) -> int:
        return connect(password)

    assert login("marvin", "hunter2") == 7  # coerced to SecretStr from the type hint
    client = get_client()
    [run] = client.read_flow_runs()
    [task_run] = client.read_task_runs(flow_run_id=run.id)
    for record in (run, task_run):
        assert "hunter2" not in str(record.parameters)
        assert "**********" in record.parameters["password"]
    assert "hunter2" not in caplog.text


def test_a_bad_secret_parameter_is_not_shown_in_the_error(caplog):
    import pytest

    from headwater.exceptions import ParameterError

    @flow
    def login(password: SecretStr) -> None:
        return None

    with pytest.raises(ParameterError, match="a secret, not shown") as raised:
        login(["hunter2"])
    assert "hunter2" not in str(raised.value) and "hunter2" not in caplog.text
    [run] = get_client().read_flow_runs()
    assert run.state.name == "Failed" and "hunter2" not in str(run.parameters)


def test_hostile_cache_keys_write_nothing_outside_the_store(tmp_path, headwater_home):
    hostile = ["../../escape", "/etc/passwd", "a\x00b", "x" * 100_000, "..", "C:\\windows\\system32"]
    before = {p for p in tmp_path.rglob("*")}

    @task(cache_key_fn=lambda context, parameters: parameters["key"], persist_result=True)
    def keyed(key):
        return len(key)

    @flow
    def f():
        return [keyed(key) for key in hostile] + [keyed(key) for key in hostile]

    assert f() == [len(k) for k in hostile] * 2
    states = [t.state.name for t in get_client().read_task_runs()]
    assert states == ["Completed"] * len(hostile) + ["Cached"] * len(hostile)
    created = {p for p in tmp_path.rglob("*")} - before
    assert all(headwater_home in p.parents or p == headwater_home for p in created), created


def test_a_result_that_cannot_be_serialized_fails_the_task_by_name(headwater_home):
    import threading

    import pytest

    @task(persist_result=True)
    def make_lock():
        return threading.Lock()

    @flow
    def f():
        return make_lock()

    with pytest.raises(Exception, match="make_lock") as raised:
        f()
    assert "lock" in str(raised.value).lower()
    client = get_client()
    [run] = client.read_flow_runs()
    [task_run] = client.read_task_runs(flow_run_id=run.id)
    assert task_run.state.name == "Failed" and "make_lock" in task_run.state.message
    assert [s.name for s in client.read_state_history(run.id)] == ["Pending", "Running", "Failed"]
