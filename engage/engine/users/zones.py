"""Times as a person reads them: in their own time zone, with that zone named.

A bare "19:45" misleads whoever reads it in another zone than the one it was written in: a marketer
in Berlin reading a time the server wrote in Asia/Tashkent schedules five hours off. So every time a
person is shown carries its zone, and is shown in the zone they chose for themselves (users.timezone),
or the installation's (ENGAGE_DEFAULT_TIMEZONE) until they choose one.

Zone names are IANA names as tzdata spells them; a name is accepted whatever its case and stored in
tzdata's spelling, so that one zone is never two strings. Naive datetimes are taken as UTC (SQLite
returns timestamps that way).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import Connection, update

from engage import config
from engage.engine.audit import audit
from engage.engine.store.schema import User as UserRow
from engage.engine.users.accounts import Account, UserError, get_user

# tzdata's geographic areas: the zones a person is offered (the others are aliases kept for old data)
REGIONS = ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic", "Australia", "Europe", "Indian",
           "Pacific")
NOT_ZONES = frozenset({"localtime", "Factory", "posixrules"})  # files in the zone directory that name no place


@lru_cache(maxsize=1)
def _known() -> dict[str, str]:
    """Every zone name tzdata knows, lower-cased, to its own spelling (read once: it walks a directory)."""
    return {name.lower(): name for name in available_timezones() if name not in NOT_ZONES}


def check_zone(name: Any) -> str:
    """``name`` as tzdata spells it ("asia/tashkent" is "Asia/Tashkent"), or a UserError naming it."""
    if not isinstance(name, str):
        raise UserError("timezone", f"{name!r} is not a time zone name")
    if not name.strip():
        raise UserError("timezone", "a time zone name is needed, such as Europe/Berlin")
    found = _known().get(name.strip().lower())
    if found is None:
        raise UserError("timezone", f"{name.strip()[:80]!r} is not a time zone; give an IANA name such as "
                                    "Europe/Berlin, America/New_York or Asia/Tashkent")
    return found


def set_timezone(conn: Connection, email: str, zone: str | None, *, actor: str) -> Account:
    """The zone ``email``'s pages show times in, from now on; None or "" is the installation's (which
    then follows ENGAGE_DEFAULT_TIMEZONE if that changes). Audited with the zone it replaced."""
    user = get_user(conn, email) if isinstance(email, str) else None
    if user is None:
        raise UserError("user", f"no user with the email {email!r}")
    chosen = None if zone is None or (isinstance(zone, str) and not zone.strip()) else check_zone(zone)
    conn.execute(update(UserRow.__table__).where(UserRow.id == user.id).values(timezone=chosen))
    audit(conn, actor, "user.set_timezone", "user", user.id, email=user.email, timezone=chosen,
          previous=user.timezone)
    return get_user(conn, user.email)  # type: ignore[return-value] - it was there a line ago


def zone_of(chosen: str | None, installation: str) -> str:
    """The zone a person's times are shown in: the one they chose, else the installation's. A chosen
    zone that tzdata no longer knows (an upgrade dropped an alias) falls back rather than fail a page."""
    if chosen:
        try:
            return check_zone(chosen)
        except UserError:
            pass
    return installation


def zone_for(user: Account | None) -> str:
    """The zone this person's pages show times in (the installation's for nobody signed in)."""
    return zone_of(user.timezone if user is not None else None, config.load().default_timezone)


def offset_text(offset: timedelta | None) -> str:
    """UTC+05:00, UTC-03:30, UTC+00:00."""
    minutes = round((offset or timedelta()).total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def format_moment(moment: datetime | None, zone: str, *, seconds: bool = False) -> str:
    """``moment`` (UTC; naive taken as UTC) as a wall time in ``zone`` with the zone named and its
    offset at that moment: "2026-12-07 19:45 Asia/Tashkent (UTC+05:00)", or "… 14:45 UTC". The
    offset is the moment's own, so a summer time reads as summer time. None is the empty text."""
    if moment is None:
        return ""
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
    local = aware.astimezone(ZoneInfo(zone))
    wall = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    if zone in ("UTC", "Etc/UTC"):
        return f"{wall} UTC"
    return f"{wall} {zone} ({offset_text(local.utcoffset())})"


def wall_instant(text: str, zone: str) -> datetime:
    """The UTC instant of a wall time typed in ``zone`` ("2026-11-30" is that day's midnight there);
    a text with its own offset keeps it. ValueError for a text that is not an ISO date or time."""
    wall = datetime.fromisoformat(text.strip())
    return (wall if wall.tzinfo is not None else wall.replace(tzinfo=ZoneInfo(zone))).astimezone(UTC)


def zone_choices(current: str | None = None, *, now: datetime | None = None
                 ) -> list[tuple[str, list[tuple[str, str]]]]:
    """The zones a person picks from, by region: [(region, [(name, "Europe/Berlin (UTC+01:00)")])],
    UTC first. ``current`` is offered too when it is outside the regions (an alias someone chose)."""
    now = now or datetime.now(UTC)
    names = {n for n in _known().values() if n.split("/")[0] in REGIONS}
    if current and current != "UTC":
        names.add(current)
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in sorted(names):
        region = name.split("/")[0] if name.split("/")[0] in REGIONS else "Other"
        offset = now.astimezone(ZoneInfo(name)).utcoffset()
        groups.setdefault(region, []).append((name, f"{name.replace('_', ' ')} ({offset_text(offset)})"))
    return [("UTC", [("UTC", "UTC (UTC+00:00)")])] + [(r, groups[r]) for r in sorted(groups) if r != "UTC"]
