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
