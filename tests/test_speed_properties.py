"""The properties headwater's speed-ups rely on, checked without timing anything.

- task_input_hash writes the canonical JSON of plain values directly: its keys must stay the
  ones the general encoder gives, or every existing cache entry would miss.
- The store cuts its write-ahead log back once a commit leaves it over ``WAL_SIZE_LIMIT``.
- Log lines have no index on their run id: a subflow's lines are read within its top-level run's.
- The writer sends a batch's rows to SQLite as multi-row INSERTs of a few sizes, NULL bound as 0
  in nullable text columns, JSON made by a prebuilt encoder: what reads back must be what rows
  inserted one by one give.
- States wait for the writer as plain values, which the garbage collector does not track, and a
  flow's end waits on its settled futures without making a runner's future for each.
- A script whose flow calls a task directly imports neither pydantic nor asyncio (together, about
  half of such a script's cold start): settings are plain Python, the records of reads are made
  by the store's reading side, and the runners' event loop starts with the first submission.
- A cache entry is made by an ``__init__`` of its own (a frozen dataclass's costs 3 us): it must
  still be the dataclass it declares.
- A payload's JSON is read by the decoder's scanner straight: what it reads must be what
  ``json.loads`` reads, and what it cannot read must raise as ``json.loads`` does.
"""

import datetime as dt
import decimal
import enum
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import uuid

import pytest

from headwater import flow, get_run_logger, task
from headwater.cache_keys import _canonical, hash_inputs
from headwater.client import get_client
from headwater.stores import close_stores


class Color(enum.Enum):
    RED = "red"


class Count(int):
    pass


def _generic_digest(*parts):
    """The digest as the general encoder computes it: the canonical structure, then json.dumps."""
    text = json.dumps(_canonical(list(parts)), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


VALUES = [
    {"x": 5},
    {"city": "Lyon", "n": 3, "ratio": 0.5, "ok": True, "none": None},
    {"b": 1, "a": 2, "_z": 3, "A": 4, "a1": 5},
    {"ab": 1, "ab ": 2, "a!": 3, 'a"': 4, "é": 5, "": 6},  # keys whose order differs from their JSON's
    {"nested": {"list": [1, [2, (3, 4)], {"k": "v"}], "tuple": (), "empty": {}}},
    {"floats": [0.1, -0.0, float("inf"), float("nan"), 1e300]},
    {"text": "line\nbreak \"quoted\" \u2028 \x00 ünïcode"},
    {"big": 2**100, "negative": -7, "flag": False},
    {"odd": [Count(3), Color.RED, b"\x00\xff", dt.date(2024, 5, 1), decimal.Decimal("1.5"), uuid.UUID(int=1)]},
    {1: "int key", None: "none key"},
    {"set": {3, 1, 2}, "frozen": frozenset({"b", "a"})},
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_input_hash_is_the_general_encoders(value):
    assert hash_inputs("module.task", value) == _generic_digest("module.task", value)


def test_input_hash_of_deep_nesting_is_unchanged():
    for depth in (98, 99, 100, 101, 102):
        as_lists, as_dicts = "leaf", "leaf"
        for _ in range(depth):
            as_lists, as_dicts = [as_lists], {"k": as_dicts}
        for value in (as_lists, as_dicts):
            try:
                expected = _generic_digest(value)
            except Exception:
                expected = None  # too deep for canonical JSON: both fall back to cloudpickle
            if expected is not None:
                assert hash_inputs(value) == expected


def test_input_hash_keys_are_the_released_ones():
    # Digests computed before the direct encoder existed: a changed one would turn every cache hit into a miss.
    assert hash_inputs("bench.scenarios.cache_hits.<locals>.cached", {"x": 5}) == "5199a911f6846eda70717f001d00e943"
    assert hash_inputs("t", {"city": "Lyon", "n": 3, "ratio": 0.5}) == _generic_digest("t", {"city": "Lyon", "n": 3, "ratio": 0.5})


def test_write_ahead_log_is_cut_back_after_a_big_flow(headwater_home, monkeypatch):
    from headwater_sqlite import store

    monkeypatch.setattr(store, "WAL_SIZE_LIMIT", 64 * 1024)

    @task
    def noisy(i):
        get_run_logger().info("line %d with some text to make the rows longer %s", i, "x" * 200)
        return i

    @flow
    def big():
        for i in range(400):
            noisy(i)

    big()
    close_stores()  # the log is cut back after the flow's last batch is answered: wait for the writer to be done
    wal = os.path.join(str(headwater_home), "headwater.db-wal")
    assert os.path.exists(os.path.join(str(headwater_home), "headwater.db"))
    size = os.path.getsize(wal) if os.path.exists(wal) else 0
    assert size <= 64 * 1024, f"the write-ahead log is {size:,} bytes after the flow"
    assert len(get_client().read_task_runs()) == 400  # and nothing was lost on the way


def test_subflow_lines_are_read_through_the_top_level_runs_index(headwater_home):
    @task
    def inner_task():
        get_run_logger().info("from the inner task")

    @flow
    def inner():
        get_run_logger().info("from the subflow")
        inner_task()

    @task
    def outer_task():
        get_run_logger().info("from the outer task")

    @flow
    def outer():
        outer_task()
        inner()

    outer()
    client = get_client()
    runs = {run.flow_name: run for run in client.read_flow_runs()}
    messages = [line.message for line in client.read_logs(runs["inner"].id)]
    assert "from the subflow" in messages and "from the inner task" in messages
    assert "from the outer task" not in messages
    assert "from the outer task" in [line.message for line in client.read_logs(runs["outer"].id)]

    conn = sqlite3.connect(headwater_home / "headwater.db")
    try:
        indexes = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'logs'")]
    finally:
        conn.close()
    assert indexes == ["ix_logs_flow_run_id"]


def test_a_failed_log_trim_does_not_write_the_batch_again(headwater_home, monkeypatch):
    from headwater.stores import close_stores
    from headwater_sqlite import committer

    def broken(path):
        raise RuntimeError("the trim went wrong")

    monkeypatch.setattr(committer.os.path, "getsize", broken)  # (the trim's first step)
    monkeypatch.setenv("HEADWATER_STORE_WRITER", "thread")  # trimmed here, where the patch reaches
    close_stores()

    @task
    def one():
        return 1

    @flow
    def small():
        return one()

    assert small() == 1
    client = get_client()
    run = client.read_task_runs()[0]
    assert [state.name for state in client.read_state_history(run.id)] == ["Pending", "Running", "Completed"]


def _records_of_a_flow(monkeypatch, tmp_path, home, many_rows):
    """Run one small flow in ``home``, its batches written many rows a statement or row by row; return what reads back."""
    import headwater_sqlite.store as sqlite_store

    statements = []  # the number of rows of each INSERT statement the writer ran
    sql = sqlite_store._Insert.sql

    def counting(self, rows):
        statements.append(rows)
        return sql(self, rows)

    monkeypatch.setattr(sqlite_store._Insert, "sql", counting)
    if not many_rows:
        for name in dir(sqlite_store):
            if name.startswith("_WRITE_"):
                monkeypatch.setattr(getattr(sqlite_store, name), "max_rows", 1)
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / home))  # a store of its own, opened with the patches

    @task(tags=["a", "ünïcode"])
    def echo(text: str, n: int) -> str:
        get_run_logger().info("said %r, \"quoted\"\nacross lines: %d", text, n)
        return text

    @flow(name="json-or-rows")
    def many():
        inputs = [("plain", 1), ("ünïcode ✓", 2**53 + 1), ('"quotes" and \\', -3)] * 5
        return [echo(t, n) for t, n in inputs]

    many()
    client = get_client()
    [run] = client.read_flow_runs(flow_name="json-or-rows")
    tasks = client.read_task_runs(flow_run_id=run.id)
    picture = [
        (t.name, t.parameters, t.tags, t.run_count, t.state.name, [s.name for s in client.read_state_history(t.id)])
        for t in tasks
    ]
    lines = [(line.level, line.message.replace(run.name, "RUN")) for line in client.read_logs(run.id)]
    monkeypatch.undo()
    return picture, lines, statements


def test_batches_written_many_rows_a_statement_read_back_as_rows_written_one_by_one(monkeypatch, tmp_path):
    together = _records_of_a_flow(monkeypatch, tmp_path, "together", many_rows=True)
    by_rows = _records_of_a_flow(monkeypatch, tmp_path, "rows", many_rows=False)
    assert max(together[2]) > 1 and set(by_rows[2]) == {1}  # each path was really taken
    assert together[:2] == by_rows[:2]


def _run(insert, conn, values):
    for sql, some in insert.statements(values):
        conn.execute(sql, some)


class _CountingRows:
    """A real connection, counting the rows of each INSERT run through it (six values a row of states)."""

    def __init__(self, conn):
        self.conn, self.sizes = conn, []

    def execute(self, sql, values=()):
        if sql.startswith("INSERT"):
            self.sizes.append(len(values) // 6)
        return self.conn.execute(sql, values)


def test_a_batch_goes_in_as_statements_of_a_few_sizes_each_prepared_once():
    # Statements of the batch's own size were parsed anew for nearly every batch; sizes that are
    # powers of two come back batch after batch, and sqlite3 keeps each one prepared.
    from headwater_sqlite import schema
    from headwater_sqlite.store import _WRITE_STATES

    conn = sqlite3.connect(":memory:")
    schema.create(conn)
    counting = _CountingRows(conn)
    most = _WRITE_STATES.max_rows
    assert most & (most - 1) == 0 and most >= 64
    rows = [(f"run-{i}", "COMPLETED", "Completed", None, "t", None) for i in range(2 * most + 37)]
    _run(_WRITE_STATES, counting, [value for row in rows for value in row])
    assert counting.sizes == [most, most, 32, 4, 1]
    stored = [run_id for (run_id,) in conn.execute("SELECT run_id FROM states ORDER BY id")]
    assert stored == [row[0] for row in rows]  # every row, in the batch's order
    for size in range(1, 3 * most):  # batches of any size use the same few statements
        _run(_WRITE_STATES, counting, ["run", "COMPLETED", "Completed", None, "t", None] * size)
    assert set(counting.sizes) == {1 << k for k in range(most.bit_length())}


def test_the_writers_columns_are_the_schemas():
    # The writer binds each row as a tuple in its table's column order: a column added to the
    # schema, or moved, must not silently shift the values into the wrong columns.
    from headwater_sqlite import schema, store

    conn = sqlite3.connect(":memory:")
    schema.create(conn)
    writes = {name: value for name, value in vars(store).items() if name.startswith("_WRITE_")}
    assert len(writes) == 7
    for insert in writes.values():
        table = insert.head.split()[2]
        written = insert.head[insert.head.index("(") + 1 : -1].split(", ")
        assigned = [row[1] for row in conn.execute(f"PRAGMA table_info({table})") if row[2] == "INTEGER" and row[5] == 1]
        assert written == [c for c in schema.columns(conn, table) if c not in assigned], table


def test_run_ids_are_version_7_uuids_in_the_order_they_were_made():
    import time
    import uuid

    from headwater.runs import new_run_id

    before = time.time_ns() // 1_000_000
    ids = [new_run_id() for _ in range(10_000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for text in ids[:1000]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert before <= parsed.int >> 80 <= after  # the time in milliseconds leads
    # The store's indexes grow at their ends: the time part never goes down from one id to the next
    # (ids made within the same 1/4096 ms differ in their random part only).
    times = [text[:19] for text in ids]
    assert times == sorted(times)
    # Every one of the 62 bits after the variant varies.
    ones = zeros = 0
    for text in ids:
        value = uuid.UUID(text).int & ((1 << 62) - 1)
        ones |= value
        zeros |= ~value & ((1 << 62) - 1)
    assert ones == zeros == (1 << 62) - 1


def test_a_future_lets_go_of_its_engine_once_its_run_is_over(headwater_home):
    # A flow that keeps many futures (all of them, on the Sequential runner) keeps them for the
    # garbage collector to walk: a finished one holds its run, not its engine, logger and context.
    import gc
    import threading

    from headwater.task_engine import TaskRunEngine
    from headwater.task_runners import ConcurrentTaskRunner, SequentialTaskRunner

    def engines_held(future):
        return [r for r in gc.get_referents(future) if isinstance(r, TaskRunEngine)]

    @task
    def quick(x):
        return x

    @flow(task_runner=SequentialTaskRunner())
    def sequential():
        future = quick.submit(1)
        return future.done(), len(engines_held(future)), future.result(), future.cancel_run("too late")

    assert sequential() == (True, 0, 1, False)

    release = threading.Event()

    @task
    def slow():
        release.wait(10)
        return 1

    seen = []

    @flow(task_runner=ConcurrentTaskRunner())
    def concurrent():
        future = slow.submit()
        try:  # still running: the engine is what cancels it
            seen.extend([len(engines_held(future)), future.cancel_run("stop")])
        finally:
            release.set()
        seen.append(future.wait().name)

    concurrent(return_state=True)
    assert seen == [1, True, "Cancelled"]


@pytest.mark.parametrize("runner", ["sequential", "concurrent"])
def test_a_finished_future_lets_go_of_the_runners_future_and_still_answers_everything(headwater_home, runner):
    # A finished concurrent.futures.Future holds a Condition (a lock, bound methods, a deque):
    # a flow's kept futures hold their outcome instead, for the garbage collector's sake.
    import asyncio
    import concurrent.futures
    import gc

    from headwater.futures import wait

    def runner_futures_held(future):
        return [r for r in gc.get_referents(future) if isinstance(r, concurrent.futures.Future)]

    @task
    def double(x):
        if x < 0:
            raise ValueError("negative")
        return 2 * x

    @flow(task_runner=runner)
    def keep():
        futures = [double.submit(i) for i in (1, 2, -1)]
        done, not_done = wait(futures)
        assert len(done) == 3 and not not_done
        held = [len(runner_futures_held(f)) for f in futures]
        called = []
        futures[0].add_done_callback(called.append)  # on a finished future: at once
        awaited = asyncio.run(_await(futures[1]))
        with pytest.raises(ValueError, match="negative"):
            futures[2].result()
        return held, called == [futures[0]], [f.done() for f in futures], futures[0].result(), awaited.name, futures[2].state.name, futures[1].wait().name

    async def _await(future):
        return await future

    assert keep() == ([0, 0, 0], True, [True, True, True], 2, "Completed", "Failed", "Completed")


def test_nothing_of_a_returned_flows_runs_stays_alive_in_the_writer(headwater_home):
    import gc

    from headwater.runs import TaskRun

    @task
    def quick(x):
        return x

    @flow
    def some():
        for i in range(50):
            quick(i)

    some()
    gc.collect()
    assert [run for run in gc.get_objects() if isinstance(run, TaskRun)] == []


@pytest.mark.parametrize("waiting", ["wait", "wait_async"])
def test_waiting_on_settled_futures_makes_no_runners_futures(headwater_home, waiting):
    # Every flow waits on all it submitted as it ends. A settled future is done: making it a
    # finished concurrent.futures.Future to wait on (a Condition, a lock, waiters) made a dozen
    # objects a task at the end of a flow, for the garbage collector to walk.
    import asyncio
    import concurrent.futures

    from headwater.futures import wait, wait_async

    made = []
    init = concurrent.futures.Future.__init__

    def counted(self):
        made.append(self)
        init(self)

    @task
    def quick(x):
        return x

    @flow(task_runner="sequential")
    def some():
        futures = [quick.submit(i) for i in range(20)]
        concurrent.futures.Future.__init__ = counted
        try:
            if waiting == "wait":
                done, not_done = wait(futures)
                outcome = (len(done), len(not_done))
            else:
                asyncio.run(wait_async(futures))
                outcome = (sum(f.done() for f in futures), 0)
        finally:
            concurrent.futures.Future.__init__ = init
        return outcome

    assert some() == (20, 0)
    assert made == []


def test_a_queued_state_is_plain_values_and_reads_back_as_it_was(headwater_home, monkeypatch):
    # A state waits for the writer as plain values (and its run), not as a tuple holding the State:
    # in a busy flow those stayed alive until their batch, and set off collections of the heap.
    import gc
    import threading

    from headwater.runs import TaskRun
    from headwater.states import Completed, Pending
    from headwater.stores import get_store
    from headwater_sqlite.store import STATE_FIELDS, _Writer

    go = threading.Event()
    write_batch = _Writer._write_batch

    def gated(self):
        go.wait(10)
        return write_batch(self)

    monkeypatch.setattr(_Writer, "_write_batch", gated)  # the writer holds off until the queue is looked at
    store = get_store()
    run = TaskRun("queued-1", "queued", "key", None, {})
    states = [Pending(), Completed("done", storage_key="results/x")]
    for state in states:
        run.state = state
        store.record_state(run, state)
    queued = list(store.writer.states)
    go.set()
    assert len(queued) == 2 * STATE_FIELDS
    assert queued[0] is run and queued[STATE_FIELDS] is run
    plain = [value for i, value in enumerate(queued) if i % STATE_FIELDS]
    assert not any(gc.is_tracked(value) for value in plain)
    store.flush()
    history = get_client().read_state_history(run.id)
    assert [(s.type, s.name, s.message, s.timestamp, s.storage_key) for s in history] == [
        ("PENDING", "Pending", None, states[0].timestamp, None),
        ("COMPLETED", "Completed", "done", states[1].timestamp, "results/x"),
    ]


def test_a_state_change_waits_while_the_writer_builds_a_batch(headwater_home):
    # The writer's build is Python work: while it runs, a thread changing a state waits, instead of
    # taking the interpreter lock from it (with the Concurrent runner's 32 threads, a build took
    # 20-100 ms instead of 1-5, all of it inside what a crash could lose).
    import threading

    from headwater.runs import TaskRun
    from headwater.states import Completed, Pending
    from headwater.stores import get_store

    store = get_store()
    run = TaskRun("waiting-1", "waiting", "key", None, {})
    store.record_state(run, Pending())
    store.flush()  # the writer thread is running, and idle
    writer = store.writer
    queued = threading.Event()

    def change():
        store.record_state(run, Completed())
        queued.set()

    writer.building = True  # as while it builds
    thread = threading.Thread(target=change)
    thread.start()
    assert not queued.wait(0.3) and len(writer.states) == 0
    writer._built()
    assert queued.wait(5)
    thread.join()
    store.flush()
    assert [s.name for s in get_client().read_state_history(run.id)] == ["Pending", "Completed"]


def test_a_nullable_column_given_the_writers_null_stores_null_and_keeps_every_text():
    # The writer binds 0 in place of None in nullable text columns (cheaper to bind); "", "0" and
    # None itself must still come back as they were.
    from headwater_sqlite import schema
    from headwater_sqlite.store import _NULL, _WRITE_STATES

    conn = sqlite3.connect(":memory:")
    schema.create(conn)
    messages = [_NULL, None, "", "0", "0.0", "text"]
    values = []
    for i, message in enumerate(messages):
        values += [f"run-{i}", "COMPLETED", "Completed", message, "t", _NULL if i % 2 else f"key-{i}"]
    _run(_WRITE_STATES, conn, values)
    stored = conn.execute("SELECT message, storage_key FROM states ORDER BY id").fetchall()
    assert stored == [
        (None, "key-0"), (None, None), ("", "key-2"), ("0", None), ("0.0", "key-4"), ("text", None)
    ]


def test_the_writers_json_is_json_dumps():
    from headwater_sqlite.store import _parameters_json, _tags_json

    class Odd:
        def __repr__(self):
            return "<odd>"

    for value in ({}, {"n": 2**70, "s": 'ünï"\\\n', "l": [1, 2.5, None, True], "d": {"a": [{}]}, "f": float("nan")}, {"o": Odd()}):
        assert _parameters_json(value) == json.dumps(value, default=repr)
    assert _tags_json(("a", "ü")) == json.dumps(["a", "ü"])


def test_a_one_task_flow_script_imports_neither_pydantic_nor_asyncio(headwater_home, tmp_path):
    script = tmp_path / "one_task.py"
    script.write_text(
        "import sys\n"
        "from headwater import flow, task\n"
        "@task\ndef one(): return 1\n"
        "@flow(log_prints=True)\ndef f(n=1): return one() + n\n"
        "assert f() == 2\n"
        "print(sorted(m for m in ('pydantic', 'asyncio') if m in sys.modules))\n"
    )
    env = {**os.environ, "HEADWATER_HOME": str(headwater_home)}
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stderr
    # Submitting starts the runner's loop (asyncio), and a read makes records (pydantic).
    script.write_text(
        "import sys\n"
        "from headwater import flow, task\n"
        "from headwater.client import get_client\n"
        "@task\ndef one(): return 1\n"
        "@flow\ndef f(): return one.submit().result()\n"
        "assert f() == 1\n"
        "assert get_client().read_flow_runs(flow_name='f')[0].state.name == 'Completed'\n"
        "print(sorted(m for m in ('pydantic', 'asyncio') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip().splitlines()[-1] == "['asyncio', 'pydantic']", done.stderr


def test_the_writers_timestamp_text_reads_back_and_sorts_as_isoformats_does():
    from headwater_sqlite.store import _text_of

    utc = dt.timezone.utc
    moments = [
        dt.datetime(2026, 12, 3, 13, 19, 24, 123456, tzinfo=utc),
        dt.datetime(2026, 12, 3, 13, 19, 24, tzinfo=utc),  # no microseconds: isoformat leaves them out
        dt.datetime(2026, 12, 3, 13, 19, 24, 1, tzinfo=utc),
        dt.datetime(1, 1, 1, tzinfo=utc),
        dt.datetime(999, 2, 3, 4, 5, 6, 7, tzinfo=utc),
        dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=utc),
        dt.datetime.fromisoformat("2026-12-03T13:19:24.5+00:00"),
        dt.datetime.now(utc),
    ]
    for moment in moments:
        text = _text_of(moment)
        assert dt.datetime.fromisoformat(text) == moment and dt.datetime.fromisoformat(text).tzinfo == utc
        assert text[:19] == moment.isoformat()[:19] and text.endswith("+00:00") and len(text) == 32
    # Mixed with isoformat's text (rows written before), the order of the text is the order of the moments.
    texts = [_text_of(m) for m in moments] + [m.isoformat() for m in moments]
    assert [dt.datetime.fromisoformat(text) for text in sorted(texts)] == sorted(moments * 2)
    # Any other moment is isoformat's.
    elsewhere = dt.datetime(2026, 12, 3, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    assert _text_of(elsewhere) == elsewhere.isoformat()
    assert _text_of(dt.datetime(2026, 12, 3)) == "2026-12-03T00:00:00"


def test_a_cache_entry_made_by_its_own_init_is_the_frozen_dataclass_it_declares():
    import dataclasses

    from headwater.stores import CacheEntry

    now = dt.datetime.now(dt.timezone.utc)
    entry = CacheEntry("key", "storage", "run", now, task_key="task")
    # Every declared field is set, defaults included, and nothing else.
    assert {f.name: getattr(entry, f.name) for f in dataclasses.fields(CacheEntry)} == {
        "key": "key", "storage_key": "storage", "task_run_id": "run", "created": now,
        "expiration": None, "payload": None, "task_key": "task",
    }
    assert vars(entry).keys() == {f.name for f in dataclasses.fields(CacheEntry)}
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.key = "other"  # type: ignore[misc]
    later = dataclasses.replace(entry, expiration=now + dt.timedelta(seconds=5))
    assert later.expiration == now + dt.timedelta(seconds=5) and later.key == "key"
    # The payload does not count in comparisons (it may or may not have been read with the entry).
    assert CacheEntry("key", "storage", "run", now, None, b"J1", "task") == entry
    assert hash(CacheEntry("key", "storage", "run", now, None, b"J1", "task")) == hash(entry)


@pytest.mark.parametrize(
    "value", [0, -7, 1.5, "text", "ünïcode \u2028", True, None, [], {}, [1, [2, {"a": None}]], {"b": {"c": [1.25e300]}}]
)
def test_a_json_payload_reads_back_as_json_loads_reads_it(value):
    from headwater.results import dumps_result, loads_result

    payload = dumps_result(value)
    assert payload[:1] == b"J"
    assert loads_result(payload) == json.loads(payload[1:].decode()) == value
    assert loads_result(b"J " + payload[1:] + b"\n") == value  # whitespace around it, as json.loads allows


@pytest.mark.parametrize("body", [b"", b"1 2", b"[1,", b"{}x"])
def test_a_json_payload_the_scanner_cannot_read_whole_raises_as_json_loads_does(body):
    from headwater.results import loads_result

    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(body.decode())
    with pytest.raises(json.JSONDecodeError) as raised:
        loads_result(b"J" + body)
    assert str(raised.value) == str(expected.value)
