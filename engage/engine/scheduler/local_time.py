"""Wall-clock times in a zone, turned into UTC instants: the one place where DST is decided.

"Send at 10:00 in each recipient's own time zone" means one UTC instant per distinct zone. Every
wall time here resolves by the same two rules, also used by schedules and quiet hours:

- a wall time that does not exist (the spring-forward gap, e.g. 02:30 in Europe/Berlin on the last
  Sunday of March) happens at the first valid instant after the gap, i.e. the transition itself
  (03:00 local): the clock reached "at least 02:30" then, and a message is late, never early or lost;
- a wall time that happens twice (the fall-back hour) happens once, at its first occurrence
  (fold=0), so a recurring run is never launched twice in one night.

Recipients' zones come from subscriber data and may be empty or unknown: those fall back to a
default zone (the campaign's) rather than failing a whole run.

Naive datetimes given as instants are taken as UTC (SQLite returns timestamps that way).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or ValueError saying it is unknown (ZoneInfo's own errors vary:
    KeyError for unknown names, ValueError or OSError for malformed ones)."""
    if not isinstance(name, str):
        raise ValueError(f"expected a time zone name, got {name!r}")
    if not name.strip():
        raise ValueError("time zone is empty")
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def zone_or_default(name: str | None, default: str) -> ZoneInfo:
    """A recipient's zone, or `default` when theirs is empty or unknown; a bad default is a
    configuration error and raises ValueError."""
    if name:
        try:
            return zone(name)
        except ValueError:
            pass
    return zone(default)


def as_utc(instant: datetime) -> datetime:
    """`instant` as an aware UTC datetime; naive ones are taken as UTC already."""
    if instant.tzinfo is None:
        return instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)


def wall_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    """The UTC instant a naive wall time `wall` happens in `tz`, by the gap and fold rules above."""
    local = wall.replace(tzinfo=tz, fold=0)
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == wall.replace(fold=0):
        return instant  # exists (fold=0 is the first of two if ambiguous)
    # In a gap: fold=0 read it with the offset before the jump, fold=1 with the one after, so the
    # transition lies between those two readings; find it to the second (transitions are whole
    # seconds), as the first second whose offset differs from the one before the gap.
    readings = sorted((instant, wall.replace(tzinfo=tz, fold=1).astimezone(UTC)))
    low, high = math.floor(readings[0].timestamp()), math.ceil(readings[1].timestamp())
    before = datetime.fromtimestamp(low, UTC).astimezone(tz).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(tz).utcoffset() == before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def local_instant(day: date, wall: time, tz: str | None, default: str = "UTC") -> datetime:
    """The UTC instant of wall time `wall` on `day` in zone `tz` (or `default` when `tz` is empty
    or unknown)."""
    return wall_to_utc(datetime.combine(day, wall.replace(tzinfo=None)), zone_or_default(tz, default))


def local_send_times(day: date, wall: time, zones: Iterable[str], default: str) -> dict[str, datetime]:
    """For each zone name given (as recipients carry it, possibly empty or unknown), the UTC
    instant of `wall` on `day` there. Computed once per distinct zone: callers group recipients
    by zone, and a run may name the same few zones for millions of people."""
    times: dict[str, datetime] = {}
    by_zone: dict[str, datetime] = {}
    for name in zones:
        if name in times:
            continue
        resolved = zone_or_default(name, default)
        if resolved.key not in by_zone:
            by_zone[resolved.key] = wall_to_utc(datetime.combine(day, wall.replace(tzinfo=None)), resolved)
        times[name] = by_zone[resolved.key]
    return times


def run_day(occurrence_utc: datetime, schedule_tz: str) -> date:
    """The calendar day a run belongs to, in the schedule's zone: "10:00 local" for that run means
    10:00 on this day in each recipient's zone, whatever the date is in UTC."""
    return as_utc(occurrence_utc).astimezone(zone(schedule_tz)).date()


def not_before(local: datetime, now: datetime) -> datetime:
    """When a recipient's message may go: at their local time, or at once when that time has
    already passed as the run starts (a recipient east of the schedule's zone, whose 10:00 came
    first). Sending now rather than tomorrow keeps the run's day; the message is late, not lost."""
    return max(as_utc(local), as_utc(now))
