"""Quiet hours: a daily window in the recipient's zone when nothing is sent; messages due inside it
are held until it ends, never dropped.

A window is written "21:00-09:00" (crossing midnight) or "13:00-14:00" (not); it includes its start
and excludes its end. Each local day's window is a span of real time, from that day's start wall
time to the next end wall time, both resolved like every wall time here (local_time.wall_to_utc):
a start or end inside a spring-forward gap happens when the gap ends, and one in the fall-back hour
happens at its first occurrence. So on the night the clocks go back, a window 21:00-02:30 ends at
the first 02:30, and the repeated half hour after it is not quiet again: being a span of real time
keeps is_quiet and next_allowed consistent, and holds no message for an extra day.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from engage.engine.scheduler.local_time import as_utc, wall_to_utc, zone_or_default

_WINDOW = re.compile(r"\s*(\d{1,2}):(\d{2})\s*[-\u2013]\s*(\d{1,2}):(\d{2})\s*")


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start == self.end:
            raise ValueError(f"quiet hours start and end are both {self.start:%H:%M}: the window would be empty")

    def __str__(self) -> str:
        """The stored form, "21:00-09:00"."""
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def crosses_midnight(self) -> bool:
        return self.start > self.end

    def is_quiet(self, instant_utc: datetime, tz: str | None, default: str = "UTC") -> bool:
        """Whether `instant_utc` falls inside the window in zone `tz` (`default` when `tz` is
        empty or unknown, as for recipients)."""
        return self._window_around(as_utc(instant_utc), tz, default) is not None

    def next_allowed(self, instant_utc: datetime, tz: str | None, default: str = "UTC") -> datetime:
        """`instant_utc` itself when sending is allowed then, else the UTC instant the window ends
        (the next local end time)."""
        instant = as_utc(instant_utc)
        for _ in range(3):  # a window of almost 24 h, lengthened by a DST day, may touch the next
            window = self._window_around(instant, tz, default)
            if window is None:
                return instant
            instant = window[1]
        return instant

    def _window_around(self, instant: datetime, tz: str | None, default: str) -> tuple[datetime, datetime] | None:
        """The span (start, end) of the window containing `instant`, or None. Only the windows
        opened on the local day of `instant` or the day before can contain it."""
        zone = zone_or_default(tz, default)
        today = instant.astimezone(zone).date()
        for day in (today - timedelta(days=1), today):
            start = wall_to_utc(datetime.combine(day, self.start), zone)
            end_day: date = day + timedelta(days=1) if self.crosses_midnight else day
            end = wall_to_utc(datetime.combine(end_day, self.end), zone)
            if start <= instant < end:
                return start, end
        return None


def parse_quiet_hours(text: str | None) -> QuietHours | None:
    """ "21:00-09:00" as QuietHours; "" or None: no quiet hours. Raises ValueError naming what
    is wrong."""
    if text is None or not text.strip():
        return None
    match = _WINDOW.fullmatch(text)
    if not match:
        raise ValueError(f"quiet hours {text!r}: expected HH:MM-HH:MM, such as 21:00-09:00")
    hours = [int(part) for part in match.groups()]
    for label, hour, minute in (("start", hours[0], hours[1]), ("end", hours[2], hours[3])):
        if hour > 23 or minute > 59:
            raise ValueError(f"quiet hours {text!r}: {label} {hour:02d}:{minute:02d} is not a time of day")
    return QuietHours(time(hours[0], hours[1]), time(hours[2], hours[3]))
