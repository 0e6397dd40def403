"""The schedule arithmetic: cron in a time zone (daylight-saving changes included) and intervals."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from headwater.exceptions import ConfigurationError
from headwater.schedules import CronSchedule, IntervalSchedule, due_times, jittered, make_schedule

UTC = dt.timezone.utc
OSLO = ZoneInfo("Europe/Oslo")
ZONES = ["UTC", "Europe/Oslo", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]

moments = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2090, 1, 1)).map(lambda m: m.replace(tzinfo=UTC))


@settings(max_examples=150, deadline=None)
@given(
    minutes=st.sets(st.integers(0, 59), min_size=1, max_size=4),
    hours=st.sets(st.integers(0, 23), min_size=1, max_size=3) | st.none(),
    zone=st.sampled_from(ZONES),
    start=moments,
)
def test_cron_times_increase_and_each_matches_the_expression(minutes, hours, zone, start):
    expression = f"{','.join(map(str, sorted(minutes)))} {'*' if hours is None else ','.join(map(str, sorted(hours)))} * * *"
    schedule = CronSchedule(expression, zone)
    times = list(_take(schedule.after(start), 12))
    assert all(t.tzinfo is not None and t.utcoffset() == dt.timedelta(0) for t in times)
    assert times[0] > start and all(a < b for a, b in zip(times, times[1:]))  # strictly increasing
    for moment in times:
        local = moment.astimezone(ZoneInfo(zone))
        matches = local.minute in minutes and (hours is None or local.hour in hours)
        # Only a run due in an hour a spring-forward change skipped lands elsewhere: when the clock jumps.
        assert matches or _in_spring_gap(local, zone), (expression, zone, local.isoformat())


@settings(max_examples=150, deadline=None)
@given(seconds=st.floats(0.5, 86_400 * 3), anchor=moments, start=moments)
def test_interval_times_are_whole_steps_from_the_anchor(seconds, anchor, start):
    times = list(_take(IntervalSchedule(seconds, anchor).after(start), 6))
    assert times[0] > start and all(a < b for a, b in zip(times, times[1:]))
    for moment in times:
        steps = (moment - anchor).total_seconds() / seconds
        assert abs(steps - round(steps)) < 1e-3
    assert all(abs((b - a).total_seconds() - seconds) < 1e-3 for a, b in zip(times, times[1:]))


def test_spring_forward_a_daily_run_in_the_skipped_hour_runs_when_the_clock_jumps():
    # Oslo, 2026-03-29: 02:00 jumps to 03:00; a run due at 02:30 runs at 03:00 that day, then 02:30 again.
    schedule = CronSchedule("30 2 * * *", "Europe/Oslo")
    times = [t.astimezone(OSLO) for t in _take(schedule.after(dt.datetime(2026, 3, 28, 12, tzinfo=OSLO)), 3)]
    assert [t.isoformat() for t in times] == [
        "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00",
    ]


def test_autumn_repeat_a_daily_run_runs_once_and_an_hourly_one_in_both_hours():
    # Oslo, 2026-10-25: 03:00 goes back to 02:00, so 02:00-02:59 happens twice.
    daily = CronSchedule("30 2 * * *", "Europe/Oslo")
    times = list(_take(daily.after(dt.datetime(2026, 10, 24, 12, tzinfo=OSLO)), 2))
    assert [t.isoformat() for t in times] == ["2026-10-25T00:30:00+00:00", "2026-10-26T01:30:00+00:00"]
    half_hourly = CronSchedule("*/30 * * * *", "Europe/Oslo")
    start = dt.datetime(2026, 10, 25, 0, 50, tzinfo=UTC)  # 02:50 summer time
    times = list(_take(half_hourly.after(start), 3))
    # 03:00 summer time is 02:00 winter time: the repeated hour's 02:00 and 02:30 come again, an hour later
    assert [t.isoformat() for t in times] == ["2026-10-25T01:00:00+00:00", "2026-10-25T01:30:00+00:00", "2026-10-25T02:00:00+00:00"]


def test_due_times_between_two_moments():
    schedule = IntervalSchedule(60, dt.datetime(2026, 1, 1, tzinfo=UTC))
    found = due_times(schedule, dt.datetime(2026, 1, 1, 0, 0, 30, tzinfo=UTC), dt.datetime(2026, 1, 1, 0, 5, tzinfo=UTC))
    assert [t.minute for t in found] == [1, 2, 3, 4, 5]
    assert len(due_times(schedule, found[0], found[-1], limit=2)) == 2


def test_jitter_moves_a_run_later_by_at_most_the_jitter():
    import random

    due = dt.datetime(2026, 1, 1, tzinfo=UTC)
    rng = random.Random(7)
    moved = [jittered(due, 10, rng) for _ in range(50)]
    assert all(due <= m <= due + dt.timedelta(seconds=10) for m in moved) and len(set(moved)) > 40
    assert jittered(due, 0) == due


@pytest.mark.parametrize(
    "options, message",
    [
        ({}, "Give exactly one of cron= and interval= (got neither)"),
        ({"cron": "* * * * *", "interval": 5}, "(got both)"),
        ({"cron": "61 * * * *"}, "cron='61 * * * *' is not a cron expression"),
        ({"interval": 0}, "interval=0 must be a positive number of seconds"),
        ({"interval": "hourly"}, "interval='hourly' must be a positive number"),
        ({"cron": "0 * * * *", "timezone": "Mars/Olympus"}, "timezone='Mars/Olympus' is not a time zone"),
    ],
)
def test_bad_schedules_say_which_option_is_wrong(options, message):
    with pytest.raises(ConfigurationError) as raised:
        make_schedule(**options)
    assert message in str(raised.value)


def _take(iterator, n):
    for _, item in zip(range(n), iterator):
        yield item


def _in_spring_gap(local, zone):
    """Whether the hour before ``local`` was skipped by a clock change (a run due in it moved here)."""
    before = (local - dt.timedelta(hours=1)).astimezone(ZoneInfo(zone))
    return before.utcoffset() != local.utcoffset()
