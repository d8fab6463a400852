"""A campaign's sending rules, checked when it is created or changed, each error naming the option:
kind, schedule, time zone, recipient-local time, quiet hours, deadline, pace, frequency cap, control
share, A/B arms and the cap on parts. What is stored is exactly what was checked."""

from __future__ import annotations

import re
import zoneinfo
from typing import Any

from engage.engine.scheduler.quiet_hours import parse_quiet_hours
from engage.engine.scheduler.schedule import ScheduleError, parse_schedule

KINDS = ("marketing", "transactional")  # transactional campaigns bypass the global frequency cap
OPTIONS = ("kind", "schedule", "timezone", "local_time", "quiet_hours", "deadline_minutes", "max_rate", "cap",
           "control_share", "seed", "arms", "max_parts")
_ARM = re.compile(r"^[A-Za-z0-9]{1,8}$")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class RuleError(ValueError):
    """A bad option; the message starts with the option's name."""


def check(options: dict[str, Any], *, default_timezone: str) -> dict[str, Any]:
    """The options as campaign column values (absent ones left out); RuleError otherwise."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise RuleError(f"{unknown[0]}: not a campaign option (options: {', '.join(OPTIONS)})")
    out: dict[str, Any] = {}
    if "kind" in options:
        out["kind"] = _choice(options, "kind", KINDS)
    zone = options.get("timezone") or default_timezone
    if options.get("timezone") is not None:
        out["timezone"] = _zone(options["timezone"])
    if options.get("schedule") is not None:
        try:
            out["schedule"] = parse_schedule(options["schedule"], default_timezone=zone).to_dict()
        except ScheduleError as exc:
            raise RuleError(f"schedule: {exc}") from None
    if options.get("local_time") is not None:
        if not isinstance(options["local_time"], str) or not _HHMM.match(options["local_time"]):
            raise RuleError(f"local_time: {options['local_time']!r} is not a time HH:MM")
        out["local_time"] = options["local_time"]
    if options.get("quiet_hours") is not None:
        try:
            parse_quiet_hours(options["quiet_hours"])
        except ValueError as exc:
            raise RuleError(f"quiet_hours: {exc}") from None
        out["quiet_hours"] = options["quiet_hours"] or None
    for name, low, high in (("deadline_minutes", 1, 43200), ("max_rate", 1, 1_000_000), ("max_parts", 1, 10),
                            ("seed", 0, 2**31 - 1)):
        if options.get(name) is not None:
            out[name] = _int(options, name, low, high)
    if options.get("cap") is not None:
        out["cap"] = _cap(options["cap"])
    if options.get("control_share") is not None:
        share = options["control_share"]
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 0.5:
            raise RuleError(f"control_share: {share!r} must be a fraction from 0 to 0.5")
        out["control_share"] = float(share)
    if options.get("arms") is not None:
        out["arms"] = _arms(options["arms"])
    return out


def _choice(options: dict[str, Any], name: str, choices: tuple[str, ...]) -> str:
    if options[name] not in choices:
        raise RuleError(f"{name}: {options[name]!r} is not one of {', '.join(choices)}")
    return options[name]


def _zone(name: Any) -> str:
    try:
        zoneinfo.ZoneInfo(str(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise RuleError(f"timezone: {name!r} is not a time zone (like Asia/Tashkent)") from None
    return str(name)


def _int(options: dict[str, Any], name: str, low: int, high: int) -> int:
    value = options[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RuleError(f"{name}: {value!r} must be a whole number from {low} to {high}")
    return value


def _cap(cap: Any) -> dict[str, int]:
    if not isinstance(cap, dict) or set(cap) != {"count", "days"}:
        raise RuleError(f"cap: {cap!r} must be {{\"count\": N, \"days\": D}}")
    return {"count": _int(cap, "count", 1, 1000), "days": _int(cap, "days", 1, 365)}


def _arms(arms: Any) -> list[dict[str, Any]]:
    if not isinstance(arms, list) or not arms:
        raise RuleError("arms: a list of {\"arm\": name, \"share\": percent}")
    seen, out = set(), []
    for i, arm in enumerate(arms):
        if not isinstance(arm, dict) or not _ARM.match(str(arm.get("arm", ""))):
            raise RuleError(f"arms[{i}]: needs \"arm\": 1 to 8 letters or digits")
        share = arm.get("share")
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 < share <= 100:
            raise RuleError(f"arms[{i}]: share {share!r} must be a percent above 0")
        if arm["arm"] in seen:
            raise RuleError(f"arms[{i}]: arm {arm['arm']!r} given twice")
        seen.add(arm["arm"])
        out.append({"arm": arm["arm"], "share": share})
    if abs(sum(a["share"] for a in out) - 100) > 1e-9:
        raise RuleError(f"arms: shares add up to {sum(a['share'] for a in out)}, not 100")
    return out
