"""The SQLite store: records, state history, the database file, result payloads, errors, and several processes at once."""

import logging
import os
import re
import sqlite3
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from headwater import flow, tags, task
from headwater_sqlite.schema import SCHEMA_VERSION
from headwater.client import get_client
from headwater.exceptions import StoreError
from headwater.stores import close_stores
from headwater.tasks import task_input_hash


def cached_hello(size=None):
    """A cached task returning a short string, or ``size`` bytes (big enough to be kept as a file)."""
    calls = []

    @task(cache_key_fn=task_input_hash, cache_expiration=timedelta(minutes=1))
    def hello_task(name_input):
        calls.append(name_input)
        return "hello " + name_input if size is None else b"x" * size

    @flow
    def hello_flow(name_input):
        return hello_task(name_input)

    return hello_flow, calls


BIG = 300 * 1024  # over the store's inline limit


# -- records ---------------------------------------------------------------------------------


def test_flow_run_record_fields():
    @task
    def t(x):
        return x

    @flow(name="recorded")
    def f(x: int, label: str = "default"):
        return t(x)

    before = time.time()
    with tags("team-a"):
        f(7)
    after = time.time()

    [run] = get_client().read_flow_runs()
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", run.id)
    assert re.fullmatch(r"[a-z]+-[a-z]+", run.name), run.name
    assert run.flow_name == "recorded"
    assert run.state.name == "Completed" and run.state.type.value == "COMPLETED"
    assert run.state.message == "All states completed."
    assert run.tags == ["team-a"]
    assert run.parameters == {"x": 7, "label": "default"}
    assert before - 1 <= run.start_time.timestamp() <= run.end_time.timestamp() <= after + 1
    assert run.start_time.tzinfo is not None
    assert run.run_count == 1
    assert run.parent_flow_run_id is None

    [task_run] = get_client().read_task_runs(flow_run_id=run.id)
    assert task_run.flow_run_id == run.id
    assert task_run.task_name == "t"
    assert task_run.parameters == {"x": 7}
    assert task_run.tags == ["team-a"]
    assert run.start_time <= task_run.start_time <= task_run.end_time <= run.end_time


def test_run_names_are_two_words_and_vary():
    @flow
    def f():
        pass

    for _ in range(12):
        f()
    names = [run.name for run in get_client().read_flow_runs()]
    assert all(re.fullmatch(r"[a-z]+-[a-z]+", name) for name in names)
    assert len(set(names)) > 1


def test_state_history_is_oldest_first():
    attempts = []

    @task(retries=1)
    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first")
        return 1

    @flow
    def f():
        return flaky()

    f()
    [run] = get_client().read_task_runs()
    states = get_client().read_state_history(run.id)
    assert [s.name for s in states] == ["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]
    assert [s.type.value for s in states] == ["PENDING", "RUNNING", "SCHEDULED", "RUNNING", "COMPLETED"]
    stamps = [s.timestamp for s in states]
    assert stamps == sorted(stamps)
    assert states[2].message  # "Retry 1 of 1"


def test_read_flow_runs_newest_first_with_filter_and_limit():
    @flow
    def alpha(i: int):
        return i

    @flow
    def beta():
        pass

    for i in range(3):
        alpha(i)
    beta()
    runs = get_client().read_flow_runs(flow_name="alpha")
    assert [run.parameters["i"] for run in runs] == [2, 1, 0]
    assert len(get_client().read_flow_runs(limit=2)) == 2
    assert get_client().read_flow_runs(limit=1)[0].flow_name == "beta"


def test_read_flow_run_by_id_prefix_and_name():
    @flow
    def f():
        pass

    f()
    [run] = get_client().read_flow_runs()
    client = get_client()
    assert client.read_flow_run(run.id).id == run.id
    assert client.read_flow_run(run.id[:8]).id == run.id
    assert client.read_flow_run(run.name).id == run.id
    assert client.read_flow_run("no-such-run") is None


def test_failed_run_record_has_message():
    @flow
    def f():
        raise ValueError("bad code")

    with pytest.raises(ValueError):
        f()
    [run] = get_client().read_flow_runs()
    assert run.state.type.value == "FAILED"
    assert "ValueError" in run.state.message and "bad code" in run.state.message
    assert run.end_time is not None


# -- the database file -------------------------------------------------------------------------


def test_database_file_in_home_in_wal_mode_with_schema_version(headwater_home):
    @flow
    def f():
        return 1

    f()
    db = headwater_home / "headwater.db"
    assert db.is_file()
    close_stores()
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == (str(SCHEMA_VERSION),)
        assert conn.execute("SELECT COUNT(*) FROM flow_runs").fetchone() == (1,)
    finally:
        conn.close()


def test_database_url_setting_moves_the_database(tmp_path, monkeypatch, headwater_home):
    elsewhere = tmp_path / "elsewhere" / "runs.db"
    monkeypatch.setenv("HEADWATER_DATABASE_URL", f"sqlite:///{elsewhere}")

    @flow
    def f():
        return 1

    f()
    assert elsewhere.is_file()
    assert not (headwater_home / "headwater.db").exists()
    assert len(get_client().read_flow_runs()) == 1


def test_a_flow_run_is_found_by_the_start_or_the_end_of_its_id(headwater_home):
    from headwater.exceptions import AmbiguousRunId

    _run_any_flow()
    _run_any_flow()
    client = get_client()
    second, first = [run.id for run in client.read_flow_runs()]
    for run_id in (first, second):
        assert client.read_flow_run(run_id[-8:]).id == run_id
        assert client.read_flow_run(run_id[:-3]).id == run_id
    shared = os.path.commonprefix([first, second])
    with pytest.raises(AmbiguousRunId, match="matches more than one flow run"):
        client.read_flow_run(shared)
    assert client.read_flow_run("0123abcd") is None


def test_a_relative_database_url_is_relative_to_the_working_folder(tmp_path, monkeypatch, headwater_home):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HEADWATER_DATABASE_URL", "sqlite:///here/runs.db")
    _run_any_flow()
    assert (tmp_path / "here" / "runs.db").is_file()


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "sqlite:///runs.db?mode=ro", "postgresql://me@localhost/runs"]
)
def test_a_database_url_naming_no_sqlite_file_is_refused_with_the_setting(url, monkeypatch, headwater_home):
    monkeypatch.setenv("HEADWATER_DATABASE_URL", url)
    with pytest.raises(StoreError) as info:
        _run_any_flow()
    message = str(info.value)
    assert f"HEADWATER_DATABASE_URL={url!r}" in message and "sqlite:///<path>" in message
    assert not (headwater_home / "headwater.db").exists()


# -- result payloads ---------------------------------------------------------------------------


def test_small_payloads_are_kept_in_the_database(headwater_home):
    hello_flow, _ = cached_hello()
    hello_flow("Marvin")
    [run] = get_client().read_task_runs()
    key = run.state.storage_key
    assert re.fullmatch(r"[0-9a-f]{32,}", key)
    conn = sqlite3.connect(headwater_home / "headwater.db")
    try:
        (payload,) = conn.execute("SELECT payload FROM results WHERE storage_key = ?", (key,)).fetchone()
    finally:
        conn.close()
    assert b"hello Marvin" in payload
    assert not (headwater_home / "storage" / key).exists()


def test_large_payloads_go_under_local_storage_path(tmp_path, monkeypatch, headwater_home):
    storage = tmp_path / "results"
    monkeypatch.setenv("HEADWATER_LOCAL_STORAGE_PATH", str(storage))
    hello_flow, _ = cached_hello(BIG)
    assert hello_flow("Marvin") == b"x" * BIG
    [run] = get_client().read_task_runs()
    key = run.state.storage_key
    assert (storage / key).is_file()
    assert not (headwater_home / "storage" / key).exists()
    assert [p.name for p in storage.iterdir()] == [key]  # no temporary files left behind


def test_large_payloads_default_to_home_storage(headwater_home):
    hello_flow, _ = cached_hello(BIG)
    hello_flow("Marvin")
    [run] = get_client().read_task_runs()
    assert (headwater_home / "storage" / run.state.storage_key).is_file()


def _damage_file(headwater_home, key, damage):
    payload = headwater_home / "storage" / key
    if damage == "deleted":
        payload.unlink()
    else:
        payload.write_bytes({"truncated": payload.read_bytes()[:4], "emptied": b"", "garbage": b"\x00\xffnot a payload"}[damage])


def _damage_row(headwater_home, key, damage):
    conn = sqlite3.connect(headwater_home / "headwater.db")
    try:
        with conn:
            if damage == "deleted":
                conn.execute("DELETE FROM results WHERE storage_key = ?", (key,))
            else:
                (payload,) = conn.execute("SELECT payload FROM results WHERE storage_key = ?", (key,)).fetchone()
                damaged = {"truncated": payload[:4], "emptied": b"", "garbage": b"\x00\xffnot a payload"}[damage]
                conn.execute("UPDATE results SET payload = ? WHERE storage_key = ?", (damaged, key))
    finally:
        conn.close()


@pytest.mark.parametrize("where", ["database", "file"])
@pytest.mark.parametrize("damage", ["deleted", "truncated", "emptied", "garbage"])
def test_cached_entry_with_damaged_payload_warns_and_runs_again(where, damage, headwater_home, caplog):
    hello_flow, calls = cached_hello(BIG if where == "file" else None)
    expected = hello_flow("Marvin")
    hello_flow("Marvin")
    assert calls == ["Marvin"]  # the second was a cache hit
    key = get_client().read_task_runs()[0].state.storage_key
    (_damage_file if where == "file" else _damage_row)(headwater_home, key, damage)

    caplog.clear()
    assert hello_flow("Marvin") == expected
    assert calls == ["Marvin", "Marvin"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("cannot be read" in m for m in warnings), warnings
    # The new result replaced the entry: the next run is a cache hit again.
    assert hello_flow("Marvin") == expected
    assert calls == ["Marvin", "Marvin"]
    assert [r.state.name for r in get_client().read_task_runs()] == ["Completed", "Cached", "Completed", "Cached"]


def test_clear_cache_makes_tasks_run_again():
    hello_flow, calls = cached_hello()
    hello_flow("Marvin")
    hello_flow("Trillian")
    store = get_client().store
    assert store.clear_cache() == 2
    hello_flow("Marvin")
    assert calls == ["Marvin", "Trillian", "Marvin"]


def test_payload_files_refuse_keys_that_are_not_hex_digests(tmp_path):
    from headwater.payload_files import PayloadFiles

    files = PayloadFiles(tmp_path / "payloads")
    good = "0123456789abcdef" * 4
    files.write(good, b"Jpayload")
    assert files.read(good) == b"Jpayload"
    files.write(good, b"Jnewer")
    assert files.read(good) == b"Jnewer"
    assert sorted(p.name for p in (tmp_path / "payloads").iterdir()) == [good]
    for bad in ["../../etc/passwd", "abc", "0123456789ABCDEF0123", "0123456789abcdef/../x", "", "g" * 32, "/" + good, 12345]:
        with pytest.raises(ValueError, match="hex digest"):
            files.write(bad, b"x")
        with pytest.raises(ValueError, match="hex digest"):
            files.read(bad)
    assert not (tmp_path / "etc").exists()
    with pytest.raises(KeyError):
        files.read("f" * 64)
    files.delete(good)
    files.delete(good)  # deleting twice is fine
    with pytest.raises(KeyError):
        files.read(good)


# -- store errors ------------------------------------------------------------------------------


def _run_any_flow():
    @flow
    def f():
        return 1

    return f()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root ignores folder permissions")
def test_unwritable_home_is_a_store_error_naming_path_and_setting(tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        home = locked / "home"
        monkeypatch.setenv("HEADWATER_HOME", str(home))
        with pytest.raises(StoreError) as info:
            _run_any_flow()
        assert str(home) in str(info.value) and "HEADWATER_HOME" in str(info.value)

        monkeypatch.setenv("HEADWATER_HOME", str(locked))  # exists, but is not writable
        with pytest.raises(StoreError) as info:
            _run_any_flow()
        assert str(locked) in str(info.value) and "HEADWATER_HOME" in str(info.value)
    finally:
        locked.chmod(0o700)


def test_home_that_is_not_writable_per_os_access(tmp_path, monkeypatch):
    """The permission check itself, in a form that also runs as root."""
    import headwater_sqlite.store as store_module

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HEADWATER_HOME", str(home))
    monkeypatch.setattr(store_module.os, "access", lambda path, mode: False)
    with pytest.raises(StoreError) as info:
        _run_any_flow()
    assert str(home) in str(info.value) and "HEADWATER_HOME" in str(info.value)


def test_home_under_a_regular_file_is_a_store_error(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("I am a file")
    home = afile / "home"
    monkeypatch.setenv("HEADWATER_HOME", str(home))
    with pytest.raises(StoreError) as info:
        _run_any_flow()
    assert str(home) in str(info.value)
    assert "HEADWATER_HOME" in str(info.value)


def test_storage_path_under_a_regular_file_names_its_setting(tmp_path, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("I am a file")
    monkeypatch.setenv("HEADWATER_LOCAL_STORAGE_PATH", str(afile / "results"))
    with pytest.raises(StoreError) as info:
        _run_any_flow()
    assert "HEADWATER_LOCAL_STORAGE_PATH" in str(info.value)
    assert str(afile / "results") in str(info.value)


def test_file_that_is_not_sqlite_is_a_store_error(headwater_home):
    headwater_home.mkdir(parents=True)
    db = headwater_home / "headwater.db"
    db.write_bytes(b"this is not a database, just some text " * 100)
    with pytest.raises(StoreError) as info:
        _run_any_flow()
    assert "not a SQLite database" in str(info.value)
    assert str(db) in str(info.value)
    assert db.read_bytes().startswith(b"this is not a database")  # left alone


def test_database_with_newer_schema_is_a_store_error(headwater_home):
    _run_any_flow()
    close_stores()
    conn = sqlite3.connect(headwater_home / "headwater.db")
    with conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.close()
    with pytest.raises(StoreError) as info:
        _run_any_flow()
    assert "99" in str(info.value) and "newer" in str(info.value)


def test_bad_setting_is_a_configuration_error(monkeypatch):
    from headwater.exceptions import ConfigurationError

    monkeypatch.setenv("HEADWATER_LOGGING_LEVEL", "LOUD")
    with pytest.raises(ConfigurationError, match="HEADWATER_LOGGING_LEVEL"):
        _run_any_flow()


# -- several processes, one database --------------------------------------------------------------

BUSY_SCRIPT = """
import sys
from headwater import flow, task

@task
def step(i):
    return i * i

@flow
def busy(n: int, worker: int):
    futures = [step.submit(i) for i in range(n)]
    direct = sum(step(i) for i in range(n // 2))
    return sum(f.result() for f in futures) + direct

print("total", busy(int(sys.argv[1]), int(sys.argv[2])))
"""


def test_several_processes_share_one_database(tmp_path):
    script = tmp_path / "busy.py"
    script.write_text(BUSY_SCRIPT)
    n, workers = 100, 3
    procs = [
        subprocess.Popen([sys.executable, str(script), str(n), str(w)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(workers)
    ]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    expected = sum(i * i for i in range(n)) + sum(i * i for i in range(n // 2))
    for proc, (out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
        assert f"total {expected}" in out
        assert "database is locked" not in err
        assert "run records failed" not in err  # no batch had to be retried

    client = get_client()
    runs = client.read_flow_runs(flow_name="busy")
    assert len(runs) == workers
    assert sorted(run.parameters["worker"] for run in runs) == list(range(workers))
    assert all(run.state.name == "Completed" for run in runs)
    task_runs = client.read_task_runs()
    assert len(task_runs) == workers * (n + n // 2)
    assert all(run.state.name == "Completed" for run in task_runs)
    for run in runs:
        assert len(client.read_task_runs(flow_run_id=run.id)) == n + n // 2
    sample = task_runs[0]
    assert [s.name for s in client.read_state_history(sample.id)] == ["Pending", "Running", "Completed"]
