"""Quiet hours in the recipient's zone: messages due inside are held until the window ends."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from engage.engine.scheduler.quiet_hours import QuietHours, parse_quiet_hours

NIGHT = QuietHours(time(21, 0), time(9, 0))
LUNCH = QuietHours(time(13, 0), time(14, 0))


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- parsing -----------------------------------------------------------------------------------

def test_parse_a_window_crossing_midnight() -> None:
    assert parse_quiet_hours("21:00-09:00") == NIGHT


def test_parse_accepts_an_en_dash_and_spaces() -> None:
    assert parse_quiet_hours(" 13:00 – 14:00 ") == LUNCH


@pytest.mark.parametrize("text", ["", "   ", None])
def test_no_text_means_no_quiet_hours(text: str | None) -> None:
    assert parse_quiet_hours(text) is None


def test_str_is_the_stored_form() -> None:
    assert str(parse_quiet_hours("9:05-7:00")) == "09:05-07:00"


@pytest.mark.parametrize(("text", "problem"), [
    ("21:00", "expected HH:MM-HH:MM"),
    ("nine to five", "expected HH:MM-HH:MM"),
    ("25:00-09:00", "start 25:00 is not a time of day"),
    ("21:00-09:60", "end 09:60 is not a time of day"),
    ("09:00-09:00", "both 09:00"),
])
def test_parse_names_the_problem(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_quiet_hours(text)


def test_an_empty_window_cannot_be_built() -> None:
    with pytest.raises(ValueError, match="empty"):
        QuietHours(time(9, 0), time(9, 0))


# --- crossing midnight -------------------------------------------------------------------------

def test_late_evening_is_quiet() -> None:
    assert NIGHT.is_quiet(utc(2026, 5, 1, 22), "UTC")


def test_early_morning_is_quiet() -> None:
    assert NIGHT.is_quiet(utc(2026, 5, 1, 3), "UTC")


def test_daytime_is_allowed() -> None:
    assert not NIGHT.is_quiet(utc(2026, 5, 1, 12), "UTC")
    assert NIGHT.next_allowed(utc(2026, 5, 1, 12), "UTC") == utc(2026, 5, 1, 12)


def test_the_start_instant_is_quiet() -> None:
    assert NIGHT.is_quiet(utc(2026, 5, 1, 21), "UTC")


def test_the_end_instant_is_allowed() -> None:
    assert not NIGHT.is_quiet(utc(2026, 5, 1, 9), "UTC")


def test_held_in_the_evening_until_the_next_morning() -> None:
    assert NIGHT.next_allowed(utc(2026, 5, 1, 22, 30), "UTC") == utc(2026, 5, 2, 9)


def test_held_after_midnight_until_that_morning() -> None:
    assert NIGHT.next_allowed(utc(2026, 5, 2, 0, 30), "UTC") == utc(2026, 5, 2, 9)


# --- not crossing midnight ---------------------------------------------------------------------

def test_a_daytime_window_holds_until_its_end_the_same_day() -> None:
    assert LUNCH.is_quiet(utc(2026, 5, 1, 13, 30), "UTC")
    assert LUNCH.next_allowed(utc(2026, 5, 1, 13, 30), "UTC") == utc(2026, 5, 1, 14)


def test_a_daytime_window_leaves_the_night_alone() -> None:
    assert not LUNCH.is_quiet(utc(2026, 5, 1, 23), "UTC")
    assert not LUNCH.is_quiet(utc(2026, 5, 1, 2), "UTC")


# --- zones -------------------------------------------------------------------------------------

def test_the_window_is_in_the_recipients_zone() -> None:
    # 17:00 UTC is 22:00 in Tashkent (UTC+5, no DST): quiet there, held until 09:00 Tashkent = 04:00 UTC
    assert NIGHT.is_quiet(utc(2026, 5, 1, 17), "Asia/Tashkent")
    assert not NIGHT.is_quiet(utc(2026, 5, 1, 17), "Europe/London")
    assert NIGHT.next_allowed(utc(2026, 5, 1, 17), "Asia/Tashkent") == utc(2026, 5, 2, 4)


def test_tashkent_keeps_the_same_utc_window_all_year() -> None:
    assert NIGHT.next_allowed(utc(2026, 1, 10, 20), "Asia/Tashkent") == utc(2026, 1, 11, 4)
    assert NIGHT.next_allowed(utc(2026, 7, 10, 20), "Asia/Tashkent") == utc(2026, 7, 11, 4)


def test_an_unknown_zone_uses_the_default() -> None:
    assert NIGHT.is_quiet(utc(2026, 5, 1, 17), "Nowhere/Town", default="Asia/Tashkent")
    assert NIGHT.is_quiet(utc(2026, 5, 1, 17), "", default="Asia/Tashkent")


# --- DST in Europe/Berlin ----------------------------------------------------------------------

SPRING_GAP = QuietHours(time(1, 0), time(3, 30))  # over 02:00-03:00 that does not exist on 2026-03-29


def test_spring_window_starts_before_the_gap() -> None:
    assert SPRING_GAP.is_quiet(utc(2026, 3, 29, 0, 0), "Europe/Berlin")  # 01:00 CET


def test_spring_window_continues_after_the_gap() -> None:
    assert SPRING_GAP.is_quiet(utc(2026, 3, 29, 1, 0), "Europe/Berlin")  # 03:00 CEST


def test_spring_window_is_shorter_by_the_gap() -> None:
    # 01:00 CET (00:00 UTC) to 03:30 CEST (01:30 UTC): one and a half hours of real time
    assert SPRING_GAP.next_allowed(utc(2026, 3, 29, 0, 0), "Europe/Berlin") == utc(2026, 3, 29, 1, 30)
    assert not SPRING_GAP.is_quiet(utc(2026, 3, 29, 1, 30), "Europe/Berlin")


def test_an_end_inside_the_gap_is_the_end_of_the_gap() -> None:
    window = QuietHours(time(22, 0), time(2, 30))  # 02:30 does not exist on 2026-03-29
    assert window.next_allowed(utc(2026, 3, 28, 23, 0), "Europe/Berlin") == utc(2026, 3, 29, 1)  # 03:00 CEST


def test_fall_back_night_is_an_hour_longer() -> None:
    # 21:00 CEST on 24 Oct (19:00 UTC) to 09:00 CET on 25 Oct (08:00 UTC): thirteen hours
    assert NIGHT.is_quiet(utc(2026, 10, 24, 19), "Europe/Berlin")
    assert NIGHT.next_allowed(utc(2026, 10, 24, 19), "Europe/Berlin") == utc(2026, 10, 25, 8)
    assert NIGHT.is_quiet(utc(2026, 10, 25, 7, 59), "Europe/Berlin")


def test_fall_back_window_ends_at_the_first_occurrence_of_its_end() -> None:
    window = QuietHours(time(21, 0), time(2, 30))
    assert window.next_allowed(utc(2026, 10, 25, 0, 15), "Europe/Berlin") == utc(2026, 10, 25, 0, 30)  # CEST


def test_the_repeated_hour_after_the_window_is_not_quiet_again() -> None:
    window = QuietHours(time(21, 0), time(2, 30))
    assert not window.is_quiet(utc(2026, 10, 25, 1, 15), "Europe/Berlin")  # 02:15 CET, second time round


def test_a_window_starting_in_the_repeated_hour_covers_both_passes() -> None:
    window = QuietHours(time(2, 15), time(4, 0))  # from 02:15 CEST (00:15 UTC) to 04:00 CET (03:00 UTC)
    assert window.is_quiet(utc(2026, 10, 25, 1, 0), "Europe/Berlin")  # 02:00 CET
    assert window.next_allowed(utc(2026, 10, 25, 0, 15), "Europe/Berlin") == utc(2026, 10, 25, 3)


def test_next_allowed_is_never_quiet() -> None:
    instants = [utc(2026, 10, 24, h, m) for h in range(24) for m in (0, 20, 40)]
    instants += [utc(2026, 3, 28, h, m) for h in range(24) for m in (0, 20, 40)]
    for window in (NIGHT, LUNCH, SPRING_GAP, QuietHours(time(9, 0), time(8, 59))):
        for instant in instants:
            allowed = window.next_allowed(instant, "Europe/Berlin")
            assert allowed >= instant
            assert not window.is_quiet(allowed, "Europe/Berlin")
