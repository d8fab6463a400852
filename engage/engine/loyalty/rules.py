"""Earning rules: what usage is worth in points. A rule is versioned: changing it adds a version in
force from a moment on, and an event is scored by the version in force when it happened (a CDR that
arrives a day late is scored as the rules stood when the call was made).

A definition, as JSON (the back office, `engage loyalty rule add` and the API all give this):

    {"kind": "call_out", "every": 100, "points": 10}        every 100 minutes of outgoing calls: 10
    {"kind": "purchase", "every": 100, "points": 100,        every 100 USD of device purchases: 100,
     "multipliers": {"gold": 2}, "cap_day": 500,             twice that for gold members, at most 500
     "cap_month": 5000, "from": "2027-01-01",                a day and 5,000 a month, for events from
     "until": "2027-03-31", "expires_days": 90}              January to March, living 90 days
    {"kind": "data_mb", "every": 1000, "points": 5,          every 1,000 MB: 5, three times that for
     "segment_multipliers": {"12": 3}}                       whoever saved segment 12 selects then

A member's factor is their level's (1 when none is named) times the highest factor of the saved
segments they are in when the batch is scored (1 when none).
    {"kind": "recharge", "every": 10, "points": 1, "carry": false}   no remainder kept between events

Campaign-triggered awards, given once per member (and campaign); the control group, never sent a
message, earns none of them, so the uplift of an award is measurable:

    {"on": "reply", "points": 50, "campaigns": [12]}         replying to campaign 12 (any: no list)
    {"on": "ussd_opt_in", "points": 20}                      opting in through a USSD menu
    {"on": "usage_after_campaign", "kind": "recharge",       a recharge within 7 days after a
     "within_days": 7, "points": 100}                        campaign's message was delivered

`carry` (default true) keeps the remainder: 250 minutes give 20 points and the next 50 complete the
third ten. `enabled: false` in a new version switches the rule off from its moment on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from engage.engine.store.database import aware
from engage.engine.store.schema import LoyaltyRule, LoyaltyRuleVersion, Segment
from engage.engine.usage import USAGE_KINDS

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
KEYS = {"on", "kind", "every", "points", "carry", "multipliers", "segment_multipliers", "cap_day", "cap_month", "from",
        "until", "expires_days", "enabled", "campaigns", "within_days"}
# what a rule earns on: usage records (the default), or a campaign-triggered award, given once per
# member (and campaign) by the events worker (awards.py) or, for usage after a campaign, by scoring
USAGE, REPLY, USSD_OPT_IN, USAGE_AFTER_CAMPAIGN = "usage", "reply", "ussd_opt_in", "usage_after_campaign"
ON = (USAGE, REPLY, USSD_OPT_IN, USAGE_AFTER_CAMPAIGN)


class EarningRuleError(ValueError):
    """Names the field of the definition that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class EarningRule:
    kind: str
    every: float
    points: int
    carry: bool = True
    multipliers: Mapping[str, float] = field(default_factory=dict)
    cap_day: int | None = None
    cap_month: int | None = None
    starts: date | None = None
    ends: date | None = None  # inclusive
    expires_days: int | None = None  # None: the programme's
    enabled: bool = True
    on: str = USAGE
    campaigns: tuple[int, ...] = ()  # an award's campaigns (none: any campaign)
    within_days: int | None = None  # usage_after_campaign: days after the campaign's message was delivered
    segment_multipliers: Mapping[int, float] = field(default_factory=dict)  # saved segment id -> factor

    def applies(self, kind: str | None, at: datetime, on: str = USAGE) -> bool:
        day = at.date()
        return (self.enabled and on == self.on and (kind is None or kind == self.kind)
                and (self.starts is None or day >= self.starts) and (self.ends is None or day <= self.ends))

    def for_campaign(self, campaign_id: int | None) -> bool:
        return not self.campaigns or campaign_id in self.campaigns

    def multiplier(self, level: str | None, segments: frozenset[int] = frozenset()) -> float:
        by_segment = max((f for s, f in self.segment_multipliers.items() if s in segments), default=1.0)
        return self.multipliers.get(level or "", 1.0) * by_segment

    def as_json(self) -> dict[str, Any]:
        every = int(self.every) if self.every.is_integer() else self.every
        out: dict[str, Any] = {"kind": self.kind, "every": every, "points": self.points} if self.on == USAGE else {
            "on": self.on, "points": self.points}
        if self.on == USAGE_AFTER_CAMPAIGN:
            out.update({"kind": self.kind, "within_days": self.within_days})
        if self.campaigns:
            out["campaigns"] = list(self.campaigns)
        if not self.carry:
            out["carry"] = False
        if self.multipliers:
            out["multipliers"] = dict(self.multipliers)
        if self.segment_multipliers:
            out["segment_multipliers"] = {str(s): f for s, f in self.segment_multipliers.items()}
        for key, value in (("cap_day", self.cap_day), ("cap_month", self.cap_month),
                           ("expires_days", self.expires_days)):
            if value is not None:
                out[key] = value
        if self.starts:
            out["from"] = self.starts.isoformat()
        if self.ends:
            out["until"] = self.ends.isoformat()
        if not self.enabled:
            out["enabled"] = False
        return out


def parse(raw: Any) -> EarningRule:
    """A definition from JSON, every field checked; EarningRuleError names the first that is wrong."""
    if not isinstance(raw, dict):
        raise EarningRuleError("definition", "a rule is a JSON object such as {\"kind\": \"call_out\", \"every\": 100, "
                                      "\"points\": 10}")
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise EarningRuleError(unknown[0], f"not a rule field; the fields are {', '.join(sorted(KEYS))}")
    on = raw.get("on", USAGE)
    if on not in ON:
        raise EarningRuleError("on", f"{on!r}: a rule earns on {', '.join(ON)}")
    kind = raw.get("kind")
    if on in (USAGE, USAGE_AFTER_CAMPAIGN) and kind not in USAGE_KINDS:
        raise EarningRuleError("kind", f"{kind!r} is not a usage kind ({', '.join(USAGE_KINDS)})")
    if on in (REPLY, USSD_OPT_IN) and kind is not None:
        raise EarningRuleError("kind", f"a {on} award has no usage kind")
    every = _number(raw, "every", positive=True) if on == USAGE else 1.0
    points = _whole(raw, "points", required=True)
    campaigns = raw.get("campaigns") or []
    if on == USAGE and campaigns or not isinstance(campaigns, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in campaigns):
        raise EarningRuleError("campaigns", "a list of campaign ids, for the campaign-triggered awards only")
    within = _whole(raw, "within_days", required=on == USAGE_AFTER_CAMPAIGN)
    if within is not None and (on != USAGE_AFTER_CAMPAIGN or within > 365):
        raise EarningRuleError("within_days", "1 to 365 days, for usage_after_campaign only")
    multipliers = raw.get("multipliers") or {}
    if not isinstance(multipliers, dict) or not all(
            isinstance(k, str) and k and _is_number(v) and 0 < v <= 100 for k, v in multipliers.items()):
        raise EarningRuleError("multipliers", "a level's name -> a factor above 0 and at most 100, e.g. {\"gold\": 2}")
    by_segment = _segment_multipliers(raw.get("segment_multipliers") or {})
    if by_segment and on != USAGE:
        raise EarningRuleError("segment_multipliers", "for rules that earn on usage only")
    starts, ends = _date(raw, "from"), _date(raw, "until")
    if starts and ends and ends < starts:
        raise EarningRuleError("until", "the window ends before it starts")
    for flag in ("carry", "enabled"):
        if not isinstance(raw.get(flag, True), bool):
            raise EarningRuleError(flag, "true or false")
    return EarningRule(kind or "", every, points, raw.get("carry", True),
                       {k: float(v) for k, v in multipliers.items()}, _whole(raw, "cap_day"), _whole(raw, "cap_month"),
                       starts, ends, _whole(raw, "expires_days"), raw.get("enabled", True), on, tuple(campaigns),
                       within, by_segment)


def _segment_multipliers(raw: Any) -> dict[int, float]:
    wrong = EarningRuleError("segment_multipliers", "a saved segment's number -> a factor above 0 and at most 100, "
                                                    "e.g. {\"12\": 3}")
    if not isinstance(raw, dict) or len(raw) > 20:
        raise wrong
    out: dict[int, float] = {}
    for key, factor in raw.items():
        if not str(key).isdigit() or not 0 < int(key) < 2**31 or not _is_number(factor) or not 0 < factor <= 100:
            raise wrong
        out[int(key)] = float(factor)
    return out


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value  # not NaN


def _number(raw: Mapping[str, Any], key: str, *, positive: bool) -> float:
    value = raw.get(key)
    if not _is_number(value) or (positive and value <= 0) or value > 1e12:
        raise EarningRuleError(key, f"{value!r} is not a number above 0")
    return float(value)


def _whole(raw: Mapping[str, Any], key: str, *, required: bool = False) -> int | None:
    value = raw.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1_000_000_000:
        raise EarningRuleError(key, f"{value!r} is not a whole number from 1 to 1,000,000,000")
    return value


def _date(raw: Mapping[str, Any], key: str) -> date | None:
    value = raw.get(key)
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise EarningRuleError(key, f"{value!r} is not a date such as 2027-01-31") from None


@dataclass(frozen=True)
class Version:
    rule_id: int
    code: str
    version: int
    valid_from: datetime
    definition: EarningRule


def create(conn: Connection, programme_id: int, code: str, name: str, definition: Any, *, actor: str,
           valid_from: datetime | None = None) -> Version:
    """A new rule with its first version (in force from `valid_from`, now by default)."""
    rule = parse(definition)
    _check_segments(conn, rule)
    code = code.strip().lower()
    if not CODE.match(code) or code == "new":
        raise EarningRuleError("code", "1 to 32 lower-case letters, digits, _ or - (and not \"new\")")
    if conn.execute(select(LoyaltyRule.id).where(LoyaltyRule.programme_id == programme_id,
                                                 LoyaltyRule.code == code)).first():
        raise EarningRuleError("code", f"the programme has a rule {code!r} already; change it with a new version")
    rule_id = conn.execute(insert(LoyaltyRule).values(programme_id=programme_id, code=code, name=name.strip() or code,
                                                      created_by=actor).returning(LoyaltyRule.id)).scalar_one()
    return _add(conn, rule_id, code, 1, rule, valid_from, actor)


def change(conn: Connection, programme_id: int, code: str, definition: Any, *, actor: str,
           valid_from: datetime | None = None) -> Version:
    """A new version of a rule, in force from `valid_from` (now by default; never before the
    latest version's moment, so history is not rewritten)."""
    rule = parse(definition)
    _check_segments(conn, rule)
    found = conn.execute(select(LoyaltyRule.id).where(LoyaltyRule.programme_id == programme_id,
                                                      LoyaltyRule.code == code)).first()
    if found is None:
        raise EarningRuleError("code", f"the programme has no rule {code!r}")
    latest, since = conn.execute(select(func.max(LoyaltyRuleVersion.version), func.max(LoyaltyRuleVersion.valid_from))
                                 .where(LoyaltyRuleVersion.rule_id == found[0])).one()
    moment = valid_from or datetime.now(UTC)
    if moment < aware(since):
        raise EarningRuleError("valid_from", f"version {latest} is in force from {aware(since).isoformat()}; "
                                      "a new one starts at that moment or later")
    return _add(conn, found[0], code, latest + 1, rule, moment, actor)


def _check_segments(conn: Connection, rule: EarningRule) -> None:
    """A rule names saved segments that exist (one that is deleted later multiplies nobody)."""
    wanted = set(rule.segment_multipliers)
    if wanted:
        there = set(conn.execute(select(Segment.id).where(Segment.id.in_(sorted(wanted)))).scalars())
        if wanted - there:
            raise EarningRuleError("segment_multipliers", f"there is no saved segment {min(wanted - there)}")


def _add(conn: Connection, rule_id: int, code: str, version: int, rule: EarningRule, valid_from: datetime | None,
         actor: str) -> Version:
    moment = valid_from or datetime.now(UTC)
    conn.execute(insert(LoyaltyRuleVersion).values(rule_id=rule_id, version=version, valid_from=moment,
                                                   definition=rule.as_json(), created_by=actor))
    return Version(rule_id, code, version, moment, rule)


def versions(conn: Connection, programme_id: int) -> list[Version]:
    """Every version of every rule of the programme, oldest first per rule: scoring picks from these
    the one in force at each event's time (rule_versions.in_force)."""
    v = LoyaltyRuleVersion
    rows = conn.execute(select(v.rule_id, LoyaltyRule.code, v.version, v.valid_from, v.definition).join(
        LoyaltyRule, LoyaltyRule.id == v.rule_id).where(LoyaltyRule.programme_id == programme_id)
        .order_by(v.rule_id, v.valid_from)).all()
    return [Version(rule_id, code, version, aware(since), parse(definition))
            for rule_id, code, version, since, definition in rows]


def in_force(all_versions: list[Version], at: datetime) -> list[Version]:
    """For each rule, the version in force at `at` (rules not yet in force then are left out)."""
    chosen: dict[int, Version] = {}
    for v in all_versions:  # oldest first per rule: a later one in force at `at` replaces the earlier
        if v.valid_from <= at:
            chosen[v.rule_id] = v
    return list(chosen.values())
