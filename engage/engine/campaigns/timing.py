"""Whether a campaign's schedule leaves it time to send, said when it is saved rather than found out at
approval: a send time already past, or quiet hours that cover every minute its deadline allows, is
refused with a plain sentence; a send time inside quiet hours is only a warning (the messages are
held until the quiet hours end, never dropped).

Quiet hours apply in each recipient's own zone; the check reads them in the campaign's zone (its
schedule's), the zone of most of its audience in practice: a recipient in another zone may be
held for a different stretch, which the warning says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from engage.engine.scheduler.quiet_hours import parse_quiet_hours
from engage.engine.scheduler.schedule import ScheduleError, parse_schedule
from engage.engine.users.zones import format_moment


def shown(moment: datetime, zone_name: str) -> str:
    """A UTC instant as wall time in ``zone_name``, the zone named (users.zones.format_moment)."""
    return format_moment(moment, zone_name)


def first_send(values: dict[str, Any], zone_name: str, now: datetime) -> datetime | None:
    """When the campaign would first send if submitted and approved ``now``: its schedule's first time
    from now (now for no schedule); None when the schedule has no time left, or cannot be read."""
    spec = values.get("schedule")
    if not spec:
        return now
    try:
        return parse_schedule(spec, default_timezone=zone_name).first(now)
    except ScheduleError:
        return None


def refusal(values: dict[str, Any], zone_name: str, now: datetime | None = None) -> str | None:
    """Why the checked campaign ``values`` could never send, in a sentence; None when it can."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    spec = values.get("schedule")
    first = first_send(values, zone_name, now)
    if first is None:
        if spec and spec.get("kind") == "at":
            return (f"schedule: at: {_at_shown(spec, zone_name)} is in the past (it is now {shown(now, zone_name)}); "
                    "choose a later time")
        return f"schedule: until: it ends before its first time after now ({shown(now, zone_name)}); choose a later end"
    quiet, deadline = _quiet(values), values.get("deadline_minutes")
    if quiet is None or not deadline or values.get("local_time"):
        return None
    end = first + timedelta(minutes=deadline)
    if quiet.next_allowed(first, zone_name) >= end:
        return (f"quiet_hours: {quiet} covers all of the {deadline} minutes the deadline leaves after the send time "
                f"({shown(first, zone_name)}), so nothing could be sent; choose a time outside quiet hours, a longer "
                "deadline or other quiet hours")
    return None


def warnings(values: dict[str, Any], zone_name: str, now: datetime | None = None) -> list[str]:
    """What the author should know about when it sends, though it can send: a send time inside quiet hours."""
    now = (now or datetime.now(UTC)).astimezone(UTC)
    first, quiet = first_send(values, zone_name, now), _quiet(values)
    if first is None or quiet is None or values.get("local_time"):
        return []
    allowed = quiet.next_allowed(first, zone_name)
    if allowed == first:
        return []
    when = "The send time" if values.get("schedule") else "Now"
    return [f"{when} ({shown(first, zone_name)}) is inside quiet hours {quiet}: messages are held until "
            f"{shown(allowed, zone_name)}, and later for recipients in zones where quiet hours last longer."]


def _quiet(values: dict[str, Any]) -> Any:
    try:
        return parse_quiet_hours(values.get("quiet_hours"))
    except ValueError:
        return None


def _at_shown(spec: dict[str, Any], zone_name: str) -> str:
    try:
        at = parse_schedule(spec, default_timezone=zone_name).first(datetime(1970, 1, 1, tzinfo=UTC))
    except ScheduleError:
        at = None
    return shown(at, spec.get("timezone") or zone_name) if at else str(spec.get("at"))
