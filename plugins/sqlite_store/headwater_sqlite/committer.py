"""Where the writer's batches are committed: in a child process of the store's own, or in its thread.

The writer thread (``store._Writer``) turns each batch into *statements*, ``(sql, values)`` pairs,
and hands them to a committer, which runs them in one transaction and answers with ``None``
(committed) or the error's text (rolled back; the writer tries again).

Why a child process by default: Python's ``sqlite3`` lets go of the interpreter lock while SQLite
steps a statement, and must win it back afterwards from the flow's thread, which keeps it up to
the switch interval (5 ms) each time. In the flow's process the writer of a busy flow got a tenth
of the time it needed (a batch took 560 ms for 52 ms of its own CPU), fell behind, and a
10,000-task flow waited 0.2-0.35 s at its end for it to catch up. The child has an interpreter
lock of its own and SQLite's work runs there, on the other core; the writer thread only packs
each batch with ``marshal`` and writes it to a pipe, and reads the answer: one system call each,
so it waits for the lock twice a batch, not once a statement.

This module imports the standard library alone: the child runs it as a script
(``python -I -S committer.py``), which starts in about 30 ms and never imports headwater.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import os
import signal
import sqlite3
import subprocess
import sys
import weakref
from typing import Any, BinaryIO, Iterator, Optional, Protocol, Sequence

#: A batch: the statements of one transaction, each an SQL text and the values it binds.
Statements = Sequence[tuple[str, Sequence[Any]]]

_LENGTH = 8  # each message is its length (little-endian) and then its bytes

logger = logging.getLogger("headwater.store")


class Committer(Protocol):
    """What the writer thread asks of the place its batches are committed."""

    def __init__(self, path: str, busy_timeout: float, pragmas: Sequence[str], wal_size_limit: int, cached_statements: int) -> None: ...

    def prepare(self) -> None:
        """Called once, as the writer thread starts: get ready while the first batch gathers."""

    def commit(self, statements: Statements) -> Optional[str]:
        """Run ``statements`` in one transaction: ``None`` if committed, else why not."""

    def tidy(self) -> None:
        """Housekeeping after a batch, once its flushes are answered."""

    def close(self) -> None:
        """Called once, after the last batch."""


def connect(path: str, busy_timeout: float, pragmas: Sequence[str], cached_statements: int) -> sqlite3.Connection:
    """A connection to the database file ``path``, in autocommit mode, usable from any thread (one at a time)."""
    conn = sqlite3.connect(
        path, timeout=busy_timeout, isolation_level=None, check_same_thread=False, cached_statements=cached_statements
    )
    for pragma in pragmas:
        conn.execute(pragma)
    return conn


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection, write: bool = True) -> Iterator[sqlite3.Connection]:
    """Run the block in one transaction, committed if it returns and rolled back if it raises.

    A writing transaction takes the write lock at once (behind another process's, not half-way);
    a reading one (``write=False``) sees the database as of its first statement, whatever other
    processes commit meanwhile.
    """
    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:  # (SQLite has already rolled back after some errors)
            conn.execute("ROLLBACK")
        raise


def commit(conn: sqlite3.Connection, statements: Statements) -> Optional[str]:
    """Run ``statements`` in one transaction; ``None`` if it was committed, else why not (it was rolled back)."""
    try:
        with transaction(conn):
            for sql, values in statements:
                conn.execute(sql, values)
    except Exception as exc:
        return str(exc) or type(exc).__name__
    return None


def trim_wal(conn: sqlite3.Connection, wal_path: str, size_limit: int, busy_timeout_ms: int) -> None:
    """Cut the write-ahead log back to nothing once it has outgrown ``size_limit`` bytes.

    A batch of a big flow touches pages all over the indexes, and SQLite keeps its log at the
    largest size it ever reached. Every commit over the limit has already copied the log into the
    database (SQLite's automatic checkpoint, at 1,000 pages), so the truncating checkpoint has
    little left to do. It runs once a batch is answered: a flow's end need not wait for it. It
    does not wait for readers (another process may be reading): if one is in the way it gives up,
    and a later commit tries again. It never raises: the batch is committed already.
    """
    try:
        if os.path.getsize(wal_path) <= size_limit:
            return
        conn.execute("PRAGMA busy_timeout=0")
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            conn.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
    except Exception as exc:
        logger.debug("Truncating the write-ahead log failed (%s); a later commit tries again.", exc)


class _Options:
    """How the writer's connection is opened and its log kept: the same in the thread and in the child."""

    def __init__(self, path: str, busy_timeout: float, pragmas: Sequence[str], wal_size_limit: int) -> None:
        self.path, self.busy_timeout, self.pragmas, self.wal_size_limit = path, busy_timeout, tuple(pragmas), wal_size_limit

    def connect(self, cached_statements: int) -> sqlite3.Connection:
        return connect(self.path, self.busy_timeout, self.pragmas, cached_statements)

    def trim(self, conn: sqlite3.Connection) -> None:
        trim_wal(conn, self.path + "-wal", self.wal_size_limit, int(self.busy_timeout * 1000))

    def as_args(self) -> list[str]:
        return [self.path, repr(self.busy_timeout), str(self.wal_size_limit), *self.pragmas]

    @classmethod
    def from_args(cls, args: Sequence[str]) -> _Options:
        path, timeout, limit, *pragmas = args
        return cls(path, float(timeout), pragmas, int(limit))


class ThreadCommitter:
    """Commits in the writer thread, on a connection of its own (``HEADWATER_STORE_WRITER=thread``)."""

    def __init__(self, path: str, busy_timeout: float, pragmas: Sequence[str], wal_size_limit: int, cached_statements: int) -> None:
        self.options = _Options(path, busy_timeout, pragmas, wal_size_limit)
        self.conn = self.options.connect(cached_statements)

    def prepare(self) -> None:
        """Nothing: the connection is open."""

    def commit(self, statements: Statements) -> Optional[str]:
        return commit(self.conn, statements)

    def tidy(self) -> None:
        """After a batch's flushes are answered."""
        self.options.trim(self.conn)

    def close(self) -> None:
        self.conn.close()


class ProcessCommitter:
    """Commits in a child process, started with the writer thread and again if it ever dies.

    The child runs :func:`main`: it reads batches from its stdin and answers each on its stdout.
    It has a session of its own, so the Ctrl-C that interrupts a flow does not reach it: the
    Cancelled states recorded on the way out are committed by it too. When this process goes,
    however it goes, the child reads the end of its input, having committed every batch it was
    given, and exits.
    """

    def __init__(self, path: str, busy_timeout: float, pragmas: Sequence[str], wal_size_limit: int, cached_statements: int) -> None:
        self.options = _Options(path, busy_timeout, pragmas, wal_size_limit)
        self.cached_statements = cached_statements
        self.child: Optional[subprocess.Popen[bytes]] = None
        # Where batches go if no child could ever be started (a Python that cannot run itself).
        self.fallback: Optional[ThreadCommitter] = None
        self.started = False
        _committers.add(self)

    def start(self) -> None:
        """Start the child (raises OSError if it cannot be)."""
        if not sys.executable:
            raise OSError("this Python does not know its own executable (sys.executable is empty)")
        # Its parent's pid is on its command line: see writers_of.
        self.child = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.abspath(__file__), str(os.getpid()), str(self.cached_statements), *self.options.as_args()],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, start_new_session=True,
        )

    def prepare(self) -> None:
        """Start the child now, not at the first commit: its 30 ms start would lengthen the first batch's
        wait, and with it what a crash early in a flow could lose."""
        if self.started or self.fallback is not None:
            return
        try:
            self.start()
        except OSError as exc:
            logger.warning(
                "The store's writer process could not be started (%s); committing in a thread of this process "
                "instead. Set HEADWATER_STORE_WRITER=thread to choose that and silence this.", exc,
            )
            options = self.options
            self.fallback = ThreadCommitter(
                options.path, options.busy_timeout, options.pragmas, options.wal_size_limit, self.cached_statements
            )
            return
        self.started = True

    def commit(self, statements: Statements) -> Optional[str]:
        self.prepare()
        if self.fallback is not None:
            return self.fallback.commit(statements)
        message = _packed(statements)
        try:
            if self.child is None or self.child.poll() is not None:
                self._forget_child()
                self.start()
            assert self.child is not None and self.child.stdin is not None and self.child.stdout is not None
            _send(self.child.stdin.fileno(), message)
            answer = _receive(self.child.stdout.fileno())
        except OSError as exc:
            self._forget_child()
            return f"the store's writer process could not be reached ({exc})"
        if answer is None:
            # It died on this batch (killed?); the next attempt starts another and sends the batch
            # again. Killed between its COMMIT and its answer, the batch's states would go in twice
            # (runs and entries are upserts): a window of microseconds, and better than a lost batch.
            code = self._forget_child()
            return f"the store's writer process exited (code {code}) before answering"
        return answer.decode("utf-8", "replace") or None

    def tidy(self) -> None:
        """Nothing: the child trims the log itself, after each answer."""
        if self.fallback is not None:
            self.fallback.tidy()

    def close(self) -> None:
        """Let the child finish (it has answered every batch) and wait for it to exit."""
        if self.fallback is not None:
            self.fallback.close()
        self._forget_child(wait=5.0)

    def _forget_child(self, wait: float = 1.0) -> Optional[int]:
        """Close the child's pipes (it reads the end of its input, and exits); wait for it; its exit code."""
        child, self.child = self.child, None
        if child is None:
            return None
        for stream in (child.stdin, child.stdout):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        try:
            return child.wait(wait)
        except subprocess.TimeoutExpired:
            child.kill()
            return child.wait()


# Every ProcessCommitter, so that a forked process can let go of their pipes (see below).
_committers: weakref.WeakSet[ProcessCommitter] = weakref.WeakSet()


def _let_go_of_inherited_pipes() -> None:
    """In a forked process: close the copies of the parent's pipes to its writer processes.

    Left open, they keep a writer process's input from ending when its own store closes: a
    parent whose pool workers were forked waited for them, and then killed its writer.
    The forked process starts a writer of its own if it writes.
    """
    for committer in list(_committers):
        child, committer.child, committer.started = committer.child, None, False
        if child is not None:
            child.returncode = 0  # not this process's child: nothing here waits for it
            for stream in (child.stdin, child.stdout):
                if stream is not None:
                    stream.close()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_let_go_of_inherited_pipes)


def _packed(statements: Statements) -> bytes:
    """The statements as ``marshal`` bytes.

    ``marshal`` takes the built-in types themselves only; a subclass of ``str`` or ``int`` (an
    enum member, say) is a value ``sqlite3`` binds but ``marshal`` refuses. Such values are rare,
    so a batch is looked through for them only when ``marshal`` has refused it.
    """
    batch: Any = statements
    try:
        return marshal.dumps(batch)
    except ValueError:
        return marshal.dumps([(sql, [_base_value(v) for v in values]) for sql, values in statements])


def _base_value(value: Any) -> Any:
    if isinstance(value, int):  # (bool is int's, and cannot be subclassed)
        return value if type(value) in (int, bool) else int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str.__str__(value)  # the text itself, whatever the subclass's __str__ says
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return value


def _send(fd: int, message: bytes) -> None:
    data = memoryview(len(message).to_bytes(_LENGTH, "little") + message)
    while data:  # one write a message, unless a signal cuts it short
        data = data[os.write(fd, data) :]


def _receive(fd: int) -> Optional[bytes]:
    head = _read(fd, _LENGTH)
    if head is None:
        return None
    return _read(fd, int.from_bytes(head, "little"))


def _read(fd: int, size: int) -> Optional[bytes]:
    """``size`` bytes from ``fd``; ``None`` at its end."""
    chunks, left = [], size
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def writers_of(pids: set[int], path: str) -> list[int]:
    """The writer processes, still running, that processes ``pids`` started for the database ``path``.

    A flow process killed a moment ago may leave its writer committing the batch it had sent
    (it exits once its input ends): its runs must not be marked Crashed before that batch is in,
    or the batch would add states after Crashed. Found through /proc (Linux); elsewhere, none.
    """
    found = []
    wanted = {str(pid).encode() for pid in pids}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                args = cmdline.read().split(b"\0")
        except OSError:
            continue
        for i, arg in enumerate(args[:-2]):
            if arg.endswith(b"committer.py"):  # ... committer.py PARENT CACHED PATH ...
                if args[i + 1] in wanted and args[i + 3] == path.encode():
                    found.append(int(entry))
                break
    return found


def serve(options: _Options, cached_statements: int, inp: BinaryIO, out: BinaryIO) -> None:
    """The child's loop: commit each batch read from ``inp``, answer it on ``out``, until ``inp`` ends."""
    conn = options.connect(cached_statements)
    try:
        while True:
            message = _receive(inp.fileno())
            if message is None:
                return
            error = commit(conn, marshal.loads(message))
            answer = b"" if error is None else error.encode("utf-8", "replace")
            _send(out.fileno(), answer)
            if error is None:
                options.trim(conn)
    finally:
        conn.close()


def main(argv: Sequence[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the writer stops: by closing its input
    _parent, cached, *rest = argv
    serve(_Options.from_args(rest), int(cached), sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main(sys.argv[1:])
