"""The state vocabulary of flow runs and task runs.

A state has a *type* (one of a small closed set, :class:`StateType`) and a
*name*. Most states are named after their type; a few named sub-states refine
one (``Cached`` is a COMPLETED state, ``AwaitingRetry`` a SCHEDULED one). Code
that needs to know what a state means looks at its type; the name is for people.
"""

from __future__ import annotations

import datetime as _dt
import enum
from typing import Any

__all__ = [
    "StateType",
    "State",
    "TERMINAL_TYPES",
    "Scheduled",
    "Pending",
    "Running",
    "Completed",
    "Failed",
    "Crashed",
    "Cancelled",
    "Cached",
    "AwaitingRetry",
    "AwaitingConcurrencySlot",
    "Retrying",
    "TimedOut",
    "UpstreamFailed",
    "Paused",
    "Resuming",
]


class StateType(str, enum.Enum):
    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    CRASHED = "CRASHED"
    #: A flow run waiting in ``pause_flow_run`` for ``resume_flow_run`` (or ``headwater runs resume``).
    PAUSED = "PAUSED"

    def __str__(self) -> str:
        return self.value


# The members again, as module names for headwater's own hot paths: in Python 3.11 the enum's
# metaclass has a __getattr__, so each ``StateType.X`` costs about 0.1 us (a global 0.01 us), and
# a task run looked up some fifteen. Code outside headwater keeps writing ``StateType.X``.
SCHEDULED, PENDING, RUNNING, COMPLETED, FAILED, CANCELLED, CRASHED, PAUSED = StateType

# Sets, made once.
TERMINAL_TYPES = frozenset({COMPLETED, FAILED, CANCELLED, CRASHED})
_UNSUCCESSFUL_TYPES = frozenset({FAILED, CRASHED, CANCELLED})

# Sub-state names, defined once: compare against these, never against bare strings.
CACHED = "Cached"
AWAITING_RETRY = "AwaitingRetry"
AWAITING_CONCURRENCY_SLOT = "AwaitingConcurrencySlot"
RETRYING = "Retrying"
TIMED_OUT = "TimedOut"
UPSTREAM_FAILED = "UpstreamFailed"
RESUMING = "Resuming"

_UNSET: Any = object()


_datetime_now, _UTC = _dt.datetime.now, _dt.timezone.utc


def _now() -> _dt.datetime:
    return _datetime_now(_UTC)


def _loop_running() -> bool:
    """Whether this thread runs an asyncio event loop (so a caller can await)."""
    import asyncio  # (only for fetch=True: async code has imported it already)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class State:
    """One state of a run: what it is, when it began, and what it carries.

    ``data`` is the run's return value for a COMPLETED state and the exception
    for a FAILED or CRASHED one. A state read back from the store carries no
    data, only ``storage_key`` when its result was persisted; ``result()``
    loads it from the result store then.
    """

    __slots__ = ("type", "name", "message", "timestamp", "data", "storage_key", "scheduled_time", "run_id")

    def __init__(
        self,
        type: StateType,
        name: str | None = None,
        message: str | None = None,
        *,
        data: Any = _UNSET,
        storage_key: str | None = None,
        timestamp: _dt.datetime | None = None,
        scheduled_time: _dt.datetime | None = None,
    ) -> None:
        self.type = type
        # ``_value_``, not ``value``: an enum's ``value`` is a property, and cost 0.3 us a state here.
        self.name = name or type._value_.title()
        self.message = message
        self.data = data
        self.storage_key = storage_key
        self.timestamp = timestamp or _datetime_now(_UTC)  # (not _now(): a call less, three a task run)
        self.scheduled_time = scheduled_time
        #: The run that entered this state (set when it does): a state passed to a task names its upstream run.
        self.run_id: str | None = None

    # -- what kind of state this is ------------------------------------------------
    def is_scheduled(self) -> bool:
        return self.type is SCHEDULED

    def is_pending(self) -> bool:
        return self.type is PENDING

    def is_running(self) -> bool:
        return self.type is RUNNING

    def is_completed(self) -> bool:
        return self.type is COMPLETED

    def is_failed(self) -> bool:
        return self.type is FAILED

    def is_crashed(self) -> bool:
        return self.type is CRASHED

    def is_cancelled(self) -> bool:
        return self.type is CANCELLED

    def is_paused(self) -> bool:
        return self.type is PAUSED

    def is_final(self) -> bool:
        return self.type in TERMINAL_TYPES

    # -- its result ----------------------------------------------------------------
    def has_data(self) -> bool:
        return self.data is not _UNSET

    def result(self, raise_on_failure: bool = True, fetch: bool | None = None) -> Any:
        """The run's return value; for a failed run, raise its exception.

        With ``raise_on_failure=False`` a failed state returns the exception
        instead of raising it. ``fetch=True`` is Prefect 2's opt-in for async
        code: called where an event loop runs, it returns an awaitable of the
        same (``await state.result(fetch=True)``); elsewhere it changes nothing.
        """
        if fetch and _loop_running():
            return self._result_later(raise_on_failure)
        if self.type in _UNSUCCESSFUL_TYPES:
            exc = self.data if isinstance(self.data, BaseException) else None
            if exc is None:
                from .exceptions import RunFailed

                exc = RunFailed(f"The run finished in state {self!r}.")
            if raise_on_failure:
                raise exc
            return exc
        if self.data is not _UNSET:
            return self.data
        if self.storage_key is not None:
            from .results import load_result

            try:
                self.data = load_result(self.storage_key)
            except KeyError:
                from .exceptions import MissingResult

                raise MissingResult(
                    f"State {self!r} has no result: its payload at {self.storage_key!r} is gone "
                    "(deleted from the store or the result storage)."
                ) from None
            return self.data
        if self.type is COMPLETED:
            from .exceptions import MissingResult

            raise MissingResult(
                f"State {self!r} has no result: it was not kept in memory and was not "
                "persisted. Set persist_result=True on the task or flow to keep it."
            )
        from .exceptions import UnfinishedRun

        raise UnfinishedRun(f"The run is in state {self!r}, which has no result yet.")

    async def _result_later(self, raise_on_failure: bool) -> Any:
        return self.result(raise_on_failure)

    # -- how it reads ----------------------------------------------------------------
    def short(self) -> str:
        """The form used in log lines: ``Completed()``, ``Failed('...')``, ``Cached(type=COMPLETED)``."""
        parts = [repr(self.message)] if self.message else []
        if self.name.upper() != self.type._value_:
            parts.append(f"type={self.type._value_}")
        return f"{self.name}({', '.join(parts)})"

    def __repr__(self) -> str:
        return f"{self.name}(message={self.message!r}, type={self.type.value})"

    def copy(self, **changes: Any) -> State:
        new = State.__new__(State)
        for slot in State.__slots__:
            setattr(new, slot, changes.get(slot, getattr(self, slot)))
        return new


# One constructor per state and sub-state (each names its state: quicker than State's default name).


def Scheduled(message: str | None = None, *, scheduled_time: _dt.datetime | None = None, name: str | None = None) -> State:
    return State(SCHEDULED, name or "Scheduled", message, scheduled_time=scheduled_time or _now())


def Pending(message: str | None = None, *, name: str | None = None) -> State:
    return State(PENDING, name or "Pending", message)


def Running(message: str | None = None, *, name: str | None = None) -> State:
    return State(RUNNING, name or "Running", message)


def Completed(message: str | None = None, *, data: Any = _UNSET, storage_key: str | None = None, name: str | None = None) -> State:
    return State(COMPLETED, name or "Completed", message, data=data, storage_key=storage_key)


def Failed(message: str | None = None, *, data: Any = _UNSET, name: str | None = None) -> State:
    return State(FAILED, name or "Failed", message, data=data)


def Crashed(message: str | None = None, *, data: Any = _UNSET) -> State:
    return State(CRASHED, "Crashed", message, data=data)


def Cancelled(message: str | None = None, *, data: Any = _UNSET) -> State:
    return State(CANCELLED, "Cancelled", message, data=data)


def Cached(message: str | None = None, *, data: Any = _UNSET, storage_key: str | None = None) -> State:
    return State(COMPLETED, CACHED, message, data=data, storage_key=storage_key)


def AwaitingRetry(message: str | None = None, *, scheduled_time: _dt.datetime | None = None) -> State:
    return Scheduled(message, scheduled_time=scheduled_time, name=AWAITING_RETRY)


def AwaitingConcurrencySlot(message: str | None = None) -> State:
    """A task run ready to start that waits for a slot of a tag concurrency limit (a PENDING state)."""
    return State(PENDING, AWAITING_CONCURRENCY_SLOT, message)


def Paused(message: str | None = None, *, pause_expiration_time: _dt.datetime | None = None) -> State:
    """A flow run waiting to be resumed; ``pause_expiration_time`` is when it stops waiting and fails."""
    return State(PAUSED, "Paused", message, scheduled_time=pause_expiration_time)


def Resuming(message: str | None = None) -> State:
    """A paused flow run running again: the same attempt, so its run count stays."""
    return State(RUNNING, RESUMING, message)


def Retrying(message: str | None = None) -> State:
    return State(RUNNING, RETRYING, message)


def TimedOut(message: str | None = None, *, data: Any = _UNSET) -> State:
    return State(FAILED, TIMED_OUT, message, data=data)


def UpstreamFailed(message: str | None = None, *, data: Any = _UNSET) -> State:
    """A task run that could not start because a run it depends on did not complete."""
    return State(FAILED, UPSTREAM_FAILED, message, data=data)
