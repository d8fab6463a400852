"""Runs whose time passed while no scheduler was up: launch them late, or skip them and say why.

A scheduler that restarts after an outage finds the occurrences it slept through (due_runs) and
asks, for each, whether it is still worth sending (decide): a "good morning" campaign launched at
15:00 would do more harm than good, so a run later than its grace is skipped, with a reason kept
on the run for whoever wonders where Tuesday's message went.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from engage.engine.scheduler.local_time import as_utc
from engage.engine.scheduler.schedule import Schedule


@dataclass(frozen=True)
class Decision:
    launch: bool
    late_by: timedelta  # how late the run is (zero when not late), kept on the run either way
    reason: str | None  # why it is skipped; None when launched


def decide(due: datetime, now: datetime, grace: timedelta) -> Decision:
    """Launch a run due at `due` if it is at most `grace` late at `now`, else skip it. A run not
    yet due is not late: launch, late by zero (when to launch it is the caller's business)."""
    if grace < timedelta(0):
        raise ValueError(f"grace must not be negative, got {grace}")
    late_by = max(as_utc(now) - as_utc(due), timedelta(0))
    if late_by <= grace:
        return Decision(launch=True, late_by=late_by, reason=None)
    reason = f"missed by {human_duration(late_by)} (grace {human_duration(grace)}): no scheduler was running"
    return Decision(launch=False, late_by=late_by, reason=reason)


def due_runs(schedule: Schedule, last_run: datetime | None, created: datetime, now: datetime,
             limit: int = 100) -> list[datetime]:
    """Every occurrence strictly after `last_run` (at or after `created` when it never ran) and at
    or before `now`, oldest first, at most `limit` of them. After a long outage of a frequent
    schedule there may be more: the caller records these (launched or skipped) and asks again,
    so each missed run is accounted for and no call walks an unbounded list."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    now = as_utc(now)
    instant = schedule.first(created) if last_run is None else schedule.next_after(last_run)
    runs: list[datetime] = []
    while instant is not None and instant <= now and len(runs) < limit:
        runs.append(instant)
        instant = schedule.next_after(instant)
    return runs


def human_duration(span: timedelta) -> str:
    """ "3h 12m", "2d 5h", "45s": minutes are enough for people once a span passes a minute."""
    seconds = int(span.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)}s"
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{value}{unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if value]
    return " ".join(parts)
