"""Run loggers: lines like ``13:48:40.570 | INFO    | Flow run 'red-orca' - Beginning flow run``."""

from __future__ import annotations

import builtins
import collections
import contextvars
import io
import itertools
import logging
import os
import sys
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any, ClassVar, MutableMapping, Optional

if TYPE_CHECKING:
    from .stores import Store

__all__ = ["RunLogger", "StoreHandler", "setup_logging", "write_queued_lines", "print_to_logger", "engine_logger"]

engine_logger = logging.getLogger("headwater.engine")
_FORMAT = "%(asctime)s.%(msecs)03d | %(levelname)-7s | %(run_label)s - %(message)s"


class _RunFormatter(logging.Formatter):
    """``_FORMAT``, written out directly: the log writer formats every line of every run, and
    ``logging.Formatter`` renders the clock and the whole template anew for each line."""

    def __init__(self) -> None:
        super().__init__(_FORMAT, datefmt="%H:%M:%S")
        self._second: Optional[int] = None
        self._clock = ""

    def format(self, record: logging.LogRecord) -> str:
        label = getattr(record, "run_label", None)
        if label is None:
            record.run_label = label = record.name
        record.message = message = record.getMessage()
        text = self.line(record.created, record.levelname, label, message)
        record.asctime = self._clock
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            text = f"{text}\n{record.exc_text}"
        if record.stack_info:
            text = f"{text}\n{self.formatStack(record.stack_info)}"
        return text

    def line(self, created: float, levelname: str, label: str, message: str) -> str:
        """The text of one line (what ``format`` makes of a record with these fields)."""
        second = int(created)
        if second != self._second:  # the clock text changes once a second
            self._clock, self._second = time.strftime("%H:%M:%S", self.converter(created)), second
        # Table lookups, not format specs: each spec cost more than the rest of the line (callgrind).
        level = _PADDED_LEVELS.get(levelname) or f"{levelname:<7}"
        return f"{self._clock}.{_MILLISECONDS[min(int((created - second) * 1000), 999)]} | {level} | {label} - {message}"


_MILLISECONDS = [f"{n:03d}" for n in range(1000)]
_PADDED_LEVELS = {name: f"{name:<7}" for name in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")}


class RunLogger(logging.LoggerAdapter):
    """A logger whose lines say which run they come from, and which the run's store keeps.

    Each line carries the run's id, the id of the top-level flow run it belongs to and
    the number of the store to keep it in (see :class:`StoreHandler`).
    """

    def __init__(
        self,
        logger: logging.Logger,
        label: str,
        run_id: Optional[str] = None,
        flow_run_id: Optional[str] = None,
        store: Optional[Store] = None,
    ) -> None:
        self.run_id = run_id
        self.flow_run_id = flow_run_id
        self.label = label
        # The store for engine_info, held weakly as _stores_by_number does (calling a weakref is
        # cheaper than a lookup there).
        self._store_ref: Optional[weakref.ref[Store]]
        store_number: Optional[int]
        if store is not None and run_id is not None:
            store_number, self._store_ref = _number_store(store)
        else:
            store_number = self._store_ref = None
        self.store_number = store_number
        super().__init__(logger, {"run_label": label, "run_id": run_id, "flow_run_id": flow_run_id, "run_store": store_number})

    def relabel(self, label: str) -> None:
        """Say ``label`` in the lines from now on (a run that was given its name after it was made)."""
        self.label = label
        self.extra["run_label"] = label  # type: ignore[index]

    def engine_info(self, msg: str, *args: Any) -> None:
        """An INFO line from headwater itself (two a task run, so a per-task cost).

        When only headwater's own handlers would see it (see ``_own_route``), the line goes to them
        as text, with no ``LogRecord``; otherwise it is a record like any other, made without the
        caller lookup.
        """
        logger = self.logger
        if not logger.isEnabledFor(logging.INFO):
            return
        route = _own_route(logger)
        if route is None:
            logger.handle(_engine_record(logger, msg, args, self.extra))
            return
        to_stderr, to_store = route
        message = msg % args if args else msg
        created = time.time()
        if to_stderr and _own_stderr is not None:
            _own_stderr.queue_line(created, "INFO", self.label, message)
        if to_store and self._store_ref is not None:
            store = self._store_ref()
            if store is not None and self.run_id is not None:
                store.write_log(self.run_id, self.flow_run_id, logging.INFO, logger.name, created, message)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = kwargs.get("extra")
        kwargs["extra"] = {**(self.extra or {}), **extra} if extra else self.extra
        return msg, kwargs


# The fields of an engine line's record that are the same every time, copied from a record made
# the standard way (so a field a newer Python adds comes along), keyed by logger name and process.
_record_templates: dict[tuple[str, int], dict[str, Any]] = {}
# This process's id, kept here: os.getpid() is a system call, and two lines per task run asked for it.
_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


def _engine_record(logger: logging.Logger, msg: str, args: tuple, extra: Any) -> logging.LogRecord:
    """The record ``logger.makeRecord`` would make for an INFO line from headwater, made in half the time.

    Two lines per task run make this a per-task cost; a LogRecord's own ``__init__`` works out the
    source file, process and thread each time. An application that installed its own record
    factory or logger class gets records made the standard way.
    """
    if logging.getLogRecordFactory() is not logging.LogRecord or type(logger).makeRecord is not logging.Logger.makeRecord:
        return logger.makeRecord(logger.name, logging.INFO, "headwater", 0, msg, args, None, None, extra)
    key = (logger.name, _pid)
    template = _record_templates.get(key)
    if template is None:
        template = _record_templates[key] = vars(logging.LogRecord(logger.name, logging.INFO, "headwater", 0, "", None, None))
    fields = template.copy()  # a copy of a whole dict is much cheaper than filling a new one
    if extra:
        fields.update(extra)
    now = time.time()
    thread = threading.current_thread()
    fields["msg"], fields["args"] = msg, args
    fields["created"], fields["msecs"] = now, int((now - int(now)) * 1000) + 0.0
    fields["relativeCreated"] = (now - template["created"]) * 1000 + template["relativeCreated"]
    fields["thread"], fields["threadName"] = thread.ident, thread.name
    record = logging.LogRecord.__new__(logging.LogRecord)
    record.__dict__ = fields
    if "taskName" in template:  # Python 3.12+: the asyncio task the line comes from, if any
        fields["taskName"] = _asyncio_task_name()
    return record


def _own_route(logger: logging.Logger) -> Optional[tuple[bool, bool]]:
    """Whether an INFO line of ``logger`` would reach headwater's own handlers and nothing else.

    ``(to stderr, to the store)`` if so: no filter on the way, no handler but the two that
    ``setup_logging`` installed (unfiltered, at INFO or below, the stderr one with its own
    formatter). ``None`` if anything else would see the line: then it must be a real record.
    Worked out for every line, as ``Logger.callHandlers`` does: an application or a test may add
    a handler at any moment, and from then on gets every line.
    """
    to_stderr = to_store = False
    current: Optional[logging.Logger] = logger
    while current is not None:
        if current.filters:
            return None
        for handler in current.handlers:
            if handler.filters or handler.level > logging.INFO:
                return None
            if handler is _own_store:
                to_store = True
            elif handler is _own_stderr and type(handler.formatter) is _RunFormatter:
                to_stderr = True
            else:
                return None
        if not current.propagate:
            break
        current = current.parent
    return to_stderr, to_store


def _asyncio_task_name() -> Optional[str]:
    asyncio = sys.modules.get("asyncio")
    if asyncio is None or not getattr(logging, "logAsyncioTasks", True):
        return None
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no running event loop in this thread
        return None
    return task.get_name() if task is not None else None


class BackgroundStderrHandler(logging.Handler):
    """Writes log lines to stderr many lines a write, mostly from the threads that log them.

    A write to a terminal or a pipe is a system call that costs tens of microseconds:
    two of them per task run were the largest part of a small task's overhead. The
    calling thread freezes the message and queues the line; the thread that queues a
    line once the oldest queued one is ``GATHER_SECONDS`` old writes them all. A thread
    of its own writes the lines that no later line comes to take along (a task that logs,
    then computes for a minute), looking ``LATE_SECONDS`` after a batch began and at
    most that often. ``flush()`` (called by ``logging.shutdown`` at exit) writes
    whatever is queued.

    Why the busy path writes for itself: a thread that wakes up needs the interpreter
    lock, and while it waits for it, each release by the flow's thread (any system call
    in a task: a file read, a socket, a database query) wakes it up in vain, at about
    10 µs a time on a virtual machine. The thread that used to write every 2 ms was
    waiting for the lock most of the time, and a task whose body made one system call
    cost 20-31 µs more for it (4-9 µs since; the store writer's waits remain).

    A *live line* (the progress display, :mod:`headwater.progress`) may sit below the
    log lines: :meth:`draw_live_line` redraws it in place, and each batch of log lines
    is written above it (the line cleared, the batch, the line again, in one write).
    One class-wide lock orders every such write, so neither cuts into the other.
    """

    #: A line queued once the oldest queued line is this old writes the batch (in the thread that logs it).
    GATHER_SECONDS: ClassVar[float] = 0.02
    #: Lines no later line takes along are written by the handler's thread within about twice this.
    LATE_SECONDS: ClassVar[float] = 0.05

    _terminal_lock: ClassVar[threading.Lock] = threading.Lock()
    _live_line: ClassVar[Optional[str]] = None  # the live line on screen now, if any

    def __init__(self) -> None:
        super().__init__()
        # Records, and lines given as (created, levelname, label, message) by ``queue_line``.
        self._queue: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()  # set when a batch begins and the writer thread is idle
        self._woken = False  # whether _wake is set (Event.is_set() is a Python call, two a task run)
        self._began = 0.0  # when the oldest queued line was queued (time.monotonic)
        self._write_lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._pid = 0

    def handle(self, record: logging.LogRecord) -> Any:
        # As Handler.handle, without its lock: emit only appends to a deque.
        passed = self.filter(record)
        if isinstance(passed, logging.LogRecord):  # Python 3.12+: a filter may hand back another record
            record = passed
        if passed:
            self.emit(record)
        return passed

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # Freeze what the record says now: its arguments may change after this call returns.
            record.msg, record.args = record.getMessage(), None
            if record.exc_info:
                record.exc_text = self.formatException(record.exc_info)
                record.exc_info = None
            self._put(record)
        except Exception:
            self.handleError(record)

    def queue_line(self, created: float, levelname: str, label: str, message: str) -> None:
        """Queue a line given as its fields, with no record (see ``RunLogger.engine_info``)."""
        self._put((created, levelname, label, message))

    def _put(self, item: Any) -> None:
        queue = self._queue
        now = time.monotonic()
        if not queue:
            self._began = now
        elif now - self._began >= self.GATHER_SECONDS:
            queue.append(item)
            self.flush()  # in this thread: see the class's docstring
            return
        queue.append(item)
        if self._thread is None or self._pid != _pid:
            self._start()
        if not self._woken:
            self._woken = True
            self._wake.set()

    def formatException(self, exc_info: Any) -> str:
        return (self.formatter or logging.Formatter()).formatException(exc_info)

    def _start(self) -> None:
        self._pid = _pid
        self._woken = False  # (a fork may have come between the flag and the event in another thread)
        self._thread = threading.Thread(target=self._run, name="headwater-log-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        queue = self._queue
        while True:
            self._wake.wait()  # idle until a batch begins
            while True:
                # One wake-up (one wait for the interpreter lock) per LATE_SECONDS while lines come.
                time.sleep(self.LATE_SECONDS)
                if time.monotonic() - self._began >= self.LATE_SECONDS:
                    if not queue:
                        break  # nothing queued for a while: idle until the next batch
                    self.flush()
            self._woken = False
            self._wake.clear()
            if queue:  # queued between the look and the flag: look again
                self._woken = True
                self._wake.set()

    def flush(self) -> None:
        with self._write_lock:
            lines: list[str] = []
            formatter = self.formatter if type(self.formatter) is _RunFormatter else _RunFormatter()
            queue = self._queue
            try:
                while queue:
                    item = queue.popleft()
                    if type(item) is tuple:
                        lines.append(formatter.line(*item))
                    else:
                        lines.append(item if type(item) is str else self.format(item))
                if lines:
                    text = "\n".join(lines) + "\n"
                    with self._terminal_lock:
                        live = BackgroundStderrHandler._live_line
                        if live is not None:
                            text = f"{_CLEAR_LINE}{text}{live}"
                        _write_stderr(text)
                        lines = []
            except BaseException:
                # Ctrl-C in a thread that was writing its batch: the lines taken wait for the next write.
                queue.extendleft(reversed(lines))
                raise

    @classmethod
    def draw_live_line(cls, text: Optional[str], final: bool = False) -> None:
        """Show ``text`` as the live line below the log lines, in place of the previous one.

        ``None`` clears the line; ``final=True`` leaves ``text`` on screen as an ordinary line.
        """
        with cls._terminal_lock:
            shown = cls._live_line
            if text is None:
                cls._live_line = None
                if shown is not None:
                    _write_stderr(_CLEAR_LINE)
                return
            cls._live_line = None if final else text
            _write_stderr(f"{_CLEAR_LINE}{text}\n" if final else f"{_CLEAR_LINE}{text}")


_CLEAR_LINE = "\r\x1b[2K"  # back to the start of the line, and erase it


def _write_stderr(text: str) -> None:
    stream = sys.stderr  # looked up each time: test runners swap it
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):
        pass  # stderr closed (a pipe whose reader left): nothing to be done


# -- stored lines: a handler hands each run's lines to the run's store ------------------------------

# Records name their store by a number, not by the store itself: a record must stay picklable
# (a QueueHandler may send it to another process, and a runner may pickle a run's logger).
# Weak: a store closed and dropped (as a test's is) is not kept alive by its number.
_stores_by_number: weakref.WeakValueDictionary[int, Store] = weakref.WeakValueDictionary()
_numbers_by_store: dict[int, tuple[int, weakref.ref[Store]]] = {}  # id(store) -> its number, and a weakref to it
_numbering_lock = threading.Lock()
_next_number = itertools.count(1)


def _number_store(store: Store) -> tuple[int, weakref.ref[Store]]:
    """The number of ``store``, given it the first time, and a weak reference to it."""
    known = _numbers_by_store.get(id(store))
    if known is None or known[1]() is not store:  # (a new store may have the id of a dropped one)
        with _numbering_lock:
            number = next(_next_number)
            _stores_by_number[number] = store
            known = _numbers_by_store[id(store)] = (number, weakref.ref(store))
    return known


def _forget_stores() -> None:
    # A forked child opens stores of its own; the parent's writer threads did not come along.
    _stores_by_number.clear()
    _numbers_by_store.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_stores)


class StoreHandler(logging.Handler):
    """Hands every line of a run to the run's store (:meth:`headwater.stores.Store.write_log`).

    Lines of other loggers, and of runs logged in another process, are left alone. The store
    only queues the line for its writer thread, so no lock is taken here.
    """

    def handle(self, record: logging.LogRecord) -> bool:
        number = getattr(record, "run_store", None)
        if number is None:
            return False
        store = _stores_by_number.get(number)
        if store is None:
            return False
        try:
            message = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = _plain_formatter.formatException(record.exc_info)
            if record.exc_text:
                message = f"{message}\n{record.exc_text}"
            if record.stack_info:
                message = f"{message}\n{record.stack_info}"
            store.write_log(record.run_id, record.flow_run_id, record.levelno, record.name, record.created, message)  # type: ignore[attr-defined]
        except Exception:
            self.handleError(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        self.handle(record)


_plain_formatter = logging.Formatter()
_configured: Optional[str] = None
# The handlers setup_logging installed (the stderr one only if the application had none of its own).
_own_stderr: Optional[BackgroundStderrHandler] = None
_own_store: Optional[StoreHandler] = None
_configure_lock = threading.Lock()


class _ToRunLogger(logging.Handler):
    """On another library's logger (HEADWATER_LOGGING_EXTRA_LOGGERS): a line logged within a run is
    logged again by the run's logger, so it is shown with the run's label and kept in the store."""

    def emit(self, record: logging.LogRecord) -> None:
        from .context import flow_run_context, task_run_context

        ctx = task_run_context.get() or flow_run_context.get()
        if ctx is None:
            return  # outside any run: the library's own handlers have it
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatter_for_exceptions.formatException(record.exc_info)
        ctx.logger.log(record.levelno, "%s", message)

    formatter_for_exceptions = logging.Formatter()


_to_run_logger = _ToRunLogger()
_extra_loggers: set[str] = set()


def setup_logging(level: str, extra_loggers: str = "") -> None:
    """Set headwater's loggers to ``level``; give them, once, a handler that keeps run lines in the
    store and one on stderr (unless the application configured its own). ``extra_loggers`` names
    other loggers (comma-separated) whose lines within a run become the run's lines too."""
    global _configured, _own_stderr, _own_store
    for name in filter(None, (part.strip() for part in extra_loggers.split(","))):
        if name not in _extra_loggers:
            logging.getLogger(name).addHandler(_to_run_logger)
            _extra_loggers.add(name)
    if _configured == level:
        return
    with _configure_lock:
        root = logging.getLogger("headwater")
        if _configured is None:
            if not root.handlers:
                _own_stderr = BackgroundStderrHandler()
                _own_stderr.setFormatter(_RunFormatter())
                root.addHandler(_own_stderr)
            # After the stderr handler, which has already turned each record's message into text.
            _own_store = StoreHandler()
            root.addHandler(_own_store)
        # The level decides what is kept as well as what is shown: a record below it is never made.
        root.setLevel(level)
        _configured = level


def write_queued_lines() -> None:
    """Write the lines headwater's stderr handler still holds: a top-level flow run's last lines
    reach stderr before it returns, and so before whatever its caller prints next."""
    if _own_stderr is not None:
        _own_stderr.flush()


# -- log_prints: print() inside a run goes to the run's logger -----------------------------------

_print_target: contextvars.ContextVar[Optional[logging.LoggerAdapter]] = contextvars.ContextVar("headwater_print_target", default=None)
_original_print = builtins.print
_print_installed = False


def _print(*args: Any, sep: Optional[str] = " ", end: Optional[str] = "\n", file: Any = None, flush: bool = False) -> None:
    target = _print_target.get()
    if target is None or file not in (None, sys.stdout):
        _original_print(*args, sep=sep, end=end, file=file, flush=flush)
        return
    buffer = io.StringIO()
    _original_print(*args, sep=sep, end="", file=buffer)
    target.info("%s", buffer.getvalue())


def print_to_logger(logger: Optional[logging.LoggerAdapter]) -> contextvars.Token:
    """Send ``print`` calls in this context to ``logger`` (``None``: to stdout). Returns a token to reset."""
    global _print_installed
    if logger is not None and not _print_installed:
        builtins.print = _print
        _print_installed = True
    return _print_target.set(logger)


def prints_to(logger: Optional[logging.LoggerAdapter]) -> Optional[contextvars.Token]:
    """Send ``print`` in this context to ``logger`` (``None``: to stdout) unless it goes there already.

    A token for :func:`reset_print`, or ``None`` when nothing changed (the common case: no run logs prints).
    """
    if _print_target.get() is logger:
        return None
    return print_to_logger(logger)


def reset_print(token: contextvars.Token) -> None:
    _print_target.reset(token)
