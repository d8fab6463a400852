"""A campaign's schedule: a validated JSON spec, and the UTC instants it fires at.

Kinds (every one may carry "timezone", default the caller's `default_timezone`):
    {"kind": "now"}                                  once, whenever it is first asked
    {"kind": "at", "at": "2026-12-01T10:00"}         once; a wall time in the zone, or ISO with offset
    {"kind": "cron", "cron": "0 10 * * 1-5"}         five-field cron, read on the zone's wall clock
    {"kind": "daily", "time": "10:00"}
    {"kind": "weekly", "days": ["mon", "thu"], "time": "10:00"}
    {"kind": "monthly", "day": 31, "time": "09:30"}  a month without that day fires on its last day
Recurring kinds take "until" (ISO date-time, a wall time in the zone unless it has an offset): the
last occurrence is at or before it.

Occurrences are wall times in the schedule's zone turned into UTC (local_time.wall_to_utc): a
daily 10:00 in Europe/Berlin is 09:00 UTC in winter and 08:00 UTC in summer; a wall time inside a
spring-forward gap fires at the end of the gap, and one in the fall-back hour fires once, the
first time. Naive datetimes passed in are taken as UTC; every datetime returned is UTC aware.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from typing import Any
from zoneinfo import ZoneInfo

from croniter import CroniterBadDateError, croniter

from engage.engine.scheduler.local_time import as_utc, wall_to_utc, zone

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")  # not locale's
KINDS = ("now", "at", "cron", "daily", "weekly", "monthly")
_KEYS = {"now": set(), "at": {"at"}, "cron": {"cron", "until"}, "daily": {"time", "until"},
         "weekly": {"days", "time", "until"}, "monthly": {"day", "time", "until"}}
_WEEKDAY_NAMES = {**{d: d for d in WEEKDAYS}, **{n.lower(): d for d, n in zip(WEEKDAYS, DAY_NAMES, strict=True)}}
_TIME = re.compile(r"(\d{1,2}):(\d{2})")


class ScheduleError(ValueError):
    """A schedule spec that cannot be used; the message names the key and why."""


@dataclass(frozen=True)
class Schedule:
    kind: str
    timezone: str
    at: datetime | None = None  # "at": naive wall time in `timezone`, or aware as given
    cron: str | None = None
    time: dt_time | None = None  # daily, weekly, monthly: the wall time
    days: tuple[str, ...] = ()
    day: int | None = None
    until: datetime | None = None  # naive wall time in `timezone`, or aware as given

    @property
    def recurring(self) -> bool:
        return self.kind not in ("now", "at")

    @property
    def zone(self) -> ZoneInfo:
        return zone(self.timezone)

    def first(self, after: datetime) -> datetime | None:
        """The first occurrence at or after `after` (a "now" schedule: `after` itself); None when
        there is none (an "at" already past, or past "until")."""
        after = as_utc(after)
        if self.kind == "now":
            return after
        return self.next_after(after - timedelta(microseconds=1))

    def next_after(self, moment: datetime) -> datetime | None:
        """The first occurrence strictly after `moment`; None when the schedule is finished (a
        one-off already used, a recurring one past "until")."""
        moment = as_utc(moment)
        if self.kind == "now":
            return None
        if self.kind == "at":
            instant = self._instant(self.at)
            return instant if instant > moment else None
        tz, until = self.zone, self._instant(self.until)
        # Wall-to-UTC never goes backwards, so no candidate before `moment`'s wall time can be after
        # it; candidates from there on may still not be (the repeated fall-back hour), hence the test.
        try:
            for wall in self._walls_from(moment.astimezone(tz).replace(tzinfo=None)):
                instant = wall_to_utc(wall, tz)
                if until is not None and instant > until:
                    return None
                if instant > moment:
                    return instant
        except CroniterBadDateError:  # a cron expression with no further date
            return None
        return None

    def occurrences(self, start: datetime, end: datetime, *, limit: int | None = None) -> list[datetime]:
        """Every occurrence in [start, end), oldest first; at most `limit` when given."""
        found: list[datetime] = []
        end = as_utc(end)
        instant = self.first(start)
        while instant is not None and instant < end and (limit is None or len(found) < limit):
            found.append(instant)
            instant = self.next_after(instant)
        return found

    def describe(self) -> str:
        """For people: "every Monday and Thursday at 10:00 Asia/Tashkent"."""
        at = f"at {self.time:%H:%M} {self.timezone}" if self.time else ""
        if self.kind == "now":
            return "now"
        if self.kind == "at":
            when = self.at.isoformat(sep=" ", timespec="minutes")
            return f"once at {when}" + ("" if self.at.tzinfo else f" {self.timezone}")
        if self.kind == "cron":
            text = f"on cron '{self.cron}' in {self.timezone}"
        elif self.kind == "daily":
            text = f"every day {at}"
        elif self.kind == "weekly":
            names = [DAY_NAMES[WEEKDAYS.index(d)] for d in self.days]
            listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            text = f"every {listed} {at}"
        else:
            shorter = " (the last day in shorter months)" if self.day > 28 else ""
            text = f"on day {self.day} of every month{shorter} {at}"
        if self.until is not None:
            until = self.until.isoformat(sep=" ", timespec="minutes")
            text += f" until {until}" + ("" if self.until.tzinfo else f" {self.timezone}")
        return text

    def to_dict(self) -> dict[str, Any]:
        """The canonical spec: parse_schedule(s.to_dict()) == s."""
        spec: dict[str, Any] = {"kind": self.kind, "timezone": self.timezone}
        if self.at is not None:
            spec["at"] = self.at.isoformat()
        if self.cron is not None:
            spec["cron"] = self.cron
        if self.days:
            spec["days"] = list(self.days)
        if self.day is not None:
            spec["day"] = self.day
        if self.time is not None:
            spec["time"] = f"{self.time:%H:%M}"
        if self.until is not None:
            spec["until"] = self.until.isoformat()
        return spec

    def _instant(self, value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return None if value is None else as_utc(value)
        return wall_to_utc(value, self.zone)

    def _walls_from(self, start: datetime) -> Iterator[datetime]:
        """Candidate wall times in increasing order, none missed at or after `start` (a few
        earlier ones may come first)."""
        if self.kind == "cron":
            it = croniter(self.cron, start.replace(second=0, microsecond=0) - timedelta(minutes=1))
            while True:
                yield it.get_next(datetime)
        day = start.date()
        if self.kind == "monthly":
            year, month = day.year, day.month
            while True:
                last = calendar.monthrange(year, month)[1]
                yield datetime.combine(date(year, month, min(self.day, last)), self.time)
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        while True:
            if self.kind == "daily" or WEEKDAYS[day.weekday()] in self.days:
                yield datetime.combine(day, self.time)
            day += timedelta(days=1)


def parse_schedule(spec: dict[str, Any], *, default_timezone: str = "UTC") -> Schedule:
    """Validate a spec into a Schedule, or raise ScheduleError naming the key and why."""
    if not isinstance(spec, dict):
        raise ScheduleError(f"schedule: expected an object, got {type(spec).__name__}")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ScheduleError(f"kind: {kind!r} is not one of {', '.join(KINDS)}")
    unknown = set(spec) - _KEYS[kind] - {"kind", "timezone"}
    if unknown:
        raise ScheduleError(f"{sorted(unknown)[0]}: not a key of a {kind!r} schedule")
    name = spec.get("timezone") or default_timezone
    try:
        tz = zone(name)
    except ValueError as exc:
        raise ScheduleError(f"timezone: {exc}") from None
    fields: dict[str, Any] = {"kind": kind, "timezone": tz.key}
    if kind == "at":
        fields["at"] = _moment(spec, "at", required=True)
    if kind == "cron":
        fields["cron"] = _cron(spec.get("cron"))
    if kind in ("daily", "weekly", "monthly"):
        fields["time"] = _time(spec.get("time"))
    if kind == "weekly":
        fields["days"] = _days(spec.get("days"))
    if kind == "monthly":
        day = spec.get("day")
        if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 31:
            raise ScheduleError(f"day: {day!r} is not a day of the month (1-31)")
        fields["day"] = day
    if "until" in spec:
        fields["until"] = _moment(spec, "until", required=False)
    return Schedule(**fields)


def _moment(spec: dict[str, Any], key: str, *, required: bool) -> datetime | None:
    value = spec.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise ScheduleError(f"{key}: expected an ISO date-time such as 2026-12-01T10:00, got {value!r}")
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise ScheduleError(f"{key}: {value!r} is not an ISO date-time such as 2026-12-01T10:00") from None


def _time(value: Any) -> dt_time:
    match = _TIME.fullmatch(value.strip()) if isinstance(value, str) else None
    if not match:
        raise ScheduleError(f"time: expected HH:MM, got {value!r}")
    hour, minute = int(match[1]), int(match[2])
    if hour > 23 or minute > 59:
        raise ScheduleError(f"time: {value!r} is not a time of day (00:00-23:59)")
    return dt_time(hour, minute)


def _days(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ScheduleError(f"days: expected a non-empty list of weekdays such as ['mon', 'thu'], got {value!r}")
    days = set()
    for item in value:
        name = _WEEKDAY_NAMES.get(item.strip().lower()) if isinstance(item, str) else None
        if name is None:
            raise ScheduleError(f"days: {item!r} is not a weekday (mon, tue, wed, thu, fri, sat, sun)")
        days.add(name)
    return tuple(d for d in WEEKDAYS if d in days)


def _cron(value: Any) -> str:
    if not isinstance(value, str) or len(value.split()) != 5:
        raise ScheduleError(f"cron: expected five fields (minute hour day month weekday), got {value!r}")
    expression = " ".join(value.split())
    if not croniter.is_valid(expression):
        raise ScheduleError(f"cron: {value!r} is not a valid cron expression")
    try:
        croniter(expression, datetime(2000, 1, 1)).get_next(datetime)
    except CroniterBadDateError:
        raise ScheduleError(f"cron: {value!r} never fires") from None
    return expression
