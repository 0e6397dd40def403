"""The SQLite store reads a busy cached task's entries ahead, and drops them when another process changes the cache.

Two ``SQLiteStore`` objects on one database stand for two processes: each has its own
connections, writer thread and entries read ahead, as a second process would.
"""

import datetime as _dt

import pytest

from headwater import flow, task
from headwater.settings import get_settings
from headwater.stores import CacheEntry, get_store
from headwater.tasks import task_input_hash
from headwater_sqlite import read_ahead
from headwater_sqlite.store import SQLiteStore


def _open():
    return SQLiteStore.from_settings(get_settings())


def _file(store, count, task_key="task-a", payload=b"\x80\x04K\x01.", expiration=None):
    """File ``count`` entries of ``task_key`` (keys key-0, key-1, ...) and commit them."""
    now = _dt.datetime.now(_dt.timezone.utc)
    for i in range(count):
        storage_key = f"{i:032x}{abs(hash(task_key)) % 10**8:08d}"[:32]
        store.write_result(storage_key, payload)
        store.write_cache_entry(CacheEntry(f"key-{i}", storage_key, f"run-{i}", now, expiration, task_key=task_key))
    store.flush()


def _lookups(store):
    """The per-key lookups the store's lookup connection runs on this thread, from now on."""
    seen = []
    store._connection().set_trace_callback(lambda sql: seen.append(sql) if "WHERE c.key =" in sql else None)
    return seen


@pytest.fixture
def stores():
    opened = []

    def open_store():
        opened.append(_open())
        return opened[-1]

    yield open_store
    for store in opened:
        store.close()


def test_hits_of_a_busy_task_are_served_without_a_query_once_read_ahead(stores):
    _file(stores(), 100)
    reader = stores()
    lookups = _lookups(reader)
    found = [reader.read_cache_entry(f"key-{i}") for i in range(100)]
    assert all(entry is not None and entry.payload == b"\x80\x04K\x01." for entry in found)
    assert [entry.task_key for entry in found] == ["task-a"] * 100
    # 100 entries are worth reading at the 32nd hit (32 * 16 >= 100): the other 68 hits ask nothing.
    assert len(lookups) == read_ahead.FIRST_AT_HITS
    assert reader.read_cache_entry("key-missing") is None  # a miss still asks the database
    assert len(lookups) == read_ahead.FIRST_AT_HITS + 1


def test_a_few_hits_among_many_entries_read_nothing_ahead(stores, monkeypatch):
    monkeypatch.setattr(read_ahead, "HITS_PER_ENTRY", 1)  # worth it only once the hits reach the entries' number
    _file(stores(), 100)
    reader = stores()
    lookups = _lookups(reader)
    for i in range(64):
        assert reader.read_cache_entry(f"key-{i}") is not None
    assert not reader._read_ahead.entries and len(lookups) == 64  # 64 hits of 100 entries: not yet
    for i in range(64, 100):
        reader.read_cache_entry(f"key-{i}")
    assert len(reader._read_ahead.entries) == 100  # at the 100th hit it pays
    for i in range(100):
        reader.read_cache_entry(f"key-{i}")
    assert len(lookups) == 100


def test_entries_cleared_by_another_process_stop_hitting(stores, monkeypatch):
    monkeypatch.setattr(read_ahead, "CHECK_SECONDS", 0.0)  # check the cache generation at every lookup
    writer = stores()
    _file(writer, 40)
    reader = stores()
    for i in range(40):
        reader.read_cache_entry(f"key-{i}")
    assert len(reader._read_ahead.entries) == 40

    assert stores().clear_cache() == 40  # another process: `headwater cache clear`
    assert reader.read_cache_entry("key-39") is None
    assert not reader._read_ahead.entries


def test_an_entry_replaced_by_another_process_is_read_again(stores, monkeypatch):
    monkeypatch.setattr(read_ahead, "CHECK_SECONDS", 0.0)
    _file(stores(), 40)
    reader = stores()
    for i in range(40):
        reader.read_cache_entry(f"key-{i}")
    before = reader.read_cache_entry("key-7")

    other = stores()  # refresh_cache in another process files a new entry under the same key
    other.write_result("f" * 32, b"new")
    other.write_cache_entry(CacheEntry("key-7", "f" * 32, "run-new", _dt.datetime.now(_dt.timezone.utc), task_key="task-a"))
    other.flush()

    after = reader.read_cache_entry("key-7")
    assert before.storage_key != after.storage_key == "f" * 32 and after.payload == b"new"


def test_an_entry_this_process_replaces_is_served_new_at_once(stores):
    _file(stores(), 40)
    store = stores()
    for i in range(40):
        store.read_cache_entry(f"key-{i}")
    store.write_result("e" * 32, b"mine")
    store.write_cache_entry(CacheEntry("key-3", "e" * 32, "run-mine", _dt.datetime.now(_dt.timezone.utc), task_key="task-a"))
    assert store.read_cache_entry("key-3").storage_key == "e" * 32  # queued, not committed yet
    store.flush()
    entry = store.read_cache_entry("key-3")  # committed: not the entry read ahead before
    assert entry.storage_key == "e" * 32 and entry.payload == b"mine"


def test_expired_entries_are_asked_of_the_database(stores):
    past = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(minutes=1)
    _file(stores(), 40, expiration=past)
    reader = stores()
    for i in range(40):
        reader.read_cache_entry(f"key-{i}")
    assert len(reader._read_ahead.entries) == 40
    lookups = _lookups(reader)
    entry = reader.read_cache_entry("key-39")
    assert entry is not None and not entry.is_valid(_dt.datetime.now(_dt.timezone.utc))
    assert len(lookups) == 1  # not served from memory: another process may have filed a fresh one


def test_big_payloads_are_not_read_ahead(stores):
    _file(stores(), 40, payload=b"x" * (read_ahead.PAYLOAD_LIMIT + 1))
    reader = stores()
    for i in range(40):
        reader.read_cache_entry(f"key-{i}")
    assert reader._read_ahead._read == {"task-a"} and not reader._read_ahead.entries


def test_a_flow_rerun_hits_its_cache_through_read_ahead(monkeypatch):
    calls = []

    @task(cache_key_fn=task_input_hash)
    def square(x):
        calls.append(x)
        return x * x

    @flow
    def squares(n):
        return [square(i) for i in range(n)]

    assert squares(80) == [i * i for i in range(80)] and len(calls) == 80
    store = get_store()
    store._own_entries.clear()  # as in a new process: every entry comes from the database
    lookups = _lookups(store)
    assert squares(80) == [i * i for i in range(80)] and len(calls) == 80  # all hits
    assert len(lookups) == read_ahead.FIRST_AT_HITS
    assert set(store._read_ahead._read) == {square.task_key}
