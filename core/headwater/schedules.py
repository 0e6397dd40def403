"""When a served flow is due: cron expressions and intervals, in a time zone. Pure functions of time.

Cron expressions are read by cronsim, which follows Debian's cron, daylight-saving changes
included: a daily job whose time falls in the hour skipped in spring runs when the clock jumps
(02:30 becomes 03:00), and one whose time comes twice in autumn runs once, at the first;
jobs that run every hour or more often run in both of the autumn's repeated hours. (croniter,
which Prefect uses, was deprecated by its maintainer in 2024 and revived since; cronsim is one
small module with no dependencies, written for a cron-monitoring service, and states the DST
rules it keeps.)

An interval counts in real seconds from an anchor, by default the Unix epoch: every process
that serves ``interval=60`` agrees that it is due at each whole minute, with nothing to agree on
first, and daylight-saving changes do not move it.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import random
from typing import Iterator, Optional, Union

from .exceptions import ConfigurationError

__all__ = ["CronSchedule", "IntervalSchedule", "Schedule", "make_schedule", "due_times", "jittered"]

_UTC = _dt.timezone.utc
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_UTC)


def _zone(timezone: Optional[str]) -> _dt.tzinfo:
    if timezone is None or timezone == "UTC":
        return _UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigurationError(
            f"timezone={timezone!r} is not a time zone; give an IANA name such as 'Europe/Oslo' or 'America/New_York'."
        ) from None


@dataclasses.dataclass(frozen=True)
class CronSchedule:
    """Due at the moments a cron expression (five fields) names, read in ``timezone`` (default UTC)."""

    cron: str
    timezone: Optional[str] = None

    def __post_init__(self) -> None:
        from cronsim import CronSim, CronSimError

        try:
            CronSim(self.cron, _dt.datetime(2000, 1, 1, tzinfo=self.zone))
        except CronSimError as exc:
            raise ConfigurationError(
                f"cron={self.cron!r} is not a cron expression ({exc}); five fields: minute hour day-of-month "
                "month day-of-week, such as '0 * * * *' (hourly) or '*/5 9-17 * * MON-FRI'."
            ) from None

    @property
    def zone(self) -> _dt.tzinfo:
        return _zone(self.timezone)

    def after(self, moment: _dt.datetime) -> Iterator[_dt.datetime]:
        """The due times strictly after ``moment`` (aware), in UTC, in order."""
        from cronsim import CronSim

        for due in CronSim(self.cron, moment.astimezone(self.zone)):
            yield due.astimezone(_UTC)

    def describe(self) -> str:
        return f"cron {self.cron!r}" + (f" ({self.timezone})" if self.timezone else " (UTC)")


@dataclasses.dataclass(frozen=True)
class IntervalSchedule:
    """Due every ``seconds`` from ``anchor``."""

    seconds: float
    anchor: _dt.datetime
    timezone: Optional[str] = None

    def __post_init__(self) -> None:
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)) or not self.seconds > 0:
            raise ConfigurationError(f"interval={self.seconds!r} must be a positive number of seconds, such as 60 or 0.5.")
        if self.anchor.tzinfo is None:
            raise ConfigurationError("an interval's anchor must be an aware datetime.")
        _zone(self.timezone)

    def after(self, moment: _dt.datetime) -> Iterator[_dt.datetime]:
        elapsed = (moment - self.anchor).total_seconds()
        count = max(0, int(elapsed // self.seconds) + 1)
        while True:
            due = (self.anchor + _dt.timedelta(seconds=count * self.seconds)).astimezone(_UTC)
            if due > moment:
                yield due
            count += 1

    def describe(self) -> str:
        return f"every {self.seconds:g}s"


Schedule = Union[CronSchedule, IntervalSchedule]


def make_schedule(
    cron: Optional[str] = None, interval: Union[float, _dt.timedelta, None] = None, timezone: Optional[str] = None,
    anchor: Optional[_dt.datetime] = None,
) -> Schedule:
    """The schedule that exactly one of ``cron`` and ``interval`` gives; an error naming the option otherwise."""
    if (cron is None) == (interval is None):
        given = "both" if cron is not None else "neither"
        raise ConfigurationError(f"Give exactly one of cron= and interval= (got {given}), such as cron='0 * * * *' or interval=60.")
    if cron is not None:
        if not isinstance(cron, str):
            raise ConfigurationError(f"cron={cron!r} must be a string, such as '0 * * * *'.")
        return CronSchedule(cron.strip(), timezone)
    seconds = interval.total_seconds() if isinstance(interval, _dt.timedelta) else interval
    return IntervalSchedule(seconds, anchor or _EPOCH, timezone)  # type: ignore[arg-type]


def due_times(schedule: Schedule, after: _dt.datetime, until: _dt.datetime, limit: int = 10_000) -> list[_dt.datetime]:
    """The due times in ``(after, until]``, at most ``limit`` of them (the earliest)."""
    found: list[_dt.datetime] = []
    for due in schedule.after(after):
        if due > until or len(found) >= limit:
            break
        found.append(due)
    return found


def jittered(due: _dt.datetime, jitter_seconds: float, rng: Optional[random.Random] = None) -> _dt.datetime:
    """``due`` moved later by a random part of ``jitter_seconds`` (spreads many schedules due at once)."""
    if jitter_seconds <= 0:
        return due
    return due + _dt.timedelta(seconds=(rng or random).uniform(0, jitter_seconds))
