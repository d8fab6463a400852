"""Sending at a wall time in each recipient's own zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from engage.engine.scheduler.local_time import local_instant, local_send_times, not_before, run_day

TEN = time(10, 0)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_local_instant_is_utc_aware() -> None:
    instant = local_instant(date(2026, 5, 1), TEN, "Asia/Tashkent")
    assert instant == utc(2026, 5, 1, 5)
    assert instant.tzinfo is UTC


def test_local_instant_follows_summer_time() -> None:
    assert local_instant(date(2026, 1, 15), TEN, "Europe/Berlin") == utc(2026, 1, 15, 9)
    assert local_instant(date(2026, 7, 15), TEN, "Europe/Berlin") == utc(2026, 7, 15, 8)


def test_a_wall_time_in_the_gap_is_the_end_of_the_gap() -> None:
    assert local_instant(date(2026, 3, 29), time(2, 30), "Europe/Berlin") == utc(2026, 3, 29, 1)  # 03:00 CEST
    assert local_instant(date(2026, 3, 8), time(2, 30), "America/New_York") == utc(2026, 3, 8, 7)  # 03:00 EDT


def test_an_ambiguous_wall_time_is_its_first_occurrence() -> None:
    assert local_instant(date(2026, 10, 25), time(2, 30), "Europe/Berlin") == utc(2026, 10, 25, 0, 30)  # CEST
    assert local_instant(date(2026, 11, 1), time(1, 30), "America/New_York") == utc(2026, 11, 1, 5, 30)  # EDT


def test_a_half_hour_gap_ends_on_the_half_hour() -> None:
    # Lord Howe Island moves its clocks by 30 minutes: 02:00 -> 02:30 on 2026-10-04
    assert local_instant(date(2026, 10, 4), time(2, 15), "Australia/Lord_Howe") == utc(2026, 10, 3, 15, 30)


@pytest.mark.parametrize("tz", ["", None, "Not/AZone", "../etc/passwd"])
def test_an_empty_or_unknown_zone_falls_back_to_the_default(tz: str | None) -> None:
    assert local_instant(date(2026, 5, 1), TEN, tz, default="Asia/Tashkent") == utc(2026, 5, 1, 5)


def test_an_unknown_default_is_an_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone"):
        local_instant(date(2026, 5, 1), TEN, "", default="Not/AZone")


def test_send_times_has_one_entry_per_zone_name_given() -> None:
    times = local_send_times(date(2026, 7, 15), TEN, ["Asia/Tashkent", "Europe/Berlin", "Asia/Tashkent", ""],
                             default="Asia/Samarkand")
    assert times == {
        "Asia/Tashkent": utc(2026, 7, 15, 5),
        "Europe/Berlin": utc(2026, 7, 15, 8),
        "": utc(2026, 7, 15, 5),  # the default, Asia/Samarkand (UTC+5)
    }


def test_send_times_accepts_any_iterable_once() -> None:
    zones = (z for z in ["America/New_York", "Europe/London"])
    times = local_send_times(date(2026, 1, 15), TEN, zones, default="UTC")
    assert times == {"America/New_York": utc(2026, 1, 15, 15), "Europe/London": utc(2026, 1, 15, 10)}


def test_run_day_is_the_date_in_the_schedules_zone() -> None:
    # 2026-05-01 20:00 UTC is already 2 May in Tashkent (UTC+5), still 1 May in New York
    assert run_day(utc(2026, 5, 1, 20), "Asia/Tashkent") == date(2026, 5, 2)
    assert run_day(utc(2026, 5, 1, 20), "America/New_York") == date(2026, 5, 1)


def test_a_local_time_still_ahead_is_kept() -> None:
    assert not_before(utc(2026, 5, 1, 8), now=utc(2026, 5, 1, 5)) == utc(2026, 5, 1, 8)


def test_a_local_time_already_passed_sends_now_not_tomorrow() -> None:
    # a run at 10:00 Berlin (08:00 UTC): Tashkent's 10:00 (05:00 UTC) has passed, so they get it at once
    run_start = utc(2026, 5, 1, 8)
    tashkent = local_instant(run_day(run_start, "Europe/Berlin"), TEN, "Asia/Tashkent")
    assert not_before(tashkent, run_start) == run_start


def test_not_before_returns_utc_aware_even_for_naive_input() -> None:
    result = not_before(datetime(2026, 5, 1, 8), now=utc(2026, 5, 1, 5) + timedelta(hours=4))
    assert result == utc(2026, 5, 1, 9)
    assert result.tzinfo is UTC
