"""The SQLite store.

Writes from the engines are queued, and one writer thread turns them into
batches of statements, which a committer runs (``headwater_sqlite.committer``:
in a child process by default): a flow of ten thousand tasks costs a few
hundred transactions, not thirty thousand. ``flush()`` waits until everything queued so far is committed;
a top-level flow run flushes before it returns, and the process flushes at exit.

Several processes may share one database: the database runs in WAL mode (readers
never wait for the writer), every write transaction starts with ``BEGIN
IMMEDIATE`` (so two writers queue on the lock instead of failing half-way), and
a busy timeout lets a writer wait its turn rather than raise 'database is locked'.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import itertools
import json
import logging
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence

from headwater.batching import LINE_FIELDS, STATE_FIELDS, BatchWriter
from headwater.concurrency import LimitedTags
from headwater.exceptions import AmbiguousRunId, StoreError
from headwater.stores import CacheEntry, DeletedRuns, FlowRunCount, FlowRunQuery, Store

from . import limits, read_ahead, schema
from .committer import Committer, ProcessCommitter, ThreadCommitter
from .connections import BUSY_TIMEOUT_SECONDS, PRAGMAS, WAL_SIZE_LIMIT, connect, database_path, transaction
from headwater.payload_files import PayloadFiles

if TYPE_CHECKING:  # the records are pydantic models: imported by the reads that make them (see records_of)
    from headwater.records import ArtifactRecord, CacheEntryRecord, ScheduleRecord, FlowRunRecord, LogLineRecord, StateRecord, TaskRunRecord

logger = logging.getLogger("headwater.store")

MAX_ROWS_PER_STATEMENT = 256  # the most rows one INSERT of the writer carries (see _Insert)
# The writer's statements, prepared once each: six tables, nine sizes each (see _Insert), and a
# few more. A prepared statement keeps a copy of its last values; with statements of up to 4096
# rows, sqlite3's default of 128 of them kept 120 MB more at the end of a 100,000-task flow.
WRITER_CACHED_STATEMENTS = 80
# Where batches are committed (HEADWATER_STORE_WRITER): see headwater_sqlite.committer.
WRITERS: dict[str, type[Committer]] = {"process": ProcessCommitter, "thread": ThreadCommitter}


def _iso(moment: Optional[_dt.datetime]) -> Optional[str]:
    return _text_of(moment) if moment is not None else None


_UTC = _dt.timezone.utc
_TWO_DIGITS = [f"{n:02d}" for n in range(100)]
_THREE_DIGITS = [f"{n:03d}" for n in range(1000)]  # microseconds as two halves: a format spec costs more
_day_texts: dict[int, str] = {}  # proleptic ordinal -> "YYYY-MM-DDT", for the days seen


def _text_of(moment: _dt.datetime) -> str:
    """``moment.isoformat()``, made faster for a moment in UTC (every state's), and always with microseconds.

    ``isoformat`` formats each field with C's sprintf: four moments a task run made it a quarter
    of the writer's instructions (callgrind). Text with and without microseconds sorts and reads
    back (``fromisoformat``) alike.
    """
    if moment.tzinfo is not _UTC:
        return moment.isoformat()
    ordinal = moment.toordinal()
    day = _day_texts.get(ordinal)
    if day is None:
        if len(_day_texts) > 1000:
            _day_texts.clear()
        day = _day_texts[ordinal] = f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T"
    two, three, micro = _TWO_DIGITS, _THREE_DIGITS, moment.microsecond
    return f"{day}{two[moment.hour]}:{two[moment.minute]}:{two[moment.second]}.{three[micro // 1000]}{three[micro % 1000]}+00:00"


def _from_iso(text: Optional[str]) -> Optional[_dt.datetime]:
    return _dt.datetime.fromisoformat(text) if text else None


_moment = _dt.datetime.fromisoformat  # a column that always has one


def _open_folder(path: Path, setting: str) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StoreError(
            f"Cannot create the folder {path} ({exc.strerror}). Set {setting} to a folder you can write to."
        ) from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise StoreError(f"The folder {path} is not writable. Set {setting} to a folder you can write to.")


class _Writer(BatchWriter):
    """The shared batching writer (``headwater.batching``), committing each batch with a committer
    (in a child process of its own, or in the writer thread: see ``committer.py``)."""

    null = 0  # (see _NULL)

    def __init__(
        self, committer: Committer, own_entries: dict[str, CacheEntry], own_results: dict[str, bytes], ahead: read_ahead.ReadAhead
    ) -> None:
        super().__init__()
        self.committer = committer  # used by the writer thread alone
        self.own_entries = own_entries
        self.ahead = ahead
        self.own_results = own_results

    def prepare(self) -> None:
        self.committer.prepare()

    def tidy(self) -> None:
        self.committer.tidy()

    def release(self) -> None:
        self.committer.close()

    def write_batch(self, batch: list[tuple[str, Any, Any]], state_values: list[Any], log_values: list[Any]) -> bool:
        """Write the batch, its states and its log lines in one transaction (trying five times); return whether it was committed."""
        # Rows are built in their tables' column order: this is Python work done while holding the
        # GIL, so every microsecond here is one the flow's own thread waits for. The values go into
        # one flat list a table, not a tuple a row, and are changed a column at a time, by slices.
        cache_rows: list[tuple] = []
        result_rows: list[tuple] = []
        artifact_values: list[Any] = []
        run_counts = state_values[STATE_COLUMNS::STATE_FIELDS]
        del state_values[STATE_COLUMNS::STATE_FIELDS]  # the rest are the states table's rows
        touched = state_values[0::STATE_COLUMNS]
        ids = state_values[0::STATE_COLUMNS] = [run.id for run in touched]
        # One row per run and batch, written as of the run's last state in this batch, not as the
        # run is now: the flow's thread may have moved it on since, and if the process dies before
        # the next batch, a row ahead of its history would say Completed over a history that
        # stops at Running. (A later index of the same id replaces an earlier one.)
        last = dict(zip(ids, range(len(ids))))
        # A state's timestamp is also its run's start or end time: each moment is written out once.
        # (Keyed by id: every moment stays alive in ``moments`` meanwhile.)
        moments = state_values[4::STATE_COLUMNS]
        texts = state_values[4::STATE_COLUMNS] = [_text_of(moment) for moment in moments]
        iso = dict(zip(map(id, moments), texts))
        for kind, first, _second in batch:
            if kind == "cache":
                cache_rows.append(first)
            elif kind == "result":
                result_rows.append(first)
            elif kind == "artifact":
                artifact_values += first
        flow_values: list[Any] = []
        task_values: list[Any] = []
        for index in last.values():
            run = touched[index]
            row = _run_row(run, state_values, index, moments[index], run_counts[index], iso)
            if run.kind == "flow":
                flow_values += row
                flow_values += (run.flow_name, run.flow_version, run.parent_flow_run_id, run.parent_task_run_id)
            else:
                task_values += row
                key = run.cache_key
                upstream = run.upstream_task_run_ids
                task_values += (
                    run.task_name, run.task_key, run.flow_run_id, _NULL if key is None else key, run.dynamic_key,
                    json.dumps(upstream) if upstream else _NULL,
                )
        # A process that read entries ahead must hear that one it holds changed.
        statements = read_ahead.bump_if_replacing([row[0] for row in cache_rows]) if cache_rows else []
        for insert, values in (
            (_WRITE_FLOW_RUNS, flow_values),
            (_WRITE_TASK_RUNS, task_values),
            (_WRITE_STATES, state_values),
            (_WRITE_RESULTS, list(itertools.chain.from_iterable(result_rows))),
            (_WRITE_CACHE_ENTRIES, list(itertools.chain.from_iterable(cache_rows))),
            (_WRITE_LOGS, log_values),
            (_WRITE_ARTIFACTS, artifact_values),
        ):
            if values:
                statements += insert.statements(values)
        self._built()
        for attempt in range(5):
            error = self.committer.commit(statements)
            if error is None:
                break
            # Keep the batch and try again; report at flush if it never lands.
            records = len(batch) + (len(state_values) // STATE_COLUMNS) + (len(log_values) // LINE_FIELDS)
            logger.warning("Writing %d run records failed (%s); attempt %d of 5.", records, error, attempt + 1)
            threading.Event().wait(0.2 * (attempt + 1))
        else:
            self.error = error
            return False
        for storage_key, payload, _created in result_rows:
            if self.own_results.get(storage_key) is payload:
                self.own_results.pop(storage_key, None)
        for key, storage_key, *_rest in cache_rows:
            # Committed: from now on the database answers for it (and sees it cleared by others).
            entry = self.own_entries.get(key)
            if entry is not None and entry.storage_key == storage_key:
                self.own_entries.pop(key, None)
            self.ahead.discard(key)  # read ahead before this commit, it may be the older entry
        return True


class _Insert:
    """The SQL inserting rows of a table, many rows a statement.

    The rows come as one flat list of values, row after row, each in the table's column order,
    and go in as multi-row ``INSERT ... VALUES (...), (...), ...`` statements whose sizes are
    powers of two up to ``max_rows``: 1,000 rows are 3 statements of 256, then 128, 64, 32 and 8.
    Each size's statement is parsed once and stays prepared (sqlite3 keeps statements by their
    text). One statement a table of exactly the batch's size was parsed anew for nearly every
    batch: that parsing was 40% of the writer's instructions (callgrind).

    Why many rows a statement: Python's sqlite3 lets go of the interpreter lock for each step,
    and the writer then waits to win it back from a busy flow's thread. With executemany that was
    once per row (a 10,000-task flow waited up to 1.3 s at its end for the writer). Binding the
    values costs less than encoding them as JSON for ``json_each`` (the way before this).
    """

    def __init__(self, head: str, row: str, columns: int, conflict: str) -> None:
        self.head, self.row, self.columns, self.conflict = head, row, columns, conflict
        # SQLite takes at most 32,766 bound values a statement (999 before 3.32).
        fits = min((32_766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999) // columns, MAX_ROWS_PER_STATEMENT)
        self.max_rows = 1 << (fits.bit_length() - 1)
        self._sql: dict[int, str] = {}

    def sql(self, rows: int) -> str:
        text = self._sql.get(rows)
        if text is None:
            text = f"{self.head} VALUES {', '.join([self.row] * rows)}{self.conflict}"
            self._sql[rows] = text  # a power of two up to max_rows: a few sizes
        return text

    def statements(self, values: list[Any]) -> list[tuple[str, list[Any]]]:
        """The statements inserting the rows whose values, row after row, are ``values``."""
        assert len(values) % self.columns == 0, f"{self.head}: {len(values)} values are not whole rows"
        columns, left, start = self.columns, len(values) // self.columns, 0
        statements = []
        while left:
            rows = min(self.max_rows, 1 << (left.bit_length() - 1))  # the largest power of two that fits
            end = start + rows * columns
            statements.append((self.sql(rows), values if start == 0 and end == len(values) else values[start:end]))
            start, left = end, left - rows
        return statements


# Bound in place of None in a ``nullable`` column (see _insert): sqlite3 binds an int at once, but
# looks for an adapter for None first, which doubled the cost of binding a row of states.
_NULL = 0


def _insert(table: str, columns: Sequence[str], upsert_key: Optional[str] = None, nullable: Sequence[str] = ()) -> _Insert:
    """The ``_Insert`` of ``table`` (an upsert on ``upsert_key``, if given).

    ``columns`` are the table's columns in the schema's order, less a row number the table assigns
    itself (states, logs); a test holds them to the schema. A ``nullable`` column is a text column
    whose value may be given as ``_NULL`` for NULL (as ``NULLIF(?, 0)``: text never equals 0).
    """
    conflict = ""
    if upsert_key is not None:
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in (upsert_key, "created"))
        conflict = f" ON CONFLICT({upsert_key}) DO UPDATE SET {updates}"
    row = f"({', '.join('NULLIF(?, 0)' if c in nullable else '?' for c in columns)})"
    return _Insert(f"INSERT INTO {table} ({', '.join(columns)})", row, len(columns), conflict)



_RUN_COLUMNS = (
    "id", "name", "parameters", "tags", "start_time", "end_time", "created", "run_count", "host", "pid",
    "process_token", "state_type", "state_name", "state_message", "state_timestamp", "state_storage_key",
)
_RUN_NULLABLE = ("start_time", "end_time", "state_message", "state_storage_key")  # as _run_row gives them
_WRITE_FLOW_RUNS = _insert(
    "flow_runs", _RUN_COLUMNS + ("flow_name", "flow_version", "parent_flow_run_id", "parent_task_run_id"), "id", _RUN_NULLABLE
)
_WRITE_TASK_RUNS = _insert(
    "task_runs", _RUN_COLUMNS + ("task_name", "task_key", "flow_run_id", "cache_key", "dynamic_key", "upstream_task_run_ids"),
    "id", _RUN_NULLABLE + ("cache_key", "upstream_task_run_ids"),
)
_WRITE_STATES = _insert("states", ("run_id", "type", "name", "message", "timestamp", "storage_key"), nullable=("message", "storage_key"))
_WRITE_CACHE_ENTRIES = _insert(
    "cache_entries", ("key", "storage_key", "task_run_id", "created", "expiration", "expiration_epoch", "task_key"), "key"
)
_WRITE_RESULTS = _insert("results", ("storage_key", "payload", "created"), "storage_key")
_WRITE_ARTIFACTS = _insert(
    "artifacts", ("id", "key", "type", "description", "data", "flow_run_id", "task_run_id", "created"),
    nullable=("key", "description", "flow_run_id", "task_run_id"),
)
# Log lines are queued as values in this column order: the cheapest to queue on the logging thread.
_WRITE_LOGS = _insert("logs", ("run_id", "flow_run_id", "level", "logger", "timestamp", "message"))
# The values a queued state and a queued line take: a state's are its table's columns, but with its
# run in place of the run's id and its timestamp as a datetime (the writer turns them into text),
# then the run's run_count as of that state.
STATE_COLUMNS = _WRITE_STATES.columns
assert STATE_FIELDS == STATE_COLUMNS + 1 and LINE_FIELDS == _WRITE_LOGS.columns  # a queued state is a row of states and the run


# Payloads up to this size go into the database (one lookup serves a cache hit); larger ones are files.
INLINE_RESULT_LIMIT = 256 * 1024


def _json_writer(default: Optional[Any] = None) -> Any:
    """``json.dumps(value, default=default)``, made once: ``JSONEncoder.encode`` builds its C encoder
    anew on every call (1.8 us for a one-parameter run, 0.6 us this way).

    The encoder keeps no record of the containers it is inside of: the values are run parameters
    and tags, which ``headwater.results.jsonable`` has made into plain JSON, so none contains itself.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator (another Python): the pure-Python encoder
        return json.JSONEncoder(default=default).encode
    encode = make(None, default, json.encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True)
    return lambda value: "".join(encode(value, 0))


_parameters_json = _json_writer(default=repr)
_tags_json = _json_writer()


def _run_row(run: Any, states: list[Any], index: int, moment: _dt.datetime, run_count: int, iso: dict[int, str]) -> tuple:
    """The columns every run has (``_RUN_COLUMNS``), in order, as of the run's state at ``index`` of the batch's ``states``.

    ``moment`` is that state's timestamp and ``run_count`` the run's count as of it; a start or an
    end time after it is not part of the record yet. ``iso`` holds moments already written out, by id.
    """
    process = run.process
    start, end = run.start_time, run.end_time
    base = index * STATE_COLUMNS
    return (
        run.id,
        run.name,
        _parameters_json(run.parameters),
        _tags_json(run.tags) if run.tags else "[]",
        (iso.get(id(start)) or _text_of(start)) if start is not None and start <= moment else _NULL,
        (iso.get(id(end)) or _text_of(end)) if end is not None and end <= moment else _NULL,
        iso.get(id(run.created)) or _text_of(run.created),  # the moment of its Pending state
        run_count,
        process.host,
        process.pid,
        process.start_token,
        *states[base + 1:base + STATE_COLUMNS],  # the state's type, name, message, timestamp (as text) and storage key
    )


class SQLiteStore(Store):
    """Run records and small result payloads in a SQLite database; large payloads as files beside it."""

    name = "sqlite"

    def __init__(self, url: str, storage_path: Path, writer: str = "process", heartbeat_timeout: float = 90.0) -> None:
        if writer not in WRITERS:
            raise StoreError(f"The sqlite store's writer must be one of {', '.join(WRITERS)}, not {writer!r} (HEADWATER_STORE_WRITER).")
        self.url = url
        self.path = database_path(url)
        self.files = PayloadFiles(storage_path)
        # Each thread's own connection, in autocommit mode: cache lookups are on the hot path of
        # every cached task, and cost one statement each. Reads, slots and the writes that cannot
        # wait for the writer (clearing the cache, deleting runs) go through it too.
        self._connections = threading.local()
        self.heartbeat_timeout = heartbeat_timeout
        self._ensure_schema()
        self.mark_crashed_runs()
        # Entries this process filed are served from here until the writer has committed them.
        self._own_entries: dict[str, CacheEntry] = {}
        self._own_results: dict[str, bytes] = {}
        # Entries of a task whose cache hits are many, read from the database in one query.
        self._read_ahead = read_ahead.ReadAhead()
        committer = WRITERS[writer](self.path, BUSY_TIMEOUT_SECONDS, PRAGMAS, WAL_SIZE_LIMIT, WRITER_CACHED_STATEMENTS)
        self.writer = _Writer(committer, self._own_entries, self._own_results, self._read_ahead)
        self._limited_tags = LimitedTags()

    @classmethod
    def from_settings(cls, settings: Any) -> SQLiteStore:
        url = settings.resolved_database_url
        setting = "HEADWATER_DATABASE_URL" if settings.database_url else "HEADWATER_HOME"
        path = Path(database_path(url)).expanduser().resolve()
        _open_folder(path.parent, setting)
        try:
            # Created by us, readable by its owner alone (SQLite gives its -wal and -shm files the same mode).
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
        except FileExistsError:
            pass
        except OSError as exc:
            raise StoreError(f"Cannot create the database {path} ({exc.strerror}). Set {setting} to a folder you can write to.") from None
        storage = settings.resolved_storage_path
        _open_folder(storage, "HEADWATER_LOCAL_STORAGE_PATH" if settings.local_storage_path else "HEADWATER_HOME")
        return cls(url, storage, settings.store_writer, settings.heartbeat_timeout)

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection to the database."""
        conn = getattr(self._connections, "conn", None)
        if conn is None:
            conn = self._connections.conn = connect(self.path)
        return conn

    def _ensure_schema(self) -> None:
        try:
            conn = self._connection()
            found = schema.version(conn)
            if found is None or found < schema.SCHEMA_VERSION:
                with transaction(conn):
                    found = schema.version(conn)  # again, under the write lock: another process may have just done it
                    if found is None:
                        schema.create(conn)
                    elif found < schema.SCHEMA_VERSION:
                        schema.upgrade(conn, found)  # in the same transaction as the version it records
                        logger.info("Upgraded the database %s from schema %s to %s.", self.url, found, schema.SCHEMA_VERSION)
        except sqlite3.DatabaseError as exc:
            self._connections.conn = None
            if "not a database" in str(exc):
                raise StoreError(
                    f"{self.url} is not a SQLite database. Move the file away, or point HEADWATER_DATABASE_URL "
                    "(or HEADWATER_HOME) somewhere else."
                ) from None
            raise StoreError(f"Cannot open the database {self.url}: {exc}") from None
        if found is not None and found > schema.SCHEMA_VERSION:
            raise StoreError(
                f"The database {self.url} was written by a newer headwater (schema {found}; this one knows "
                f"{schema.SCHEMA_VERSION}). Upgrade headwater, or point HEADWATER_DATABASE_URL at another database."
            )

    def mark_crashed_runs(self) -> int:
        """Record as Crashed every unfinished run whose process is gone; return how many.

        Called whenever the store is opened (a flow starting, ``headwater runs ls``), so a run
        whose process was killed never stays Running. A run of this host is gone when its process
        is; a run of another host (a database on a shared disk) when its process's newest
        heartbeat, or its newest state when there is none, is older than the heartbeat timeout.
        """
        from headwater.processes import current_process, is_alive

        host = current_process().host
        unfinished = schema.UNFINISHED
        conn = self._connection()
        candidates = conn.execute(
            f"SELECT 'flow_runs', id, pid, process_token FROM flow_runs WHERE host = ? AND {unfinished} "
            f"UNION ALL SELECT 'task_runs', id, pid, process_token FROM task_runs WHERE host = ? AND {unfinished}",
            (host, host),
        ).fetchall()
        dead = [(table, run_id, pid) for table, run_id, pid, token in candidates if is_alive(host, pid, token) is False]
        if dead and self._wait_for_writers_of({pid for _, _, pid in dead}):
            return self.mark_crashed_runs()  # their last batch is in: look again
        crashed = [
            (table, run_id, f"The process that ran it (pid {pid} on {host}) is gone: it was killed or crashed.")
            for table, run_id, pid in dead
        ]
        crashed += self._silent_runs_of_other_hosts(conn, host)
        if not crashed:
            return 0
        now = _dt.datetime.now(_dt.timezone.utc).isoformat()
        with transaction(conn):
            for table, run_id, message in crashed:
                updated = conn.execute(
                    f"UPDATE {table} SET state_type = 'CRASHED', state_name = 'Crashed', state_message = ?, "
                    f"state_timestamp = ?, state_storage_key = NULL, end_time = ? WHERE id = ? AND {unfinished}",
                    (message, now, now, run_id),
                ).rowcount
                if updated:  # another process may have swept it a moment ago
                    conn.execute(
                        "INSERT INTO states (run_id, type, name, message, timestamp, storage_key) "
                        "VALUES (?, 'CRASHED', 'Crashed', ?, ?, NULL)",
                        (run_id, message, now),
                    )
        logger.warning("Marked %d run(s) left behind by processes that are gone as Crashed.", len(crashed))
        return len(crashed)

    def _silent_runs_of_other_hosts(self, conn: sqlite3.Connection, host: str) -> list[tuple[str, str, str]]:
        """The unfinished runs of other hosts whose process has not been heard from for the heartbeat timeout."""
        timeout = self.heartbeat_timeout
        silent_since = time.time() - timeout
        found = []
        for table in ("flow_runs", "task_runs"):
            rows = conn.execute(
                f"SELECT r.id, r.host, r.pid, r.state_timestamp, h.last_seen FROM {table} r LEFT JOIN heartbeats h "
                "ON h.host = r.host AND h.pid = r.pid AND h.process_token = COALESCE(r.process_token, '') "
                f"WHERE r.host != ? AND {schema.UNFINISHED}",
                (host,),
            ).fetchall()
            for run_id, run_host, pid, state_time, last_seen in rows:
                heard = max(last_seen or 0.0, _moment(state_time).timestamp() if state_time else 0.0)
                if heard < silent_since:
                    at = _dt.datetime.fromtimestamp(heard, _dt.timezone.utc).isoformat(timespec="seconds")
                    found.append((table, run_id, (
                        f"The process that ran it (pid {pid} on {run_host}) was last heard from at {at}, more than "
                        f"{timeout:g} s ago (HEADWATER_HEARTBEAT_TIMEOUT): it was killed, crashed or lost its host."
                    )))
        return found

    def record_heartbeat(self, process: Any, timestamp: float) -> None:
        with transaction(self._connection()) as conn:
            conn.execute(
                "INSERT INTO heartbeats (host, pid, process_token, last_seen) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (host, pid, process_token) DO UPDATE SET last_seen = excluded.last_seen",
                (process.host, process.pid, process.start_token or "", timestamp),
            )

    def _wait_for_writers_of(self, pids: set[int], timeout: float = 10.0) -> bool:
        """Wait until the writer processes of the dead processes ``pids`` have exited.

        Return True if there were some and they are gone (what they committed may change what is
        unfinished); False if there were none, or one still runs after ``timeout`` seconds.
        """
        from .committer import writers_of

        if not writers_of(pids, self.path):
            return False
        deadline = time.monotonic() + timeout
        while writers_of(pids, self.path):
            if time.monotonic() > deadline:
                logger.warning("The writer process of a process that is gone still runs after %.0f s.", timeout)
                return False
            time.sleep(0.01)
        return True

    # -- writes ------------------------------------------------------------------------------
    def record_state(self, run: Any, state: Any) -> None:
        self.writer.put_state(run, state)

    def write_cache_entry(self, entry: CacheEntry) -> None:
        self._own_entries[entry.key] = entry
        self._read_ahead.discard(entry.key)
        self.writer.put(
            (
                "cache",
                (
                    entry.key,
                    entry.storage_key,
                    entry.task_run_id,
                    _text_of(entry.created),
                    _iso(entry.expiration),
                    entry.expiration.timestamp() if entry.expiration else None,
                    entry.task_key,
                ),
                None,
            )
        )

    def read_cache_entry(self, key: str) -> Optional[CacheEntry]:
        own = self._own_entries.get(key)
        if own is not None:
            return own
        ahead = self._read_ahead.get(key, self._connection)
        if ahead is not None:
            return ahead
        # One statement for the entry and, when it is kept inline, its payload: a cache hit is one lookup.
        conn = self._connection()
        row = conn.execute(
            "SELECT c.storage_key, c.task_run_id, c.created, c.expiration, r.payload, c.task_key FROM cache_entries c "
            "LEFT JOIN results r ON r.storage_key = c.storage_key WHERE c.key = ?",
            (key,),
        ).fetchone()
        if row is None:
            return None
        payload = bytes(row[4]) if row[4] is not None else None
        self._read_ahead.found(conn, row[5])
        return CacheEntry(key, row[0], row[1], _moment(row[2]), _from_iso(row[3]), payload, row[5])

    def write_result(self, storage_key: str, payload: bytes) -> None:
        if len(payload) > INLINE_RESULT_LIMIT:
            self.files.write(storage_key, payload)
            return
        self.files.check_key(storage_key)
        # Queued like the records: it is committed with (or before) any cache entry that points at it.
        self._own_results[storage_key] = payload
        now = _dt.datetime.now(_dt.timezone.utc).isoformat()
        self.writer.put(("result", (storage_key, payload, now), None))

    def read_result(self, storage_key: str) -> bytes:
        own = self._own_results.get(storage_key)
        if own is not None:
            return own
        row = self._connection().execute("SELECT payload FROM results WHERE storage_key = ?", (storage_key,)).fetchone()
        if row is not None:
            return bytes(row[0])
        return self.files.read(storage_key)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()

    # -- tag concurrency limits --------------------------------------------------------------
    def acquire_concurrency_slots(self, run: Any) -> Any:
        conn = self._connection()
        if not self._limited_tags.any_limited(conn, run.tags):
            return ()
        return limits.acquire(conn, run)

    def release_concurrency_slots(self, run_id: str) -> None:
        limits.release(self._connection(), run_id)

    def set_concurrency_limit(self, tag: str, limit: int) -> None:
        limits.set_limit(self._connection(), tag, limit)
        self._limited_tags.forget()

    def read_concurrency_limits(self, tag: Optional[str] = None) -> list[Any]:
        return limits.read_limits(self._connection(), tag)

    def delete_concurrency_limit(self, tag: str) -> bool:
        deleted = limits.delete_limit(self._connection(), tag)
        self._limited_tags.forget()
        return deleted

    # -- reads -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, in a transaction that reads the database as of one moment, this process's writes in."""
        self.flush()
        with transaction(self._connection(), write=False) as conn:
            yield conn

    def read_flow_runs(self, flow_name: Optional[str] = None, limit: int = 100) -> list[FlowRunRecord]:
        where, args = ("WHERE flow_name = ? ", (flow_name,)) if flow_name is not None else ("", ())
        with self._reading() as conn:
            rows = _named_rows(conn, f"SELECT * FROM flow_runs {where}ORDER BY created DESC LIMIT ?", (*args, limit))
        from .records_of import flow_record

        return [flow_record(row) for row in rows]

    def query_flow_runs(self, query: FlowRunQuery, limit: int = 50, offset: int = 0) -> list[FlowRunRecord]:
        where, args = _flow_run_conditions(query)
        with self._reading() as conn:
            rows = _named_rows(
                conn, f"SELECT * FROM flow_runs{where} ORDER BY created DESC, id DESC LIMIT ? OFFSET ?", (*args, limit, offset)
            )
        from .records_of import flow_record

        return [flow_record(row) for row in rows]

    def count_flow_runs(self, query: FlowRunQuery, bucket_seconds: Optional[float] = None) -> list[FlowRunCount]:
        where, args = _flow_run_conditions(query)
        bucket_args: tuple[Any, ...]
        if bucket_seconds is None:
            bucket, bucket_args = "NULL", ()
        else:  # whole seconds of created since the epoch, floored to the bucket (CAST truncates: epochs are positive)
            bucket = "CAST(CAST(strftime('%s', created) AS INTEGER) / ? AS INTEGER) * ?"
            bucket_args = (float(bucket_seconds), bucket_seconds)
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {bucket} AS bucket, state_type, count(*) FROM flow_runs{where} "
                "GROUP BY bucket, state_type ORDER BY bucket, state_type",
                (*bucket_args, *args),
            ).fetchall()
        return [
            FlowRunCount(None if at is None else _dt.datetime.fromtimestamp(at, _dt.timezone.utc), state_type, count)
            for at, state_type, count in rows
        ]

    def flow_run_time_span(self, query: FlowRunQuery) -> Optional[tuple[_dt.datetime, _dt.datetime]]:
        where, args = _flow_run_conditions(query)
        with self._reading() as conn:  # created is ISO text in UTC: its order is time order
            first, last = conn.execute(f"SELECT min(created), max(created) FROM flow_runs{where}", args).fetchone()
        return None if first is None else (_moment(first), _moment(last))

    def read_flow_run(self, run_id: str) -> Optional[FlowRunRecord]:
        escaped = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self._reading() as conn:
            rows = _named_rows(conn, "SELECT * FROM flow_runs WHERE id = ?", (run_id,))
            if not rows:  # the start or the end of an id, then a run's name (its newest run)
                rows = _named_rows(
                    conn, "SELECT * FROM flow_runs WHERE id LIKE ? ESCAPE '\\' OR id LIKE ? ESCAPE '\\' LIMIT 2",
                    (escaped + "%", "%" + escaped),
                )
            if not rows:
                rows = _named_rows(conn, "SELECT * FROM flow_runs WHERE name = ? ORDER BY created DESC LIMIT 2", (run_id,))
        if len(rows) != 1:
            if len(rows) > 1:
                raise AmbiguousRunId(f"{run_id!r} matches more than one flow run; give more of its id")
            return None
        from .records_of import flow_record

        return flow_record(rows[0])

    def read_task_runs(self, flow_run_id: Optional[str] = None, limit: int = 10_000) -> list[TaskRunRecord]:
        where, args = ("WHERE flow_run_id = ? ", (flow_run_id,)) if flow_run_id is not None else ("", ())
        with self._reading() as conn:
            rows = _named_rows(conn, f"SELECT * FROM task_runs {where}ORDER BY created, name LIMIT ?", (*args, limit))
        from .records_of import task_record

        return [task_record(row) for row in rows]

    def read_state_history(self, run_id: str) -> list[StateRecord]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT type, name, message, timestamp, storage_key FROM states WHERE run_id = ? ORDER BY id", (run_id,)
            ).fetchall()
        from headwater.records import StateRecord

        return [
            StateRecord(type=kind, name=name, message=message, timestamp=_moment(moment), storage_key=storage_key)
            for kind, name, message, moment, storage_key in rows
        ]

    def read_task_run(self, run_id: str) -> Optional[TaskRunRecord]:
        with self._reading() as conn:
            rows = _named_rows(conn, "SELECT * FROM task_runs WHERE id = ?", (run_id,))
        from .records_of import task_record

        return task_record(rows[0]) if rows else None

    def read_state_histories(self, run_ids: Sequence[str]) -> dict[str, list[StateRecord]]:
        from headwater.records import StateRecord

        histories: dict[str, list[StateRecord]] = {run_id: [] for run_id in run_ids}
        ids = list(histories)
        with self._reading() as conn:
            for start in range(0, len(ids), 500):  # well under SQLite's limit of bound parameters
                chunk = ids[start:start + 500]
                rows = conn.execute(
                    "SELECT run_id, type, name, message, timestamp, storage_key FROM states "
                    f"WHERE run_id IN ({', '.join('?' * len(chunk))}) ORDER BY id",
                    chunk,
                ).fetchall()
                for run_id, kind, name, message, moment, storage_key in rows:
                    histories[run_id].append(
                        StateRecord(type=kind, name=name, message=message, timestamp=_moment(moment), storage_key=storage_key)
                    )
        return histories

    def clear_cache(self, key: Optional[str] = None, expired_only: bool = False) -> int:
        self.flush()
        args: tuple[Any, ...]
        where, args = "", ()
        if key is not None:
            where, args = " WHERE key = ?", (key,)
            self._own_entries.pop(key, None)
        elif expired_only:
            now = _dt.datetime.now(_dt.timezone.utc).timestamp()
            where, args = " WHERE expiration_epoch IS NOT NULL AND expiration_epoch <= ?", (now,)
            for stale in [k for k, e in self._own_entries.items() if e.expiration is not None and e.expiration.timestamp() <= now]:
                self._own_entries.pop(stale, None)
        else:
            self._own_entries.clear()
        with transaction(self._connection()) as conn:
            deleted = conn.execute(f"DELETE FROM cache_entries{where}", args).rowcount
            if deleted:  # processes that read entries ahead drop them
                conn.execute(read_ahead.BUMP_GENERATION)
        self._read_ahead.clear()
        return deleted

    # -- stored log lines, listing the cache, deleting runs -----------------------------------
    def write_log(self, run_id: str, flow_run_id: Optional[str], level: int, logger: str, timestamp: float, message: str) -> None:
        self.writer.put_line((run_id, flow_run_id, level, logger, timestamp, message))

    def read_logs(self, flow_run_id: str, min_level: int = 0, after_id: int = 0, limit: int = 10_000) -> list[LogLineRecord]:
        with self._reading() as conn:
            found = conn.execute(_TOP_LEVEL_OF, (flow_run_id,)).fetchone()
            if found is None:
                return []
            top, missing_parent = found
            # Every line under a top-level flow run carries its id: one range of an index. A subflow's
            # lines are the part of its top-level run's range that its own runs logged.
            ids: tuple[str, ...]
            if top == flow_run_id:
                which, ids = "l.flow_run_id = ?", (flow_run_id,)
            elif missing_parent is None:
                which, ids = f"l.flow_run_id = ? AND l.run_id IN ({_RUNS_UNDER})", (top, flow_run_id)
            else:  # its top-level run was deleted by hand: a scan of the lines
                which, ids = f"l.run_id IN ({_RUNS_UNDER})", (flow_run_id,)
            rows = conn.execute(
                "SELECT l.id, l.run_id, l.flow_run_id, COALESCE(t.name, f.name), l.level, l.logger, l.timestamp, l.message "
                "FROM logs l LEFT JOIN task_runs t ON t.id = l.run_id LEFT JOIN flow_runs f ON f.id = l.run_id "
                f"WHERE {which} AND l.id > ? AND l.level >= ? ORDER BY l.id LIMIT ?",
                (*ids, after_id, min_level, limit),
            ).fetchall()
        from headwater.records import LogLineRecord

        return [
            LogLineRecord(
                id=row[0], run_id=row[1], flow_run_id=row[2], run_name=row[3], level=row[4], logger=row[5],
                timestamp=_dt.datetime.fromtimestamp(row[6], _dt.timezone.utc), message=row[7],
            )
            for row in rows
        ]

    def read_cache_entries(self, limit: int = 1_000) -> list[CacheEntryRecord]:
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT c.key, c.storage_key, c.task_run_id, t.task_name, c.created, c.expiration, length(r.payload) "
                "FROM cache_entries c LEFT JOIN task_runs t ON t.id = c.task_run_id "
                "LEFT JOIN results r ON r.storage_key = c.storage_key ORDER BY c.created DESC LIMIT ?",
                (limit,),
            ).fetchall()
        from headwater.records import CacheEntryRecord

        return [
            CacheEntryRecord(
                key=row[0], storage_key=row[1], task_run_id=row[2], task_name=row[3], created=_moment(row[4]),
                expiration=_from_iso(row[5]), payload_size=row[6] if row[6] is not None else self._file_size(row[1]),
            )
            for row in rows
        ]

    def _file_size(self, storage_key: str) -> Optional[int]:
        try:
            self.files.check_key(storage_key)
            return (self.files.folder / storage_key).stat().st_size
        except (ValueError, OSError):
            return None

    # -- artifacts and run requests ------------------------------------------------------------
    def write_artifact(self, artifact: ArtifactRecord) -> None:
        row = (
            artifact.id, artifact.key or _NULL, artifact.type, artifact.description or _NULL,
            json.dumps(artifact.data, separators=(",", ":")), artifact.flow_run_id or _NULL,
            artifact.task_run_id or _NULL, _text_of(artifact.created),
        )
        self.writer.put(("artifact", row, None))  # committed with the states around it

    def read_artifacts(
        self, key: Optional[str] = None, flow_run_id: Optional[str] = None, latest_only: bool = False, limit: int = 100
    ) -> list[ArtifactRecord]:
        conditions, args = [], []
        if key is not None:
            conditions.append("key = ?")
            args.append(key)
        if flow_run_id is not None:
            conditions.append("flow_run_id = ?")
            args.append(flow_run_id)
        if latest_only:  # the newest of each key: no artifact of the same key was made after it
            conditions.append(
                "key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM artifacts newer WHERE newer.key = a.key "
                "AND (newer.created > a.created OR (newer.created = a.created AND newer.id > a.id)))"
            )
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT id, key, type, description, data, flow_run_id, task_run_id, created FROM artifacts a "
                f"{where}ORDER BY created DESC, id DESC LIMIT ?",
                (*args, limit),
            ).fetchall()
        from headwater.records import ArtifactRecord

        return [
            ArtifactRecord(
                id=row[0], key=row[1], type=row[2], description=row[3], data=json.loads(row[4]),
                flow_run_id=row[5], task_run_id=row[6], created=_moment(row[7]),
            )
            for row in rows
        ]

    def delete_artifacts(self, key: str) -> int:
        self.flush()
        with transaction(self._connection()) as conn:
            return conn.execute("DELETE FROM artifacts WHERE key = ?", (key,)).rowcount

    def add_run_request(self, run_id: str, request: str) -> None:
        with transaction(self._connection()) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO run_requests (run_id, request, created) VALUES (?, ?, ?)",
                (run_id, request, _dt.datetime.now(_dt.timezone.utc).isoformat()),
            )

    def take_run_request(self, run_id: str, request: str) -> bool:
        with transaction(self._connection()) as conn:
            return conn.execute("DELETE FROM run_requests WHERE run_id = ? AND request = ?", (run_id, request)).rowcount > 0

    # -- served flows ---------------------------------------------------------------------------
    def write_schedule(self, schedule: ScheduleRecord) -> None:
        with transaction(self._connection()) as conn:
            conn.execute(
                "INSERT INTO schedules (name, entrypoint, flow_name, spec, parameters, paused, host, pid, updated) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(name) DO UPDATE SET entrypoint = excluded.entrypoint, "
                "flow_name = excluded.flow_name, spec = excluded.spec, parameters = excluded.parameters, "
                "host = excluded.host, pid = excluded.pid, updated = excluded.updated",
                (
                    schedule.name, schedule.entrypoint, schedule.flow_name, json.dumps(schedule.spec),
                    json.dumps(schedule.parameters), int(schedule.paused), schedule.host, schedule.pid,
                    schedule.updated.isoformat(),
                ),
            )

    def read_schedules(self, name: Optional[str] = None) -> list[ScheduleRecord]:
        where, args = ("WHERE name = ? ", (name,)) if name is not None else ("", ())
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT name, entrypoint, flow_name, spec, parameters, paused, host, pid, updated FROM schedules {where}ORDER BY name",
                args,
            ).fetchall()
        from headwater.records import ScheduleRecord

        return [
            ScheduleRecord(
                name=row[0], entrypoint=row[1], flow_name=row[2], spec=json.loads(row[3]), parameters=json.loads(row[4]),
                paused=bool(row[5]), host=row[6], pid=row[7], updated=_moment(row[8]),
            )
            for row in rows
        ]

    def set_schedule_paused(self, name: str, paused: bool) -> bool:
        with transaction(self._connection()) as conn:
            return conn.execute("UPDATE schedules SET paused = ? WHERE name = ?", (int(paused), name)).rowcount > 0

    def claim_schedule_run(self, name: str, scheduled_time: _dt.datetime, flow_run_id: str) -> bool:
        with transaction(self._connection()) as conn:
            return conn.execute(
                "INSERT OR IGNORE INTO schedule_runs (schedule, scheduled_time, flow_run_id) VALUES (?, ?, ?)",
                (name, _text_of(scheduled_time.astimezone(_dt.timezone.utc)), flow_run_id),
            ).rowcount > 0

    def last_schedule_run(self, name: str) -> Optional[_dt.datetime]:
        row = self._connection().execute(
            "SELECT MAX(scheduled_time) FROM schedule_runs WHERE schedule = ?", (name,)
        ).fetchone()
        return _moment(row[0]) if row and row[0] is not None else None

    def request_schedule_run(self, name: str, parameters: dict[str, Any]) -> None:
        with transaction(self._connection()) as conn:
            conn.execute(
                "INSERT INTO schedule_requests (schedule, parameters, created) VALUES (?, ?, ?)",
                (name, json.dumps(parameters), _dt.datetime.now(_dt.timezone.utc).isoformat()),
            )

    def take_schedule_run_requests(self, name: str) -> list[dict[str, Any]]:
        # Asked several times a second by a serving process: a read, and a write only when there is one.
        if self._connection().execute("SELECT 1 FROM schedule_requests WHERE schedule = ? LIMIT 1", (name,)).fetchone() is None:
            return []
        with transaction(self._connection()) as conn:
            rows = conn.execute("DELETE FROM schedule_requests WHERE schedule = ? RETURNING id, parameters", (name,)).fetchall()
        return [json.loads(parameters) for _, parameters in sorted(rows)]

    def delete_flow_runs(self, run_ids: Sequence[str]) -> DeletedRuns:
        self.flush()
        doomed = "(SELECT id FROM deleting)"
        with transaction(self._connection()) as conn:
            conn.execute("CREATE TEMP TABLE IF NOT EXISTS deleting (id TEXT PRIMARY KEY)")
            conn.execute("DELETE FROM deleting")
            for run_id in dict.fromkeys(run_ids):
                conn.execute(f"INSERT OR IGNORE INTO deleting (id) {_RUNS_UNDER}", (run_id,))
            payload_keys = self._unshared_payloads(conn, doomed)
            payloads = sum(
                conn.execute("DELETE FROM results WHERE storage_key = ?", (key,)).rowcount for key in payload_keys
            )
            # Lines are found through the top-level flow run they carry (logs has no index on run_id).
            tops = {conn.execute(_TOP_LEVEL_OF, (run_id,)).fetchone() for run_id in dict.fromkeys(run_ids)}
            log_lines = sum(
                conn.execute(
                    f"DELETE FROM logs WHERE flow_run_id = ? AND run_id IN {doomed}"
                    if top[1] is None else f"DELETE FROM logs WHERE run_id IN {doomed}",  # no top-level run: a scan
                    (top[0],) if top[1] is None else (),
                ).rowcount
                for top in tops
                if top is not None
            )
            artifacts = conn.execute(
                f"DELETE FROM artifacts WHERE flow_run_id IN {doomed} OR task_run_id IN {doomed}"
            ).rowcount
            states = conn.execute(f"DELETE FROM states WHERE run_id IN {doomed}").rowcount
            task_runs = conn.execute(f"DELETE FROM task_runs WHERE id IN {doomed}").rowcount
            flow_runs = conn.execute(f"DELETE FROM flow_runs WHERE id IN {doomed}").rowcount
            conn.execute("DELETE FROM deleting")
        # Large payloads are files: removed once the rows are gone, so a failed commit leaves them.
        for key in payload_keys:
            self._own_results.pop(key, None)
            try:
                path = self.files.folder / key
                self.files.check_key(key)
            except ValueError:
                continue
            if path.exists():
                self.files.delete(key)
                payloads += 1
        return DeletedRuns(flow_runs, task_runs, states, log_lines, payloads, artifacts)

    @staticmethod
    def _unshared_payloads(conn: sqlite3.Connection, doomed: str) -> list[str]:
        """Storage keys of the doomed runs' results that no cache entry, and no run that stays, points at."""
        keys = [
            row[0] for row in conn.execute(
                f"SELECT DISTINCT storage_key FROM states WHERE run_id IN {doomed} AND storage_key IS NOT NULL "
                "AND storage_key NOT IN (SELECT storage_key FROM cache_entries)"
            )
        ]
        if not keys:
            return []
        # A cache hit of a run that stays may point at a doomed run's result (one scan of the states; deleting is rare).
        kept = {
            row[0] for row in conn.execute(
                f"SELECT DISTINCT storage_key FROM states WHERE storage_key IS NOT NULL AND run_id NOT IN {doomed}"
            )
        }
        return [key for key in keys if key not in kept]


# The ids of a flow run (the parameter) and of every run under it: its subflow runs, at any depth,
# and the task runs of all of them.
# The top-level flow run above a flow run (the flow run itself if it is one): (id, NULL), or no row if
# the flow run is unknown. Should an ancestor be missing, the highest one found, with its parent's id.
_TOP_LEVEL_OF = (
    "WITH RECURSIVE up(id, parent, depth) AS (SELECT id, parent_flow_run_id, 0 FROM flow_runs WHERE id = ? "
    "UNION ALL SELECT f.id, f.parent_flow_run_id, up.depth + 1 FROM flow_runs f JOIN up ON f.id = up.parent) "
    "SELECT id, parent FROM up ORDER BY depth DESC LIMIT 1"
)

_RUNS_UNDER = (
    "WITH RECURSIVE flows(id) AS (SELECT ? UNION SELECT f.id FROM flow_runs f JOIN flows ON f.parent_flow_run_id = flows.id) "
    "SELECT id FROM flows UNION ALL SELECT t.id FROM task_runs t WHERE t.flow_run_id IN (SELECT id FROM flows)"
)


def _flow_run_conditions(query: FlowRunQuery) -> tuple[str, tuple[Any, ...]]:
    """The WHERE clause (with its leading space, or empty) and arguments of ``query``, as ``FlowRunQuery.matches`` means it."""
    conditions: list[str] = []
    args: list[Any] = []
    if query.flow_name is not None:
        conditions.append("flow_name = ?")
        args.append(query.flow_name)
    if query.state_types:
        conditions.append(f"state_type IN ({', '.join('?' * len(query.state_types))})")
        args.extend(query.state_types)
    for tag in query.tags:
        # instr() on the JSON text as written (ASCII-escaped, like json.dumps) rules most rows out
        # cheaply; json_each() then tells a tag from a part of a longer one.
        conditions.append("instr(tags, ?) > 0 AND EXISTS (SELECT 1 FROM json_each(flow_runs.tags) WHERE value = ?)")
        args.extend((json.dumps(tag), tag))
    if query.since is not None:
        conditions.append("created >= ?")
        args.append(_text_of(query.since.astimezone(_dt.timezone.utc)))
    if query.until is not None:
        conditions.append("created < ?")
        args.append(_text_of(query.until.astimezone(_dt.timezone.utc)))
    if query.parent_flow_run_id is not None:
        conditions.append("parent_flow_run_id = ?")
        args.append(query.parent_flow_run_id)
    return (" WHERE " + " AND ".join(conditions) if conditions else ""), tuple(args)


def _named_rows(conn: sqlite3.Connection, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
    """The rows of a query, their columns read by name (the record readers take whole run rows)."""
    cursor = conn.cursor()
    cursor.row_factory = sqlite3.Row
    return cursor.execute(sql, args).fetchall()
