"""A schedule in the words an approver or a marketer reads it in: "Every Monday and Thursday at
10:00, Asia/Tashkent time", never the JSON spec. The zone is always said: the installation's
default zone is not the reader's."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from engage.engine.scheduler.schedule import DAY_NAMES, WEEKDAYS, ScheduleError, parse_schedule


def in_words(spec: dict[str, Any] | None, *, default_timezone: str) -> str:
    """The schedule said plainly; for a spec that cannot be read, why."""
    if spec is None:
        return "As soon as it may be sent (no schedule)"
    try:
        s = parse_schedule(spec, default_timezone=default_timezone)
    except ScheduleError as exc:
        return f"A schedule that cannot be read: {exc}"
    zone = f"{s.timezone} time"
    at = s.time.strftime("%H:%M") if s.time else ""
    if s.kind == "now":
        return "As soon as it may be sent"
    if s.kind == "at":
        return f"Once, on {_moment(s.at)}" + ("" if s.at and s.at.tzinfo else f", {zone}")
    if s.kind == "cron":
        said = f"On the cron schedule “{s.cron}”, {zone}"
    elif s.kind == "daily":
        said = f"Every day at {at}, {zone}"
    elif s.kind == "weekly":
        names = [DAY_NAMES[WEEKDAYS.index(d)] for d in s.days]
        said = f"Every {_joined(names)} at {at}, {zone}"
    else:
        said = f"On day {s.day} of every month at {at}, {zone}" + (
            " (the last day of a shorter month)" if (s.day or 0) > 28 else "")
    return said + (f", until {_moment(s.until)}" if s.until else "")


def _moment(moment: datetime | None) -> str:
    if moment is None:
        return ""
    text = moment.strftime("%Y-%m-%d %H:%M")
    return f"{text} UTC{moment.strftime('%z')[:3]}:{moment.strftime('%z')[3:]}" if moment.tzinfo else text


def _joined(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
