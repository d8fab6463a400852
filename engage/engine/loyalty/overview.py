"""What the back office shows of a programme: its members by status and level, the points
outstanding and their money value (the liability), what was issued, redeemed, expired and adjusted
over a period and by which rule, its rules with their versions, and one member's ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, case, func, select

from engage.engine.loyalty import ledger, programmes, rules
from engage.engine.store.database import aware
from engage.engine.store.schema import (
    LoyaltyBalance,
    LoyaltyEntry,
    LoyaltyMember,
    LoyaltyProgramme,
    LoyaltyRule,
    LoyaltyRuleVersion,
    Subscriber,
)

# what a rule's `every` counts, in words: "10 points for every 100 minutes of outgoing calls"
MEASURES = {"call_out": "minutes of outgoing calls", "call_in": "minutes of incoming calls", "data": "MB of data",
            "sms_out": "SMS sent", "recharge": "of recharges", "purchase": "of purchases"}


def programmes_listed(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(
        LoyaltyProgramme.id, LoyaltyProgramme.code, LoyaltyProgramme.name, LoyaltyProgramme.currency,
        LoyaltyProgramme.point_value, LoyaltyProgramme.points_valid_days).order_by(LoyaltyProgramme.id))]


def figures(conn: Connection, programme_id: int, *, days: int = 30, now: datetime | None = None) -> dict[str, Any]:
    """Members, liability and the period's movements; one query per kind of figure."""
    programme = programmes.get(conn, programme_id)
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    m, b, e = LoyaltyMember, LoyaltyBalance, LoyaltyEntry
    by_level = [(level or "none", n) for level, n in conn.execute(
        select(m.level, func.count()).where(m.programme_id == programme_id, m.status != "closed")
        .group_by(m.level).order_by(func.count().desc()))]
    by_status = dict(conn.execute(select(m.status, func.count()).where(m.programme_id == programme_id)
                                  .group_by(m.status)).all())
    available, held = conn.execute(select(func.coalesce(func.sum(b.available), 0), func.coalesce(func.sum(b.held), 0))
                                   .join(m, m.id == b.member_id).where(m.programme_id == programme_id)).one()
    moved = conn.execute(select(
        func.coalesce(func.sum(case((e.kind == "earn", e.points), else_=0)), 0),
        func.coalesce(func.sum(case((e.kind == "redeem", -e.held), else_=0)), 0),
        func.coalesce(func.sum(case((e.kind == "expire", -e.points), else_=0)), 0),
        func.coalesce(func.sum(case((e.kind == "adjust", e.points), else_=0)), 0))
        .join(m, m.id == e.member_id).where(m.programme_id == programme_id, e.posted_at >= since)).one()
    per_rule = conn.execute(select(e.cause, e.cause_id, func.sum(e.points), func.count()).join(
        m, m.id == e.member_id).where(m.programme_id == programme_id, e.posted_at >= since, e.kind == "earn")
        .group_by(e.cause, e.cause_id).order_by(func.sum(e.points).desc()).limit(20)).all()
    names = dict(conn.execute(select(LoyaltyRule.code, LoyaltyRule.name).where(
        LoyaltyRule.programme_id == programme_id)).all())
    outstanding = int(available) + int(held)
    return {"programme": programme, "days": days, "members": sum(by_status.values()), "by_status": by_status,
            "by_level": by_level, "available": int(available), "held": int(held), "outstanding": outstanding,
            "liability": (Decimal(outstanding) * programme.point_value).quantize(Decimal("0.01")),
            "issued": int(moved[0]), "redeemed": int(moved[1]), "expired": int(moved[2]), "adjusted": int(moved[3]),
            "per_rule": [(cause_in_words(cause, cause_id, names), int(points), n)
                         for cause, cause_id, points, n in per_rule]}


def cause_in_words(cause: str, cause_id: str | None, rule_names: dict[str, str]) -> str:
    """What earned the points, for people: "Outgoing calls (version 2)", "Award for campaign 12"."""
    if cause == "rule" and cause_id:
        code, _, version = cause_id.partition("@v")
        return f"{rule_names.get(code, code)} (version {version})" if version else rule_names.get(code, code)
    if cause == "campaign":
        return f"Award for campaign {cause_id}" if cause_id else "Campaign awards"
    return {"partner": "Partner purchases", "bulk": "Point loads", "person": "Adjustments by people",
            "exchange": "Exchange from other programmes", "system": "Opening balances"}.get(cause, cause)


def rules_listed(conn: Connection, programme_id: int) -> list[dict[str, Any]]:
    """Each rule with its latest version (and how many it has)."""
    v = LoyaltyRuleVersion
    latest = select(v.rule_id, func.max(v.version).label("version"), func.count().label("versions")).group_by(
        v.rule_id).subquery()
    rows = conn.execute(select(LoyaltyRule.code, LoyaltyRule.name, v.version, v.valid_from, v.definition,
                               latest.c.versions).join(latest, latest.c.rule_id == LoyaltyRule.id).join(
        v, (v.rule_id == LoyaltyRule.id) & (v.version == latest.c.version)).where(
        LoyaltyRule.programme_id == programme_id).order_by(LoyaltyRule.code)).all()
    return [{"code": code, "name": name, "version": version, "valid_from": aware(since), "versions": versions,
             "definition": definition, "summary": summary(rules.parse(definition))}
            for code, name, version, since, definition, versions in rows]


def rule_versions(conn: Connection, programme_id: int, code: str) -> list[dict[str, Any]]:
    v = LoyaltyRuleVersion
    rows = conn.execute(select(v.version, v.valid_from, v.definition, v.created_by).join(
        LoyaltyRule, LoyaltyRule.id == v.rule_id).where(LoyaltyRule.programme_id == programme_id,
                                                        LoyaltyRule.code == code).order_by(v.version.desc())).all()
    return [{"version": n, "valid_from": aware(since), "definition": d, "by": by, "summary": summary(rules.parse(d))}
            for n, since, d, by in rows]


def summary(rule: rules.EarningRule) -> str:
    """A rule in words, for lists."""
    if not rule.enabled:
        return "switched off"
    if rule.on == rules.REPLY:
        said = f"{rule.points} points for replying to " + (f"campaign(s) {', '.join(map(str, rule.campaigns))}"
                                                          if rule.campaigns else "a campaign")
    elif rule.on == rules.USSD_OPT_IN:
        said = f"{rule.points} points for opting in on USSD"
    elif rule.on == rules.USAGE_AFTER_CAMPAIGN:
        said = (f"{rule.points} points for {MEASURES.get(rule.kind, rule.kind).removeprefix('of ')} within "
                f"{rule.within_days} days after a campaign's message")
    else:
        every = f"{rule.every:,.0f}" if rule.every.is_integer() else f"{rule.every:g}"
        said = f"{rule.points:,} points for every {every} {MEASURES.get(rule.kind, rule.kind)}" + (
            "" if rule.carry else ", each event alone")
    extras = [f"x{f:g} {name}" for name, f in rule.multipliers.items()]
    extras += [f"x{f:g} in segment {s}" for s, f in rule.segment_multipliers.items()]
    extras += [f"at most {rule.cap_day}/day"] if rule.cap_day else []
    extras += [f"at most {rule.cap_month}/month"] if rule.cap_month else []
    return said + (f" ({', '.join(extras)})" if extras else "")


def member(conn: Connection, programme_id: int, msisdn: str, *, branch: str | None = None,
           limit: int = 50) -> dict[str, Any] | None:
    """A member found by number: status, level, balance, what expires soon, the latest entries.
    branch: the asker's; a subscriber of another branch is not found (the same answer as none)."""
    query = select(LoyaltyMember.id, LoyaltyMember.status, LoyaltyMember.level, LoyaltyMember.enrolled_via,
                   LoyaltyMember.enrolled_at).join(Subscriber, Subscriber.id == LoyaltyMember.subscriber_id).where(
        LoyaltyMember.programme_id == programme_id, Subscriber.msisdn == msisdn)
    if branch is not None:
        query = query.where(Subscriber.branch == branch)
    found = conn.execute(query).first()
    if found is None:
        return None
    balance = ledger.balance(conn, found.id, expiring_within=timedelta(days=30))
    return {"id": found.id, "status": found.status, "level": found.level, "enrolled_via": found.enrolled_via,
            "enrolled_at": aware(found.enrolled_at), "balance": balance,
            "entries": [dict(r._mapping) for r in ledger.entries(conn, found.id, limit=limit)]}
