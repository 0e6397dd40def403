"""The PostgreSQL store: the store contract (``headwater.stores.Store``) on a database many hosts share.

Writes from the engines (states, log lines, cache entries, payloads, artifacts) are queued and
committed off the flow's thread by the batching writer headwater's stores share
(``headwater.batching``), one transaction a batch, over a connection of the writer's own.
Everything else (reads, concurrency slots, schedules, requests between processes) runs at once
on a connection of the calling thread, in autocommit mode or one short transaction.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import logging
import threading
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence

from headwater.batching import LINE_FIELDS, STATE_FIELDS, BatchWriter
from headwater.concurrency import LimitedTags, SlotRefusal, slot_holder
from headwater.exceptions import AmbiguousRunId, StoreError
from headwater.payload_files import PayloadFiles
from headwater.processes import current_process, is_alive
from headwater.stores import CacheEntry, DeletedRuns, FlowRunCount, FlowRunQuery, Store

from . import schema

if TYPE_CHECKING:
    import psycopg

    from headwater.concurrency import ConcurrencyLimit
    from headwater.records import ArtifactRecord, CacheEntryRecord, FlowRunRecord, LogLineRecord, ScheduleRecord, StateRecord, TaskRunRecord

logger = logging.getLogger("headwater.store")

_UTC = _dt.timezone.utc
# Payloads up to this size go into the database (one lookup serves a cache hit); larger ones are files.
INLINE_RESULT_LIMIT = 256 * 1024
CONNECT_TIMEOUT_SECONDS = 10
SETTING = "HEADWATER_DATABASE_URL"


def masked(url: str) -> str:
    """``url`` with its password replaced by ``***``: safe to show in an error."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def _connect(url: str) -> psycopg.Connection:
    # psycopg is imported when a connection is first made, not with the module: every headwater
    # process loads the plugin to register its store, and importing psycopg (and asyncio with it)
    # cost each one 96 ms (python -X importtime), whichever store it uses.
    import psycopg

    # Moments come back in UTC, as the SQLite store gives them.
    return psycopg.connect(
        url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS, application_name="headwater", options="-c TimeZone=UTC"
    )


def _now() -> _dt.datetime:
    return _dt.datetime.now(_UTC)


# -- the columns of a run row, as of one of its states --------------------------------------------
def _run_row(run: Any, type_: str, name: str, message: Any, moment: _dt.datetime, storage_key: Any, run_count: int) -> tuple:
    """The columns every run has, in schema order, as of the state given: a start or end time after it is not part of the record yet."""
    process = run.process
    start, end = run.start_time, run.end_time
    return (
        run.id, run.name, _parameters_json(run.parameters), list(run.tags),
        start if start is not None and start <= moment else None,
        end if end is not None and end <= moment else None,
        run.created, run_count, process.host, process.pid, process.start_token,
        type_, name, message, moment, storage_key,
    )


# One encoder, made once: json.dumps with ``default`` builds a new one each call (a third of the writer's time).
_parameters_json = json.JSONEncoder(default=repr).encode


_RUN_COLUMNS = (
    "id", "name", "parameters", "tags", "start_time", "end_time", "created", "run_count", "host", "pid",
    "process_token", "state_type", "state_name", "state_message", "state_timestamp", "state_storage_key",
)


def _upsert(table: str, columns: Sequence[str], key: str, keep: Sequence[str] = ()) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key and c not in keep)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))}) ON CONFLICT ({key}) DO UPDATE SET {updates}"


def _move_staged(table: str, columns: Sequence[str]) -> str:
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in ("id", "created"))
    return f"INSERT INTO {table} SELECT * FROM staged_{table} ON CONFLICT (id) DO UPDATE SET {updates}"


# The rows of flow_runs and task_runs are in their tables' column order (see schema.TABLES).
_MOVE_STAGED = {
    "flow_runs": _move_staged("flow_runs", (*_RUN_COLUMNS, "flow_name", "flow_version", "parent_flow_run_id", "parent_task_run_id")),
    "task_runs": _move_staged(
        "task_runs", (*_RUN_COLUMNS, "task_name", "task_key", "flow_run_id", "cache_key", "dynamic_key", "upstream_task_run_ids")
    ),
}
_STATE_COLUMNS = "run_id, type, name, message, timestamp, storage_key"
_LOG_COLUMNS = "run_id, flow_run_id, level, logger, timestamp, message"


def _copy(cursor: psycopg.Cursor, into: str, rows: list[tuple]) -> None:
    with cursor.copy(f"COPY {into} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
_WRITE_CACHE_ENTRY = _upsert("cache_entries", ("key", "storage_key", "task_run_id", "created", "expiration", "task_key"), "key")
_WRITE_RESULT = _upsert("results", ("storage_key", "payload", "created"), "storage_key")
_WRITE_ARTIFACT = _upsert("artifacts", ("id", "key", "type", "description", "data", "flow_run_id", "task_run_id", "created"), "id")


class _Writer(BatchWriter):
    """The shared batching writer, committing each batch over a connection of its own."""

    def __init__(self, url: str, own_entries: dict[str, CacheEntry], own_results: dict[str, bytes]) -> None:
        super().__init__()
        self.url = url
        self.own_entries = own_entries
        self.own_results = own_results
        self.conn: Optional[psycopg.Connection] = None

    def prepare(self) -> None:
        self.conn = self._open()

    def _open(self) -> psycopg.Connection:
        conn = _connect(self.url)
        for table in ("flow_runs", "task_runs"):  # this connection's own, emptied at each commit
            conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS staged_{table} (LIKE {table}) ON COMMIT DELETE ROWS")
        return conn

    def release(self) -> None:
        if self.conn is not None:
            self.conn.close()

    def write_batch(self, batch: list[tuple[str, Any, Any]], state_values: list[Any], log_values: list[Any]) -> bool:
        import psycopg  # (loaded by prepare's connection already; see _connect)

        states, last = [], {}
        for at in range(0, len(state_values), STATE_FIELDS):
            run, type_, name, message, moment, storage_key, _count = state_values[at:at + STATE_FIELDS]
            states.append((run.id, type_, name, message, moment, storage_key))
            last[run.id] = at
        flow_rows, task_rows = [], []
        for at in last.values():
            # One row a run and batch, as of its last state in the batch (not as the run is now: the
            # flow may have moved it on, and a row ahead of its history would outlive a crash).
            run = state_values[at]
            row = _run_row(*state_values[at:at + STATE_FIELDS])
            if run.kind == "flow":
                flow_rows.append((*row, run.flow_name, run.flow_version, run.parent_flow_run_id, run.parent_task_run_id))
            else:
                upstream = run.upstream_task_run_ids
                task_rows.append((*row, run.task_name, run.task_key, run.flow_run_id, run.cache_key, run.dynamic_key, list(upstream) if upstream else None))
        self._built()
        lines = [tuple(log_values[at:at + LINE_FIELDS]) for at in range(0, len(log_values), LINE_FIELDS)]
        cache_rows = [first for kind, first, _ in batch if kind == "cache"]
        result_rows = [first for kind, first, _ in batch if kind == "result"]
        artifact_rows = [first for kind, first, _ in batch if kind == "artifact"]
        error = ""
        for attempt in range(5):
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = self._open()
                with self.conn.transaction(), self.conn.cursor() as cursor:
                    # The many rows (runs, states, lines) go in by COPY, whose rows psycopg encodes in C:
                    # with executemany, the writer's Python work a row took the interpreter from the
                    # flow's thread (bench.postgres, direct call: 94 -> 52 us a task). Runs are upserts:
                    # copied into a staging table, then moved with one INSERT ... ON CONFLICT.
                    for table, rows in (("flow_runs", flow_rows), ("task_runs", task_rows)):
                        if rows:
                            _copy(cursor, f"staged_{table}", rows)
                            cursor.execute(_MOVE_STAGED[table])
                    for table, columns, rows in (("states", _STATE_COLUMNS, states), ("logs", _LOG_COLUMNS, lines)):
                        if rows:
                            _copy(cursor, f"{table} ({columns})", rows)
                    for sql, rows in ((_WRITE_RESULT, result_rows), (_WRITE_CACHE_ENTRY, cache_rows), (_WRITE_ARTIFACT, artifact_rows)):
                        if rows:
                            cursor.executemany(sql, rows)
                break
            except psycopg.Error as exc:
                error = str(exc).strip()
                logger.warning("Writing run records to PostgreSQL failed (%s); attempt %d of 5.", error, attempt + 1)
                if self.conn is not None and self.conn.closed:
                    self.conn = None
                time.sleep(0.2 * (attempt + 1))
        else:
            self.error = error
            return False
        for storage_key, payload, _created in result_rows:
            if self.own_results.get(storage_key) is payload:
                self.own_results.pop(storage_key, None)
        for key, storage_key, *_rest in cache_rows:
            entry = self.own_entries.get(key)
            if entry is not None and entry.storage_key == storage_key:
                self.own_entries.pop(key, None)  # committed: the database answers for it from now on
        return True


class PostgresStore(Store):
    """Run records and small result payloads in PostgreSQL; large payloads as files in the storage folder."""

    name = "postgres"

    def __init__(self, url: str, storage_path: Path, heartbeat_timeout: float = 90.0) -> None:
        self.url = url
        self.files = PayloadFiles(storage_path)
        self.heartbeat_timeout = heartbeat_timeout
        self._connections = threading.local()
        self._ensure_schema()
        self.mark_crashed_runs()
        self._own_entries: dict[str, CacheEntry] = {}
        self._own_results: dict[str, bytes] = {}
        self.writer = _Writer(url, self._own_entries, self._own_results)
        self._limited_tags = LimitedTags()

    @classmethod
    def from_settings(cls, settings: Any) -> PostgresStore:
        url = settings.database_url
        if not url:
            raise StoreError(
                f"The postgres store needs {SETTING}=postgresql://user:password@host:port/dbname; it is not set."
            )
        if urllib.parse.urlsplit(url).scheme not in ("postgresql", "postgres"):
            raise StoreError(
                f"{SETTING}={masked(url)!r} is not a PostgreSQL URL. The postgres store needs "
                "postgresql://user:password@host:port/dbname (or unset HEADWATER_STORE for the SQLite store)."
            )
        storage = settings.resolved_storage_path
        return cls(url, storage, settings.heartbeat_timeout)

    # -- connections and the schema ----------------------------------------------------------
    def _connection(self) -> psycopg.Connection:
        """This thread's connection, in autocommit mode (opened again if the server dropped it)."""
        conn = getattr(self._connections, "conn", None)
        if conn is None or conn.closed:
            conn = self._connections.conn = self._open()
        return conn

    def _open(self) -> psycopg.Connection:
        import psycopg  # (see _connect)

        try:
            return _connect(self.url)
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(
                f"Cannot connect to the PostgreSQL database {masked(self.url)} ({reason}). Check {SETTING}: "
                "the server must be running and reachable, and the user, password and database must exist."
            ) from None

    def _ensure_schema(self) -> None:
        import psycopg  # (loaded by the connection already; see _connect)

        conn = self._connection()
        try:
            found = schema.version(conn)
            if found is None or found < schema.SCHEMA_VERSION:
                with conn.transaction():
                    # One process at a time creates or upgrades; the others find it done.
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (schema.SCHEMA_LOCK,))
                    found = schema.version(conn)
                    if found is None:
                        schema.create(conn)
                    elif found < schema.SCHEMA_VERSION:
                        schema.upgrade(conn, found)
                        logger.info("Upgraded %s from schema %s to %s.", masked(self.url), found, schema.SCHEMA_VERSION)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreError(
                f"The database user of {masked(self.url)} may not create headwater's tables ({str(exc).strip()}). "
                f"Grant it CREATE on the database's schema, or point {SETTING} at a database it owns."
            ) from None
        except psycopg.Error as exc:
            raise StoreError(f"Cannot open the PostgreSQL database {masked(self.url)}: {str(exc).strip()} ({SETTING})") from None
        if found is not None and found > schema.SCHEMA_VERSION:
            raise StoreError(
                f"The database {masked(self.url)} was written by a newer headwater (schema {found}; this one knows "
                f"{schema.SCHEMA_VERSION}). Upgrade headwater, or point {SETTING} at another database."
            )

    @contextlib.contextmanager
    def _reading(self) -> Iterator[psycopg.Connection]:
        """This thread's connection, in one transaction (one snapshot), this process's writes in."""
        self.flush()
        conn = self._connection()
        with conn.transaction():
            yield conn

    # -- crashes --------------------------------------------------------------------------------
    def mark_crashed_runs(self) -> int:
        host = current_process().host
        conn = self._connection()
        crashed: list[tuple[str, str, str]] = []
        silent_since = time.time() - self.heartbeat_timeout
        for table in ("flow_runs", "task_runs"):
            rows = conn.execute(
                f"SELECT r.id, r.host, r.pid, r.process_token, r.state_timestamp, h.last_seen FROM {table} r "
                "LEFT JOIN heartbeats h ON h.host = r.host AND h.pid = r.pid AND h.process_token = COALESCE(r.process_token, '') "
                f"WHERE {schema.UNFINISHED.replace('state_type', 'r.state_type')}"
            ).fetchall()
            for run_id, run_host, pid, token, state_time, last_seen in rows:
                if run_host == host:
                    if is_alive(host, pid, token) is False:
                        crashed.append((table, run_id, f"The process that ran it (pid {pid} on {host}) is gone: it was killed or crashed."))
                    continue
                heard = max(last_seen or 0.0, state_time.timestamp() if state_time else 0.0)
                if heard < silent_since:
                    at = _dt.datetime.fromtimestamp(heard, _UTC).isoformat(timespec="seconds")
                    crashed.append((table, run_id, (
                        f"The process that ran it (pid {pid} on {run_host}) was last heard from at {at}, more than "
                        f"{self.heartbeat_timeout:g} s ago (HEADWATER_HEARTBEAT_TIMEOUT): it was killed, crashed or lost its host."
                    )))
        if not crashed:
            return 0
        now, marked = _now(), 0
        with conn.transaction():
            for table, run_id, message in crashed:
                updated = conn.execute(
                    f"UPDATE {table} SET state_type = 'CRASHED', state_name = 'Crashed', state_message = %s, "
                    f"state_timestamp = %s, state_storage_key = NULL, end_time = %s WHERE id = %s AND {schema.UNFINISHED}",
                    (message, now, now, run_id),
                ).rowcount
                if updated:  # another process may have marked it a moment ago
                    marked += 1
                    conn.execute(
                        "INSERT INTO states (run_id, type, name, message, timestamp) VALUES (%s, 'CRASHED', 'Crashed', %s, %s)",
                        (run_id, message, now),
                    )
        if marked:
            logger.warning("Marked %d run(s) left behind by processes that are gone as Crashed.", marked)
        return marked

    def record_heartbeat(self, process: Any, timestamp: float) -> None:
        self._connection().execute(
            "INSERT INTO heartbeats (host, pid, process_token, last_seen) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (host, pid, process_token) DO UPDATE SET last_seen = excluded.last_seen",
            (process.host, process.pid, process.start_token or "", timestamp),
        )

    # -- writes, from the engines -----------------------------------------------------------------
    def record_state(self, run: Any, state: Any) -> None:
        self.writer.put_state(run, state)

    def write_cache_entry(self, entry: CacheEntry) -> None:
        self._own_entries[entry.key] = entry
        row = (entry.key, entry.storage_key, entry.task_run_id, entry.created, entry.expiration, entry.task_key)
        self.writer.put(("cache", row, None))

    def read_cache_entry(self, key: str) -> Optional[CacheEntry]:
        own = self._own_entries.get(key)
        if own is not None:
            return own
        row = self._connection().execute(
            "SELECT c.storage_key, c.task_run_id, c.created, c.expiration, r.payload, c.task_key FROM cache_entries c "
            "LEFT JOIN results r ON r.storage_key = c.storage_key WHERE c.key = %s",
            (key,),
        ).fetchone()
        if row is None:
            return None
        return CacheEntry(key, row[0], row[1], row[2], row[3], bytes(row[4]) if row[4] is not None else None, row[5])

    def write_result(self, storage_key: str, payload: bytes) -> None:
        if len(payload) > INLINE_RESULT_LIMIT:
            self.files.write(storage_key, payload)
            return
        self.files.check_key(storage_key)
        self._own_results[storage_key] = payload
        self.writer.put(("result", (storage_key, payload, _now()), None))

    def read_result(self, storage_key: str) -> bytes:
        own = self._own_results.get(storage_key)
        if own is not None:
            return own
        row = self._connection().execute("SELECT payload FROM results WHERE storage_key = %s", (storage_key,)).fetchone()
        if row is not None:
            return bytes(row[0])
        return self.files.read(storage_key)

    def write_log(self, run_id: str, flow_run_id: Optional[str], level: int, logger: str, timestamp: float, message: str) -> None:
        self.writer.put_line((run_id, flow_run_id, level, logger, timestamp, message))

    def write_artifact(self, artifact: ArtifactRecord) -> None:
        row = (
            artifact.id, artifact.key, artifact.type, artifact.description, json.dumps(artifact.data, separators=(",", ":")),
            artifact.flow_run_id, artifact.task_run_id, artifact.created,
        )
        self.writer.put(("artifact", row, None))

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()
        conn = getattr(self._connections, "conn", None)
        if conn is not None:
            conn.close()

    # -- tag concurrency limits ---------------------------------------------------------------------
    def acquire_concurrency_slots(self, run: Any) -> Any:
        conn = self._connection()
        if not self._limited_tags.any_limited(conn, run.tags):
            return ()
        tags = list(dict.fromkeys(run.tags))
        with conn.transaction():
            # The limits' rows, locked in tag order: acquirers of the same tags, on any host, go one at a time.
            limits = conn.execute(
                "SELECT tag, slot_limit FROM concurrency_limits WHERE tag = ANY(%s) ORDER BY tag FOR UPDATE", (tags,)
            ).fetchall()
            for tag, limit in limits:
                holders = [row for row in self._live_holders(conn, tag) if row[0] != run.id]
                if len(holders) >= limit:
                    return SlotRefusal(tag, limit, _holders(holders))
            me, now = current_process(), _now()
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO concurrency_slots (tag, task_run_id, task_run_name, host, pid, process_token, acquired) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    [(tag, run.id, run.name, me.host, me.pid, me.start_token, now) for tag, _ in limits],
                )
        return tuple(tag for tag, _ in limits)

    @staticmethod
    def _live_holders(conn: psycopg.Connection, tag: str) -> list[tuple[Any, ...]]:
        """The rows holding ``tag``'s slots whose process is not known to be dead (those are deleted)."""
        rows = conn.execute(
            "SELECT task_run_id, task_run_name, host, pid, acquired, process_token FROM concurrency_slots WHERE tag = %s ORDER BY acquired",
            (tag,),
        ).fetchall()
        live = []
        for row in rows:
            if is_alive(row[2], row[3], row[5]) is False:
                conn.execute("DELETE FROM concurrency_slots WHERE tag = %s AND task_run_id = %s", (tag, row[0]))
            else:
                live.append(row)
        return live

    def release_concurrency_slots(self, run_id: str) -> None:
        self._connection().execute("DELETE FROM concurrency_slots WHERE task_run_id = %s", (run_id,))

    def set_concurrency_limit(self, tag: str, limit: int) -> None:
        self._connection().execute(
            "INSERT INTO concurrency_limits (tag, slot_limit, created) VALUES (%s, %s, %s) "
            "ON CONFLICT (tag) DO UPDATE SET slot_limit = excluded.slot_limit",
            (tag, limit, _now()),
        )
        self._limited_tags.forget()

    def read_concurrency_limits(self, tag: Optional[str] = None) -> list[ConcurrencyLimit]:
        from headwater.concurrency import ConcurrencyLimit

        conn = self._connection()
        with conn.transaction():
            rows = conn.execute(
                "SELECT tag, slot_limit, created FROM concurrency_limits WHERE %s::text IS NULL OR tag = %s ORDER BY tag", (tag, tag)
            ).fetchall()
            return [
                ConcurrencyLimit(name, limit, created, _holders(self._live_holders(conn, name)))
                for name, limit, created in rows
            ]

    def delete_concurrency_limit(self, tag: str) -> bool:
        conn = self._connection()
        with conn.transaction():
            conn.execute("DELETE FROM concurrency_slots WHERE tag = %s", (tag,))
            deleted = conn.execute("DELETE FROM concurrency_limits WHERE tag = %s", (tag,)).rowcount > 0
        self._limited_tags.forget()
        return deleted

    # -- reads ----------------------------------------------------------------------------------------
    def read_flow_runs(self, flow_name: Optional[str] = None, limit: int = 100) -> list[FlowRunRecord]:
        return self.query_flow_runs(FlowRunQuery(flow_name=flow_name), limit=limit)

    def query_flow_runs(self, query: FlowRunQuery, limit: int = 50, offset: int = 0) -> list[FlowRunRecord]:
        where, args = _flow_run_conditions(query)
        with self._reading() as conn:
            rows = _dict_rows(conn, f"SELECT * FROM flow_runs{where} ORDER BY created DESC, id DESC LIMIT %s OFFSET %s", (*args, limit, offset))
        return [_flow_record(row) for row in rows]

    def count_flow_runs(self, query: FlowRunQuery, bucket_seconds: Optional[float] = None) -> list[FlowRunCount]:
        where, args = _flow_run_conditions(query)
        bucket, bucket_args = ("NULL::double precision", ()) if bucket_seconds is None else (
            "floor(extract(epoch FROM created) / %s) * %s", (float(bucket_seconds), float(bucket_seconds))
        )
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT {bucket} AS bucket, state_type, count(*) FROM flow_runs{where} "
                "GROUP BY bucket, state_type ORDER BY bucket, state_type NULLS FIRST",
                (*bucket_args, *args),
            ).fetchall()
        return [
            FlowRunCount(None if at is None else _dt.datetime.fromtimestamp(float(at), _UTC), state_type, count)
            for at, state_type, count in rows
        ]

    def flow_run_time_span(self, query: FlowRunQuery) -> Optional[tuple[_dt.datetime, _dt.datetime]]:
        where, args = _flow_run_conditions(query)
        with self._reading() as conn:
            row = conn.execute(f"SELECT min(created), max(created) FROM flow_runs{where}", args).fetchone()
        return None if row is None or row[0] is None else (row[0], row[1])

    def read_flow_run(self, run_id: str) -> Optional[FlowRunRecord]:
        escaped = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        with self._reading() as conn:
            rows = _dict_rows(conn, "SELECT * FROM flow_runs WHERE id = %s", (run_id,))
            if not rows:  # the start or the end of an id, then a run's name (its newest run)
                rows = _dict_rows(conn, "SELECT * FROM flow_runs WHERE id LIKE %s OR id LIKE %s LIMIT 2", (escaped + "%", "%" + escaped))
            if not rows:
                rows = _dict_rows(conn, "SELECT * FROM flow_runs WHERE name = %s ORDER BY created DESC LIMIT 2", (run_id,))
        if len(rows) > 1:
            raise AmbiguousRunId(f"{run_id!r} matches more than one flow run; give more of its id")
        return _flow_record(rows[0]) if rows else None

    def read_task_runs(self, flow_run_id: Optional[str] = None, limit: int = 10_000) -> list[TaskRunRecord]:
        with self._reading() as conn:
            rows = _dict_rows(
                conn, "SELECT * FROM task_runs WHERE %s::text IS NULL OR flow_run_id = %s ORDER BY created, name LIMIT %s",
                (flow_run_id, flow_run_id, limit),
            )
        return [_task_record(row) for row in rows]

    def read_task_run(self, run_id: str) -> Optional[TaskRunRecord]:
        with self._reading() as conn:
            rows = _dict_rows(conn, "SELECT * FROM task_runs WHERE id = %s", (run_id,))
        return _task_record(rows[0]) if rows else None

    def read_state_history(self, run_id: str) -> list[StateRecord]:
        return self.read_state_histories([run_id])[run_id]

    def read_state_histories(self, run_ids: Sequence[str]) -> dict[str, list[StateRecord]]:
        from headwater.records import StateRecord

        histories: dict[str, list[StateRecord]] = {run_id: [] for run_id in run_ids}
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT run_id, type, name, message, timestamp, storage_key FROM states WHERE run_id = ANY(%s) ORDER BY id",
                (list(histories),),
            ).fetchall()
        for run_id, type_, name, message, moment, storage_key in rows:
            histories[run_id].append(StateRecord(type=type_, name=name, message=message, timestamp=moment, storage_key=storage_key))
        return histories

    def clear_cache(self, key: Optional[str] = None, expired_only: bool = False) -> int:
        self.flush()
        args: tuple[Any, ...]
        if key is not None:
            self._own_entries.pop(key, None)
            sql, args = "DELETE FROM cache_entries WHERE key = %s", (key,)
        elif expired_only:
            now = _now()
            for stale in [k for k, e in self._own_entries.items() if e.expiration is not None and e.expiration <= now]:
                self._own_entries.pop(stale, None)
            sql, args = "DELETE FROM cache_entries WHERE expiration IS NOT NULL AND expiration <= %s", (now,)
        else:
            self._own_entries.clear()
            sql, args = "DELETE FROM cache_entries", ()
        return self._connection().execute(sql, args).rowcount

    def read_logs(self, flow_run_id: str, min_level: int = 0, after_id: int = 0, limit: int = 10_000) -> list[LogLineRecord]:
        from headwater.records import LogLineRecord

        with self._reading() as conn:
            found = conn.execute(_TOP_LEVEL_OF, (flow_run_id,)).fetchone()
            if found is None:
                return []
            top, missing_parent = found
            ids: tuple[Any, ...]
            # Every line under a top-level flow run carries its id; a subflow's lines are the part of
            # that range its own runs logged.
            if top == flow_run_id:
                which, ids = "l.flow_run_id = %s", (flow_run_id,)
            elif missing_parent is None:
                which, ids = f"l.flow_run_id = %s AND l.run_id IN ({_RUNS_UNDER})", (top, flow_run_id)
            else:
                which, ids = f"l.run_id IN ({_RUNS_UNDER})", (flow_run_id,)
            rows = conn.execute(
                "SELECT l.id, l.run_id, l.flow_run_id, COALESCE(t.name, f.name), l.level, l.logger, l.timestamp, l.message "
                "FROM logs l LEFT JOIN task_runs t ON t.id = l.run_id LEFT JOIN flow_runs f ON f.id = l.run_id "
                f"WHERE {which} AND l.id > %s AND l.level >= %s ORDER BY l.id LIMIT %s",
                (*ids, after_id, min_level, limit),
            ).fetchall()
        return [
            LogLineRecord(
                id=row[0], run_id=row[1], flow_run_id=row[2], run_name=row[3], level=row[4], logger=row[5],
                timestamp=_dt.datetime.fromtimestamp(row[6], _UTC), message=row[7],
            )
            for row in rows
        ]

    def read_cache_entries(self, limit: int = 1_000) -> list[CacheEntryRecord]:
        from headwater.records import CacheEntryRecord

        with self._reading() as conn:
            rows = conn.execute(
                "SELECT c.key, c.storage_key, c.task_run_id, t.task_name, c.created, c.expiration, octet_length(r.payload) "
                "FROM cache_entries c LEFT JOIN task_runs t ON t.id = c.task_run_id "
                "LEFT JOIN results r ON r.storage_key = c.storage_key ORDER BY c.created DESC LIMIT %s",
                (limit,),
            ).fetchall()
        return [
            CacheEntryRecord(
                key=row[0], storage_key=row[1], task_run_id=row[2], task_name=row[3], created=row[4], expiration=row[5],
                payload_size=row[6] if row[6] is not None else self._file_size(row[1]),
            )
            for row in rows
        ]

    def _file_size(self, storage_key: str) -> Optional[int]:
        try:
            self.files.check_key(storage_key)
            return (self.files.folder / storage_key).stat().st_size
        except (ValueError, OSError):
            return None

    def delete_flow_runs(self, run_ids: Sequence[str]) -> DeletedRuns:
        self.flush()
        conn = self._connection()
        with conn.transaction():
            doomed: list[str] = []
            for run_id in dict.fromkeys(run_ids):
                doomed += [row[0] for row in conn.execute(_RUNS_UNDER, (run_id,)).fetchall()]
            doomed = list(dict.fromkeys(doomed))
            # The payloads of doomed runs' results that no cache entry, and no run that stays, points at.
            payload_keys = [row[0] for row in conn.execute(
                "SELECT DISTINCT storage_key FROM states WHERE run_id = ANY(%s) AND storage_key IS NOT NULL "
                "AND storage_key NOT IN (SELECT storage_key FROM cache_entries) "
                "AND storage_key NOT IN (SELECT storage_key FROM states WHERE storage_key IS NOT NULL AND NOT run_id = ANY(%s))",
                (doomed, doomed),
            ).fetchall()]
            payloads = conn.execute("DELETE FROM results WHERE storage_key = ANY(%s)", (payload_keys,)).rowcount
            log_lines = conn.execute("DELETE FROM logs WHERE run_id = ANY(%s)", (doomed,)).rowcount
            artifacts = conn.execute("DELETE FROM artifacts WHERE flow_run_id = ANY(%s) OR task_run_id = ANY(%s)", (doomed, doomed)).rowcount
            states = conn.execute("DELETE FROM states WHERE run_id = ANY(%s)", (doomed,)).rowcount
            task_runs = conn.execute("DELETE FROM task_runs WHERE id = ANY(%s)", (doomed,)).rowcount
            flow_runs = conn.execute("DELETE FROM flow_runs WHERE id = ANY(%s)", (doomed,)).rowcount
        for key in payload_keys:  # files once the rows are gone: a failed commit leaves them
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

    # -- artifacts and run requests -----------------------------------------------------------------------
    def read_artifacts(
        self, key: Optional[str] = None, flow_run_id: Optional[str] = None, latest_only: bool = False, limit: int = 100
    ) -> list[ArtifactRecord]:
        from headwater.records import ArtifactRecord

        conditions, args = [], []
        if key is not None:
            conditions.append("key = %s")
            args.append(key)
        if flow_run_id is not None:
            conditions.append("flow_run_id = %s")
            args.append(flow_run_id)
        if latest_only:  # the newest of each key
            conditions.append(
                "key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM artifacts newer WHERE newer.key = a.key "
                "AND (newer.created > a.created OR (newer.created = a.created AND newer.id > a.id)))"
            )
        where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
        with self._reading() as conn:
            rows = conn.execute(
                f"SELECT id, key, type, description, data, flow_run_id, task_run_id, created FROM artifacts a {where}"
                "ORDER BY created DESC, id DESC LIMIT %s",
                (*args, limit),
            ).fetchall()
        return [
            ArtifactRecord(id=r[0], key=r[1], type=r[2], description=r[3], data=json.loads(r[4]), flow_run_id=r[5], task_run_id=r[6], created=r[7])
            for r in rows
        ]

    def delete_artifacts(self, key: str) -> int:
        self.flush()
        return self._connection().execute("DELETE FROM artifacts WHERE key = %s", (key,)).rowcount

    def add_run_request(self, run_id: str, request: str) -> None:
        self._connection().execute(
            "INSERT INTO run_requests (run_id, request, created) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", (run_id, request, _now())
        )

    def take_run_request(self, run_id: str, request: str) -> bool:
        return self._connection().execute(
            "DELETE FROM run_requests WHERE run_id = %s AND request = %s", (run_id, request)
        ).rowcount > 0

    # -- served flows -------------------------------------------------------------------------------------
    def write_schedule(self, schedule: ScheduleRecord) -> None:
        self._connection().execute(
            _upsert("schedules", ("name", "entrypoint", "flow_name", "spec", "parameters", "paused", "host", "pid", "updated"), "name", ("paused",)),
            (
                schedule.name, schedule.entrypoint, schedule.flow_name, json.dumps(schedule.spec), json.dumps(schedule.parameters),
                schedule.paused, schedule.host, schedule.pid, schedule.updated,
            ),
        )

    def read_schedules(self, name: Optional[str] = None) -> list[ScheduleRecord]:
        from headwater.records import ScheduleRecord

        with self._reading() as conn:
            rows = conn.execute(
                "SELECT name, entrypoint, flow_name, spec, parameters, paused, host, pid, updated FROM schedules "
                "WHERE %s::text IS NULL OR name = %s ORDER BY name",
                (name, name),
            ).fetchall()
        return [
            ScheduleRecord(
                name=r[0], entrypoint=r[1], flow_name=r[2], spec=json.loads(r[3]), parameters=json.loads(r[4]), paused=r[5],
                host=r[6], pid=r[7], updated=r[8],
            )
            for r in rows
        ]

    def set_schedule_paused(self, name: str, paused: bool) -> bool:
        return self._connection().execute("UPDATE schedules SET paused = %s WHERE name = %s", (paused, name)).rowcount > 0

    def claim_schedule_run(self, name: str, scheduled_time: _dt.datetime, flow_run_id: str) -> bool:
        return self._connection().execute(
            "INSERT INTO schedule_runs (schedule, scheduled_time, flow_run_id) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (name, scheduled_time, flow_run_id),
        ).rowcount > 0

    def last_schedule_run(self, name: str) -> Optional[_dt.datetime]:
        row = self._connection().execute("SELECT max(scheduled_time) FROM schedule_runs WHERE schedule = %s", (name,)).fetchone()
        return row[0] if row else None

    def request_schedule_run(self, name: str, parameters: dict[str, Any]) -> None:
        self._connection().execute(
            "INSERT INTO schedule_requests (schedule, parameters, created) VALUES (%s, %s, %s)", (name, json.dumps(parameters), _now())
        )

    def take_schedule_run_requests(self, name: str) -> list[dict[str, Any]]:
        rows = self._connection().execute(
            "DELETE FROM schedule_requests WHERE schedule = %s RETURNING id, parameters", (name,)
        ).fetchall()
        return [json.loads(parameters) for _, parameters in sorted(rows)]


# The top-level flow run above a flow run (itself if it is one): (id, NULL), or no row if the flow run is
# unknown; should an ancestor be missing, the highest one found, with its parent's id.
_TOP_LEVEL_OF = (
    "WITH RECURSIVE up(id, parent, depth) AS (SELECT id, parent_flow_run_id, 0 FROM flow_runs WHERE id = %s "
    "UNION ALL SELECT f.id, f.parent_flow_run_id, up.depth + 1 FROM flow_runs f JOIN up ON f.id = up.parent) "
    "SELECT id, parent FROM up ORDER BY depth DESC LIMIT 1"
)

# The ids of a flow run and of every run under it: its subflow runs at any depth, and the task runs of all of them.
_RUNS_UNDER = (
    "WITH RECURSIVE flows(id) AS (SELECT %s::text UNION SELECT f.id FROM flow_runs f JOIN flows ON f.parent_flow_run_id = flows.id) "
    "SELECT id FROM flows UNION ALL SELECT t.id FROM task_runs t WHERE t.flow_run_id IN (SELECT id FROM flows)"
)


def _flow_run_conditions(query: FlowRunQuery) -> tuple[str, tuple[Any, ...]]:
    """The WHERE clause (with its leading space, or empty) and arguments of ``query``, as ``FlowRunQuery.matches`` means it."""
    conditions: list[str] = []
    args: list[Any] = []
    if query.flow_name is not None:
        conditions.append("flow_name = %s")
        args.append(query.flow_name)
    if query.state_types:
        conditions.append("state_type = ANY(%s)")
        args.append(list(query.state_types))
    if query.tags:
        conditions.append("tags @> %s::text[]")  # served by the GIN index of tags
        args.append(list(query.tags))
    if query.since is not None:
        conditions.append("created >= %s")
        args.append(query.since)
    if query.until is not None:
        conditions.append("created < %s")
        args.append(query.until)
    if query.parent_flow_run_id is not None:
        conditions.append("parent_flow_run_id = %s")
        args.append(query.parent_flow_run_id)
    return (" WHERE " + " AND ".join(conditions) if conditions else ""), tuple(args)


def _holders(rows: list[tuple[Any, ...]]) -> tuple[Any, ...]:
    return tuple(slot_holder(row[:5]) for row in rows)


def _dict_rows(conn: psycopg.Connection, sql: str, args: tuple = ()) -> list[dict[str, Any]]:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cursor:
        return cursor.execute(sql, args).fetchall()


def _state_of(row: dict[str, Any]) -> Optional[StateRecord]:
    from headwater.records import StateRecord

    if row["state_type"] is None:
        return None
    return StateRecord(
        type=row["state_type"], name=row["state_name"], message=row["state_message"],
        timestamp=row["state_timestamp"], storage_key=row["state_storage_key"],
    )


def _common(row: dict[str, Any]) -> dict[str, Any]:
    return dict(
        id=row["id"], name=row["name"], state=_state_of(row), parameters=json.loads(row["parameters"]), tags=row["tags"],
        start_time=row["start_time"], end_time=row["end_time"], created=row["created"], run_count=row["run_count"],
    )


def _flow_record(row: dict[str, Any]) -> FlowRunRecord:
    from headwater.records import FlowRunRecord

    return FlowRunRecord(
        **_common(row), flow_name=row["flow_name"], flow_version=row["flow_version"],
        parent_flow_run_id=row["parent_flow_run_id"], parent_task_run_id=row["parent_task_run_id"],
    )


def _task_record(row: dict[str, Any]) -> TaskRunRecord:
    from headwater.records import TaskRunRecord

    return TaskRunRecord(
        **_common(row), task_name=row["task_name"], task_key=row["task_key"], flow_run_id=row["flow_run_id"],
        cache_key=row["cache_key"], upstream_task_run_ids=row["upstream_task_run_ids"] or [],
    )
