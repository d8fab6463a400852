"""Runs whose time passed while no scheduler was running: launched late within grace, else skipped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from engage.engine.scheduler.missed import Decision, decide, due_runs
from engage.engine.scheduler.schedule import parse_schedule

GRACE = timedelta(minutes=15)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# --- decide ------------------------------------------------------------------------------------

def test_a_run_on_time_launches() -> None:
    assert decide(utc(2026, 5, 1, 10), utc(2026, 5, 1, 10), GRACE) == Decision(True, timedelta(0), None)


def test_a_run_late_within_grace_launches_and_records_how_late() -> None:
    decision = decide(utc(2026, 5, 1, 10), utc(2026, 5, 1, 10, 7), GRACE)
    assert decision.launch
    assert decision.late_by == timedelta(minutes=7)
    assert decision.reason is None


def test_a_run_exactly_at_the_grace_limit_launches() -> None:
    assert decide(utc(2026, 5, 1, 10), utc(2026, 5, 1, 10, 15), GRACE).launch


def test_a_run_later_than_grace_is_skipped_with_a_reason() -> None:
    decision = decide(utc(2026, 5, 1, 10), utc(2026, 5, 1, 13, 12, 40), GRACE)
    assert not decision.launch
    assert decision.late_by == timedelta(hours=3, minutes=12, seconds=40)
    assert decision.reason == "missed by 3h 12m (grace 15m): no scheduler was running"


def test_a_skip_by_days_says_days() -> None:
    decision = decide(utc(2026, 5, 1, 10), utc(2026, 5, 3, 11), timedelta(0))
    assert decision.reason == "missed by 2d 1h (grace 0s): no scheduler was running"


def test_a_run_not_yet_due_is_not_late() -> None:
    assert decide(utc(2026, 5, 1, 10), utc(2026, 5, 1, 9), GRACE) == Decision(True, timedelta(0), None)


def test_negative_grace_is_an_error() -> None:
    with pytest.raises(ValueError, match="grace"):
        decide(utc(2026, 5, 1, 10), utc(2026, 5, 1, 10), -GRACE)


# --- due_runs ----------------------------------------------------------------------------------

DAILY = parse_schedule({"kind": "daily", "time": "10:00", "timezone": "UTC"})


def test_every_run_since_the_last_one_is_due_oldest_first() -> None:
    runs = due_runs(DAILY, last_run=utc(2026, 5, 1, 10), created=utc(2026, 4, 1), now=utc(2026, 5, 4, 12))
    assert runs == [utc(2026, 5, 2, 10), utc(2026, 5, 3, 10), utc(2026, 5, 4, 10)]


def test_a_run_due_exactly_now_is_included() -> None:
    runs = due_runs(DAILY, last_run=utc(2026, 5, 1, 10), created=utc(2026, 4, 1), now=utc(2026, 5, 2, 10))
    assert runs == [utc(2026, 5, 2, 10)]


def test_nothing_is_due_before_the_next_occurrence() -> None:
    assert due_runs(DAILY, last_run=utc(2026, 5, 1, 10), created=utc(2026, 4, 1), now=utc(2026, 5, 2, 9)) == []


def test_a_schedule_never_run_counts_from_its_creation() -> None:
    runs = due_runs(DAILY, last_run=None, created=utc(2026, 5, 1, 11), now=utc(2026, 5, 3, 12))
    assert runs == [utc(2026, 5, 2, 10), utc(2026, 5, 3, 10)]


def test_due_runs_are_capped_by_limit_keeping_the_oldest() -> None:
    every_minute = parse_schedule({"kind": "cron", "cron": "* * * * *"})
    runs = due_runs(every_minute, last_run=utc(2026, 5, 1), created=utc(2026, 4, 1), now=utc(2026, 5, 2), limit=3)
    assert runs == [utc(2026, 5, 1, 0, 1), utc(2026, 5, 1, 0, 2), utc(2026, 5, 1, 0, 3)]


def test_the_default_limit_is_one_hundred() -> None:
    every_minute = parse_schedule({"kind": "cron", "cron": "* * * * *"})
    assert len(due_runs(every_minute, last_run=None, created=utc(2026, 5, 1), now=utc(2026, 5, 2))) == 100


def test_a_one_off_is_due_once() -> None:
    once = parse_schedule({"kind": "at", "at": "2026-05-01T10:00"})
    assert due_runs(once, last_run=None, created=utc(2026, 4, 1), now=utc(2026, 5, 2)) == [utc(2026, 5, 1, 10)]
    assert due_runs(once, last_run=utc(2026, 5, 1, 10), created=utc(2026, 4, 1), now=utc(2026, 5, 2)) == []


def test_now_is_due_at_creation_until_it_has_run() -> None:
    now_kind = parse_schedule({"kind": "now"})
    assert due_runs(now_kind, last_run=None, created=utc(2026, 5, 1), now=utc(2026, 5, 2)) == [utc(2026, 5, 1)]
    assert due_runs(now_kind, last_run=utc(2026, 5, 1), created=utc(2026, 5, 1), now=utc(2026, 5, 2)) == []


def test_due_runs_stop_at_until() -> None:
    ending = parse_schedule({"kind": "daily", "time": "10:00", "until": "2026-05-02T23:00"})
    assert due_runs(ending, last_run=None, created=utc(2026, 5, 1), now=utc(2026, 5, 9)) == [
        utc(2026, 5, 1, 10), utc(2026, 5, 2, 10)]


def test_naive_database_timestamps_are_taken_as_utc() -> None:
    runs = due_runs(DAILY, last_run=datetime(2026, 5, 1, 10), created=datetime(2026, 4, 1), now=utc(2026, 5, 2, 12))
    assert runs == [utc(2026, 5, 2, 10)]


def test_each_due_run_gets_a_decision() -> None:
    now = utc(2026, 5, 4, 10, 5)
    runs = due_runs(DAILY, last_run=utc(2026, 5, 1, 10), created=utc(2026, 4, 1), now=now)
    assert [decide(run, now, GRACE).launch for run in runs] == [False, False, True]
