"""Two orchestration rules: a daily maintenance window, and fail-fast flows.

A rule is a subclass of :class:`headwater.orchestration.OrchestrationRule` that

* says which proposed state changes it governs, with three class attributes:
  ``applies_to`` (the kinds of run, ``"flow"`` and/or ``"task"``),
  ``from_states`` and ``to_states`` (sets of :class:`headwater.states.StateType`;
  ``None`` in ``from_states`` is a run that has no state yet);
* answers in ``before_transition(ctx)``: do nothing to let the change through,
  ``ctx.replace(state)`` to make another state the outcome, or
  ``ctx.delay(seconds, reason)`` to make the run wait and propose again;
* and may act on a committed change in ``after_transition(ctx)``.

One instance serves every run of the process, from several threads at once:
whatever a rule remembers across runs it keeps under a lock.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import os
import threading
from typing import Callable, Optional

from headwater.exceptions import ConfigurationError
from headwater.orchestration import OrchestrationRule, TransitionContext
from headwater.states import TERMINAL_TYPES, Cancelled, Failed, Pending, StateType

__all__ = ["DailyWindow", "MaintenanceWindow", "FailFast", "WINDOW_VARIABLE", "CHECK_VARIABLE", "FAIL_FAST_TAG", "MAINTENANCE_TAG"]

WINDOW_VARIABLE = "HEADWATER_EXAMPLE_MAINTENANCE_WINDOW"
CHECK_VARIABLE = "HEADWATER_EXAMPLE_MAINTENANCE_CHECK_SECONDS"
MAINTENANCE_TAG = "maintenance"
AWAITING_MAINTENANCE_WINDOW = "AwaitingMaintenanceWindow"
FAIL_FAST_TAG = "fail-fast"
DEFAULT_CHECK_SECONDS = 60.0

_DAY = 24 * 60 * 60


# -- the maintenance window ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DailyWindow:
    """A stretch of every day, in UTC, from ``start`` (included) to ``end`` (excluded).

    A window whose end comes before its start crosses midnight: ``23:30-00:30``
    runs from half past eleven at night to half past midnight.
    """

    start: _dt.time
    end: _dt.time

    @classmethod
    def parse(cls, text: str, variable: str = WINDOW_VARIABLE) -> DailyWindow:
        """``"HH:MM-HH:MM"`` (24-hour clock, UTC) as a window; a ``ConfigurationError`` naming ``variable`` otherwise."""
        try:
            start_text, end_text = text.split("-")
            start, end = _clock_time(start_text), _clock_time(end_text)
        except ValueError:
            raise ConfigurationError(
                f"{variable}={text!r} is not a daily window. Expected HH:MM-HH:MM on a 24-hour clock, in UTC, "
                f"for example {variable}=\"02:00-04:00\" (or \"23:30-00:30\" across midnight)."
            ) from None
        if start == end:
            raise ConfigurationError(
                f"{variable}={text!r} starts and ends at the same minute. Expected HH:MM-HH:MM with two different "
                f"times, in UTC; unset {variable} to have no maintenance window."
            )
        return cls(start, end)

    def seconds_left(self, now: _dt.datetime) -> Optional[float]:
        """Seconds from ``now`` until the window closes, or ``None`` when ``now`` is outside it."""
        now = now.astimezone(_dt.timezone.utc)
        at = _seconds_of_day(now.time())
        start, end = _seconds_of_day(self.start), _seconds_of_day(self.end)
        if start < end:  # within one day
            return end - at if start <= at < end else None
        if at >= start:  # across midnight, before it: the window closes tomorrow
            return _DAY - at + end
        if at < end:  # across midnight, after it
            return end - at
        return None

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _clock_time(text: str) -> _dt.time:
    hours, minutes = text.strip().split(":")
    if len(hours) not in (1, 2) or len(minutes) != 2:
        raise ValueError(text)
    return _dt.time(int(hours), int(minutes))


def _seconds_of_day(moment: _dt.time) -> float:
    return moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6


@functools.lru_cache(maxsize=16)
def _window(text: str) -> DailyWindow:
    # The variable is read at every check, so parse each value it takes once only.
    return DailyWindow.parse(text)


def _check_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigurationError(
            f"{CHECK_VARIABLE}={text!r} is not a number of seconds. Expected a number above 0, "
            f"for example {CHECK_VARIABLE}=60, or unset it for the default of {DEFAULT_CHECK_SECONDS:g}."
        )
    return seconds


def _utc_now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


class MaintenanceWindow(OrchestrationRule):
    """Task runs tagged ``maintenance`` do not start while the daily maintenance window is open.

    The window comes from ``HEADWATER_EXAMPLE_MAINTENANCE_WINDOW`` (``"02:00-04:00"``,
    UTC), read at every check, so a script that sets it before a flow run is
    obeyed; unset or empty, there is no window. A run that would start inside
    the window is *delayed*, not ended: it stays Pending and asks again every
    ``HEADWATER_EXAMPLE_MAINTENANCE_CHECK_SECONDS`` (default 60), or when the
    window closes if that is sooner, then starts as if nothing happened. While it waits it is
    recorded in the ``AwaitingMaintenanceWindow`` state (a PENDING state).

    A badly formed value fails the tagged task runs with an error naming the
    variable, its value and the expected form: running maintenance work at an
    unknown time is what the window is there to prevent.
    """

    applies_to = frozenset({"task"})
    from_states = frozenset({StateType.PENDING})
    to_states = frozenset({StateType.RUNNING})

    def __init__(self, clock: Callable[[], _dt.datetime] = _utc_now) -> None:
        #: Where the rule reads the time; tests may swap in a clock of their own.
        self.clock = clock

    def before_transition(self, ctx: TransitionContext) -> None:
        if MAINTENANCE_TAG not in ctx.run.tags:
            return
        text = os.environ.get(WINDOW_VARIABLE, "").strip()
        if not text:
            return
        try:
            window = _window(text)
            check = _check_seconds(os.environ.get(CHECK_VARIABLE, "").strip() or str(DEFAULT_CHECK_SECONDS))
        except ConfigurationError as exc:
            ctx.replace(Failed(str(exc), data=exc), reason="bad maintenance window setting")
            return
        left = window.seconds_left(self.clock())
        if left is None:
            return
        reason = (
            f"task runs tagged '{MAINTENANCE_TAG}' wait for the maintenance window {window} UTC to close "
            f"({left:.0f}s from now)"
        )
        # The waiting state is recorded once, so `headwater runs inspect` shows why the run has not started.
        ctx.delay(min(left, check), reason, waiting_state=Pending(reason, name=AWAITING_MAINTENANCE_WINDOW))


# -- fail fast ----------------------------------------------------------------------------------


class FailFast(OrchestrationRule):
    """In a flow run tagged ``fail-fast``, once a task run fails for good, task runs not started yet are Cancelled.

    "For good" means after its retries: the default retry rule turns a failure
    with retries left into AwaitingRetry, so only a last failure commits
    Running -> Failed (or Crashed), which is what this rule watches for. Runs
    already running are left to finish; a run about to start (Pending ->
    Running) is Cancelled instead, with a message naming the run that failed.

    The rule follows three kinds of change, so it governs all of them and sorts
    them out in its methods:

    * a flow run entering Running: a tagged one is watched (and a retry of the
      flow starts with a clean slate);
    * a task run of a watched flow run leaving Running for Failed or Crashed:
      the first such run is remembered;
    * a task run of that flow run about to start: replaced with Cancelled;

    and it forgets a flow run once the flow run is final.
    """

    applies_to = frozenset({"flow", "task"})
    from_states = frozenset({None, StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING})
    to_states = frozenset({StateType.RUNNING, *TERMINAL_TYPES})

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Watched flow run id -> its first task run that failed for good, as "'name' (Failed: message)"; None until one does.
        self._watched: dict[str, Optional[str]] = {}

    def before_transition(self, ctx: TransitionContext) -> None:
        if ctx.kind != "task" or ctx.proposed_state.type is not StateType.RUNNING or ctx.initial_type is not StateType.PENDING:
            return
        with self._lock:
            failed = self._watched.get(ctx.run.flow_run_id or "")
        if failed is not None:
            ctx.replace(
                Cancelled(f"Not started: this flow run is tagged '{FAIL_FAST_TAG}' and its task run {failed} failed."),
                reason="fail fast",
            )

    def after_transition(self, ctx: TransitionContext) -> None:
        state, run = ctx.proposed_state, ctx.run
        if ctx.kind == "flow":
            with self._lock:
                if state.type is StateType.RUNNING and FAIL_FAST_TAG in run.tags:
                    self._watched[run.id] = None
                elif state.is_final():
                    self._watched.pop(run.id, None)
        elif ctx.initial_type is StateType.RUNNING and state.type in (StateType.FAILED, StateType.CRASHED):
            with self._lock:
                watched = run.flow_run_id in self._watched
                if watched and self._watched[run.flow_run_id] is None:  # the first failure is the one to name
                    self._watched[run.flow_run_id] = f"{run.name!r} ({state.name}: {state.message})"
