"""A campaign's schedule: validated specs, and the UTC instants they fire at, DST included."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from engage.engine.scheduler.schedule import ScheduleError, parse_schedule


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def daily(at: str, tz: str) -> dict:
    return {"kind": "daily", "time": at, "timezone": tz}


# --- kinds ---------------------------------------------------------------------------------

def test_now_occurs_once_at_the_moment_it_is_asked() -> None:
    schedule = parse_schedule({"kind": "now"})
    assert not schedule.recurring
    assert schedule.first(utc(2026, 5, 1, 12)) == utc(2026, 5, 1, 12)
    assert schedule.next_after(utc(2026, 5, 1, 12)) is None


def test_at_is_a_wall_time_in_its_zone() -> None:
    schedule = parse_schedule({"kind": "at", "at": "2026-12-01T10:00", "timezone": "Asia/Tashkent"})
    assert schedule.first(utc(2026, 11, 1)) == utc(2026, 12, 1, 5)


def test_at_with_an_offset_is_that_instant_whatever_the_zone() -> None:
    schedule = parse_schedule({"kind": "at", "at": "2026-12-01T10:00+03:00", "timezone": "Asia/Tashkent"})
    assert schedule.first(utc(2026, 11, 1)) == utc(2026, 12, 1, 7)


def test_at_is_finished_once_its_time_is_used() -> None:
    schedule = parse_schedule({"kind": "at", "at": "2026-12-01T10:00", "timezone": "UTC"})
    assert schedule.next_after(utc(2026, 12, 1, 10)) is None
    assert schedule.first(utc(2026, 12, 1, 10, 1)) is None


def test_first_includes_its_own_instant_and_next_after_does_not() -> None:
    schedule = parse_schedule(daily("10:00", "UTC"))
    assert schedule.first(utc(2026, 5, 1, 10)) == utc(2026, 5, 1, 10)
    assert schedule.next_after(utc(2026, 5, 1, 10)) == utc(2026, 5, 2, 10)


def test_timezone_defaults_to_the_given_default() -> None:
    schedule = parse_schedule({"kind": "daily", "time": "10:00"}, default_timezone="Asia/Tashkent")
    assert schedule.timezone == "Asia/Tashkent"
    assert schedule.first(utc(2026, 5, 1)) == utc(2026, 5, 1, 5)


def test_cron_is_read_on_the_zones_wall_clock() -> None:
    schedule = parse_schedule({"kind": "cron", "cron": "0 10 * * 1-5", "timezone": "Asia/Tashkent"})
    # Friday 2026-05-01, then Monday 2026-05-04: the weekend is skipped
    assert schedule.occurrences(utc(2026, 5, 1), utc(2026, 5, 5)) == [utc(2026, 5, 1, 5), utc(2026, 5, 4, 5)]


def test_weekly_fires_on_its_days_only() -> None:
    schedule = parse_schedule({"kind": "weekly", "days": ["mon", "thu"], "time": "10:00", "timezone": "UTC"})
    found = schedule.occurrences(utc(2026, 5, 4), utc(2026, 5, 18))  # Monday to Monday, two weeks
    assert [d.strftime("%a %d") for d in found] == ["Mon 04", "Thu 07", "Mon 11", "Thu 14"]


def test_monthly_on_a_missing_day_fires_on_the_last_day_of_the_month() -> None:
    schedule = parse_schedule({"kind": "monthly", "day": 31, "time": "09:30", "timezone": "UTC"})
    found = schedule.occurrences(utc(2026, 1, 1), utc(2026, 5, 1))
    assert [d.date().isoformat() for d in found] == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]


def test_monthly_day_29_is_february_29_in_a_leap_year() -> None:
    schedule = parse_schedule({"kind": "monthly", "day": 29, "time": "09:30", "timezone": "UTC"})
    assert schedule.first(utc(2028, 2, 1)) == utc(2028, 2, 29, 9, 30)


def test_until_ends_a_recurring_schedule_inclusively() -> None:
    schedule = parse_schedule({**daily("10:00", "UTC"), "until": "2026-05-03T10:00"})
    assert schedule.occurrences(utc(2026, 5, 1), utc(2026, 6, 1)) == [
        utc(2026, 5, 1, 10), utc(2026, 5, 2, 10), utc(2026, 5, 3, 10)]
    assert schedule.next_after(utc(2026, 5, 3, 10)) is None


def test_until_without_offset_is_a_wall_time_in_the_zone() -> None:
    schedule = parse_schedule({**daily("10:00", "Asia/Tashkent"), "until": "2026-05-02T09:59"})
    assert schedule.occurrences(utc(2026, 5, 1), utc(2026, 6, 1)) == [utc(2026, 5, 1, 5)]


def test_occurrences_are_half_open_and_may_be_limited() -> None:
    schedule = parse_schedule(daily("10:00", "UTC"))
    assert schedule.occurrences(utc(2026, 5, 1, 10), utc(2026, 5, 3, 10)) == [utc(2026, 5, 1, 10), utc(2026, 5, 2, 10)]
    assert len(schedule.occurrences(utc(2026, 1, 1), utc(2027, 1, 1), limit=5)) == 5


def test_naive_moments_are_taken_as_utc() -> None:
    schedule = parse_schedule(daily("10:00", "UTC"))
    assert schedule.next_after(datetime(2026, 5, 1, 10)) == utc(2026, 5, 2, 10)


# --- time zones and DST ----------------------------------------------------------------------

def test_a_berlin_morning_is_earlier_in_utc_in_summer() -> None:
    schedule = parse_schedule(daily("10:00", "Europe/Berlin"))
    assert schedule.first(utc(2026, 1, 15)) == utc(2026, 1, 15, 9)
    assert schedule.first(utc(2026, 7, 15)) == utc(2026, 7, 15, 8)


def test_the_utc_time_moves_on_the_day_clocks_change() -> None:
    schedule = parse_schedule(daily("10:00", "Europe/Berlin"))  # summer time from 2026-03-29
    assert schedule.occurrences(utc(2026, 3, 28), utc(2026, 3, 30)) == [utc(2026, 3, 28, 9), utc(2026, 3, 29, 8)]


def test_a_time_in_the_spring_gap_fires_when_the_gap_ends_berlin() -> None:
    schedule = parse_schedule(daily("02:30", "Europe/Berlin"))  # 02:00-03:00 does not exist on 2026-03-29
    assert schedule.first(utc(2026, 3, 29)) == utc(2026, 3, 29, 1)  # 03:00 CEST


def test_a_time_in_the_spring_gap_fires_when_the_gap_ends_new_york() -> None:
    schedule = parse_schedule(daily("02:30", "America/New_York"))  # 02:00-03:00 skipped on 2026-03-08
    assert schedule.first(utc(2026, 3, 8)) == utc(2026, 3, 8, 7)  # 03:00 EDT


def test_cron_times_inside_the_gap_fire_once_when_it_ends() -> None:
    schedule = parse_schedule({"kind": "cron", "cron": "*/20 2 * * *", "timezone": "Europe/Berlin"})
    assert schedule.occurrences(utc(2026, 3, 28, 23), utc(2026, 3, 29, 3)) == [utc(2026, 3, 29, 1)]


def test_an_ambiguous_time_fires_once_at_its_first_occurrence_berlin() -> None:
    schedule = parse_schedule(daily("02:30", "Europe/Berlin"))  # 02:00-03:00 happens twice on 2026-10-25
    assert schedule.occurrences(utc(2026, 10, 24, 12), utc(2026, 10, 26, 12)) == [
        utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]  # 02:30 CEST, then 02:30 CET


def test_an_ambiguous_time_fires_once_at_its_first_occurrence_new_york() -> None:
    schedule = parse_schedule(daily("01:30", "America/New_York"))  # 01:00-02:00 twice on 2026-11-01
    assert schedule.occurrences(utc(2026, 10, 31, 12), utc(2026, 11, 2, 12)) == [
        utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)]  # 01:30 EDT, then 01:30 EST


def test_next_after_during_the_repeated_hour_does_not_fire_again() -> None:
    schedule = parse_schedule({"kind": "cron", "cron": "*/20 2 * * *", "timezone": "Europe/Berlin"})
    second_pass = utc(2026, 10, 25, 1, 10)  # 02:10 CET, after 02:00-02:40 CEST already fired
    assert schedule.next_after(second_pass) == utc(2026, 10, 26, 1)


# --- describe and round trip -------------------------------------------------------------------

def test_describe_weekly() -> None:
    spec = {"kind": "weekly", "days": ["thu", "mon"], "time": "10:00", "timezone": "Asia/Tashkent"}
    assert parse_schedule(spec).describe() == "every Monday and Thursday at 10:00 Asia/Tashkent"


def test_describe_monthly_mentions_shorter_months() -> None:
    spec = {"kind": "monthly", "day": 31, "time": "09:30", "until": "2026-12-31T23:59"}
    assert parse_schedule(spec).describe() == (
        "on day 31 of every month (the last day in shorter months) at 09:30 UTC until 2026-12-31 23:59 UTC")


@pytest.mark.parametrize("spec", [
    {"kind": "now"},
    {"kind": "at", "at": "2026-12-01T10:00", "timezone": "Asia/Tashkent"},
    {"kind": "at", "at": "2026-12-01T10:00+03:00"},
    {"kind": "cron", "cron": "0 10 * * 1-5", "timezone": "Europe/Berlin", "until": "2027-01-01T00:00"},
    {"kind": "weekly", "days": ["Friday", "MON"], "time": "7:05"},
    {"kind": "monthly", "day": 15, "time": "09:30"},
])
def test_to_dict_parses_back_to_the_same_schedule(spec: dict) -> None:
    schedule = parse_schedule(spec)
    assert parse_schedule(schedule.to_dict()) == schedule


def test_to_dict_is_canonical() -> None:
    spec = {"kind": "weekly", "days": ["Friday", "MON", "mon"], "time": "7:05"}
    assert parse_schedule(spec).to_dict() == {"kind": "weekly", "timezone": "UTC", "days": ["mon", "fri"],
                                              "time": "07:05"}


# --- validation ------------------------------------------------------------------------------

@pytest.mark.parametrize(("spec", "names"), [
    ({"kind": "hourly"}, "kind"),
    ({"kind": "cron", "cron": "0 25 * * *"}, "cron"),
    ({"kind": "cron", "cron": "0 10 * * * *"}, "cron: expected five fields"),
    ({"kind": "cron", "cron": "0 0 30 2 *"}, "never fires"),
    ({"kind": "daily", "time": "10:00", "timezone": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus'"),
    ({"kind": "daily", "time": "25:00"}, "time: '25:00' is not a time of day"),
    ({"kind": "daily", "time": "10am"}, "time: expected HH:MM"),
    ({"kind": "daily"}, "time"),
    ({"kind": "weekly", "days": ["mon", "funday"], "time": "10:00"}, "days: 'funday' is not a weekday"),
    ({"kind": "weekly", "days": [], "time": "10:00"}, "days"),
    ({"kind": "monthly", "day": 32, "time": "10:00"}, "day: 32"),
    ({"kind": "monthly", "day": True, "time": "10:00"}, "day"),
    ({"kind": "at", "at": "tomorrow"}, "at: 'tomorrow' is not an ISO date-time"),
    ({"kind": "at"}, "at"),
    ({"kind": "daily", "time": "10:00", "until": "soon"}, "until"),
    ({"kind": "at", "at": "2026-12-01T10:00", "until": "2027-01-01T00:00"}, "until: not a key"),
    ({"kind": "daily", "time": "10:00", "tz": "UTC"}, "tz: not a key"),
])
def test_invalid_specs_name_the_key_and_why(spec: dict, names: str) -> None:
    with pytest.raises(ScheduleError, match=names):
        parse_schedule(spec)


def test_schedule_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_schedule({"kind": "daily", "time": "25:00"})


def test_an_unknown_default_timezone_is_reported_as_timezone() -> None:
    with pytest.raises(ScheduleError, match="timezone"):
        parse_schedule({"kind": "daily", "time": "10:00"}, default_timezone="Nowhere/Town")


def test_schedules_are_frozen() -> None:
    schedule = parse_schedule(daily("10:00", "UTC"))
    with pytest.raises(AttributeError):
        schedule.kind = "now"  # type: ignore[misc]
