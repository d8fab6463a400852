"""Scoring usage records into points, a batch per transaction, a statement per table per batch:

1. the records already seen (by source and ref) are dropped: a replayed file or a redelivered broker
   message scores nothing;
2. numbers are matched to the programme's active members in one query;
3. each record is scored by the versions of the rules in force when it happened; a member's usage
   under one rule is summed per day, in time order, with the remainder carried from before
   (`arithmetic`), multiplied by the member's level and saved segments (one query per segment a
   rule names) and capped per day and month;
4. one credit per member, rule and day (ledger.credit, a lot each), and the carried remainders and
   cap counters written back, under their row locks (two workers never lose each other's carry).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, select, tuple_

from engage.engine.loyalty import awards, rules
from engage.engine.loyalty.ledger import Credit, post_credits
from engage.engine.loyalty.programmes import Programme
from engage.engine.segments.audience import condition
from engage.engine.segments.errors import SegmentError
from engage.engine.store.bulk import array_value, chunks, conflict_insert, insert_unnest, one_of
from engage.engine.store.database import aware
from engage.engine.store.schema import LoyaltyCarry, LoyaltyMember, LoyaltyUsageSeen, Subscriber
from engage.engine.usage import USAGE_KINDS

E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
SEEN_CHUNK = 5_000
NO_SEGMENTS: frozenset[int] = frozenset()


@dataclass(frozen=True)
class Record:
    """One usage record as a feed gives it: its id in that feed, the number, what and when, how much."""

    ref: str
    msisdn: str
    kind: str
    at: datetime
    amount: float


@dataclass
class ScoreReport:
    records: int = 0
    duplicates: int = 0  # seen before: scored then
    not_members: int = 0  # no active member of the programme has the number
    scored: int = 0  # records a rule in force applied to
    points: int = 0
    entries: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (ref, why)

    def add(self, other: ScoreReport) -> None:
        for name in ("records", "duplicates", "not_members", "scored", "points", "entries"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejected.extend(other.rejected)

    def as_dict(self) -> dict[str, Any]:
        return {"records": self.records, "duplicates": self.duplicates, "not_members": self.not_members,
                "scored": self.scored, "points": self.points, "entries": self.entries,
                "rejected": len(self.rejected)}


def record_from(raw: Any, where: str) -> Record:
    """A record from a feed's JSON object; ValueError naming the field and `where` otherwise."""
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: a usage record is an object with ref, msisdn, kind, at, amount")
    ref, msisdn, kind = str(raw.get("ref") or raw.get("id") or ""), str(raw.get("msisdn") or ""), raw.get("kind")
    if not ref or len(ref) > 64:
        raise ValueError(f"{where}: ref: each record needs its id in the feed (1 to 64 characters)")
    if not E164.match(msisdn):
        raise ValueError(f"{where}: msisdn: {msisdn!r} is not an E.164 number such as +998901234567")
    if kind not in USAGE_KINDS:
        raise ValueError(f"{where}: kind: {kind!r} is not one of {', '.join(USAGE_KINDS)}")
    try:
        at = aware(datetime.fromisoformat(str(raw.get("at"))))
    except ValueError:
        raise ValueError(f"{where}: at: {raw.get('at')!r} is not an ISO 8601 time") from None
    amount = raw.get("amount")
    if not isinstance(amount, int | float) or isinstance(amount, bool) or not math.isfinite(amount) or amount < 0:
        raise ValueError(f"{where}: amount: {amount!r} is not a number of 0 or more")
    return Record(ref, msisdn, kind, at, float(amount))


@dataclass
class Counters:
    """A member's state under one rule: the carried remainder and the points given per day and month."""

    carried: float = 0.0
    day: date | None = None
    day_points: int = 0
    month: date | None = None
    month_points: int = 0


def arithmetic(rule: rules.EarningRule, counters: Counters, day: date, amounts: Sequence[float],
               level: str | None, segments: frozenset[int] = frozenset()) -> int:
    """The points a day's amounts give under `rule`, moving `counters` on: blocks of `every` give
    `points` (with the remainder carried when the rule carries, else each amount alone), times the
    level's and segments' multiplier, within what the caps leave of the day and month."""
    if rule.carry:
        total = counters.carried + sum(amounts)
        blocks = math.floor(total / rule.every + 1e-9)
        counters.carried = max(total - blocks * rule.every, 0.0)
    else:
        blocks = sum(math.floor(a / rule.every + 1e-9) for a in amounts)
    points = math.floor(blocks * rule.points * rule.multiplier(level, segments) + 1e-9)
    if counters.day != day:
        counters.day, counters.day_points = day, 0
    month = day.replace(day=1)
    if counters.month != month:
        counters.month, counters.month_points = month, 0
    if rule.cap_day is not None:
        points = min(points, max(rule.cap_day - counters.day_points, 0))
    if rule.cap_month is not None:
        points = min(points, max(rule.cap_month - counters.month_points, 0))
    counters.day_points += points
    counters.month_points += points
    return points


def score(engine: Engine, programme: Programme, source: str, records: Sequence[Record]) -> ScoreReport:
    """Score a batch in one transaction of its own."""
    with engine.begin() as conn:
        return score_in(conn, programme, source, records, rules.versions(conn, programme.id))


def score_in(conn: Connection, programme: Programme, source: str, records: Sequence[Record],
             versions: list[rules.Version]) -> ScoreReport:
    report = ScoreReport(records=len(records))
    fresh = _unseen(conn, source, records)
    report.duplicates = len(records) - len(fresh)
    found = _members(conn, programme.id, {r.msisdn for r in fresh})
    # (member, rule id, version) -> day -> records, in time order
    usage: dict[tuple[int, int, int], dict[date, list[Record]]] = defaultdict(lambda: defaultdict(list))
    chosen: dict[tuple[int, int], rules.Version] = {}
    levels: dict[int, str | None] = {}
    members_usage: list[tuple[int, int, str, datetime]] = []  # for the usage-after-campaign awards
    for r in sorted(fresh, key=lambda r: r.at):
        member = found.get(r.msisdn)
        if member is None:
            report.not_members += 1
            continue
        levels[member[0]] = member[1]
        members_usage.append((member[0], member[2], r.kind, r.at))
        applied = False
        for v in rules.in_force(versions, r.at):
            if v.definition.applies(r.kind, r.at):
                usage[(member[0], v.rule_id, v.version)][r.at.date()].append(r)
                chosen[(v.rule_id, v.version)] = v
                applied = True
        report.scored += applied
    credits = awards.after_campaign(conn, programme, versions, members_usage)
    in_segments = _segments_of(conn, versions, {m[0]: m[2] for m in found.values() if m[0] in levels})
    counters = _lock_counters(conn, {(m, rule_id) for m, rule_id, _ in usage}) if usage else {}
    for (member_id, rule_id, version), days in usage.items():
        v = chosen[(rule_id, version)]
        state = counters[(member_id, rule_id)]
        for day in sorted(days):
            day_records = days[day]
            points = arithmetic(v.definition, state, day, [r.amount for r in day_records], levels[member_id],
                                in_segments.get(member_id, NO_SEGMENTS))
            if points <= 0:
                continue
            last = day_records[-1].at
            lifetime = v.definition.expires_days or programme.points_valid_days
            credits.append(Credit(member_id, points, last, "rule", f"usage:{source}"[:32],
                                  f"{v.rule_id}:{day.isoformat()}:{min(r.ref for r in day_records)}",
                                  expires_at=last + timedelta(days=lifetime) if lifetime else None,
                                  cause_id=f"{v.code}@v{v.version}"))
    posted = post_credits(conn, credits)
    report.entries = len(posted)
    report.points = sum(c.points for c, _ in posted)
    if counters:
        _save_counters(conn, counters)
    return report


def _unseen(conn: Connection, source: str, records: Sequence[Record]) -> list[Record]:
    """The records not scored before, each once (a ref given twice in the batch counts once)."""
    by_ref = {r.ref: r for r in records}
    if conn.dialect.name == "postgresql":
        rows = [{"source": source, "ref": ref} for ref in by_ref]
        return [by_ref[ref] for (ref,) in insert_unnest(conn, LoyaltyUsageSeen.__table__, rows,
                                                         suffix="ON CONFLICT DO NOTHING", returning=("ref",))]
    fresh: list[Record] = []
    for refs in chunks(list(by_ref), SEEN_CHUNK):
        stmt = conflict_insert(conn, LoyaltyUsageSeen.__table__).on_conflict_do_nothing().returning(
            LoyaltyUsageSeen.ref)
        fresh.extend(by_ref[ref] for ref in conn.execute(stmt, [{"source": source, "ref": ref} for ref in refs])
                     .scalars())
    return fresh


def _members(conn: Connection, programme_id: int, numbers: Iterable[str]) -> dict[str, tuple[int, str | None, int]]:
    """number -> (member id, level, subscriber id) of the programme's active members."""
    numbers = sorted(numbers)
    if not numbers:
        return {}
    rows = conn.execute(select(Subscriber.msisdn, LoyaltyMember.id, LoyaltyMember.level, Subscriber.id).join(
        LoyaltyMember, and_(LoyaltyMember.subscriber_id == Subscriber.id, LoyaltyMember.programme_id == programme_id,
                            LoyaltyMember.status == "active")).where(one_of(conn, Subscriber.msisdn, numbers)))
    return {msisdn: (member_id, level, subscriber_id) for msisdn, member_id, level, subscriber_id in rows}


def _segments_of(conn: Connection, versions: list[rules.Version],
                 subscribers: dict[int, int]) -> dict[int, frozenset[int]]:
    """member id -> the saved segments, among those the rules multiply by, that select them now: one
    query per such segment for the whole batch. A segment deleted since multiplies nobody."""
    wanted = sorted({s for v in versions for s in v.definition.segment_multipliers})
    if not wanted or not subscribers:
        return {}
    member_of = {subscriber: member for member, subscriber in subscribers.items()}
    found: dict[int, set[int]] = defaultdict(set)
    for segment_id in wanted:
        try:
            selects = condition(conn, {"kind": "in_segment", "segment_id": segment_id})
        except SegmentError:
            continue
        query = select(Subscriber.id).where(one_of(conn, Subscriber.id, sorted(member_of)), selects)
        for subscriber_id in conn.execute(query).scalars():
            found[member_of[subscriber_id]].add(segment_id)
    return {member: frozenset(segments) for member, segments in found.items()}


def _lock_counters(conn: Connection, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Counters]:
    """The pairs' counters, their rows made if new and locked in one order, so a concurrent batch
    for the same member waits instead of overwriting this one's carry."""
    ordered = sorted(pairs)
    rows = [{"member_id": m, "rule_id": r, "carried": 0.0, "day_points": 0, "month_points": 0} for m, r in ordered]
    found: dict[tuple[int, int], Counters] = {}
    if conn.dialect.name == "postgresql":
        insert_unnest(conn, LoyaltyCarry.__table__, rows, suffix="ON CONFLICT DO NOTHING")
        read = conn.exec_driver_sql(
            "SELECT c.member_id, c.rule_id, c.carried, c.day, c.day_points, c.month, c.month_points "
            "FROM loyalty_carry AS c JOIN unnest(%s::bigint[], %s::integer[]) AS k(m, r) "
            "ON c.member_id = k.m AND c.rule_id = k.r ORDER BY c.member_id, c.rule_id FOR UPDATE OF c",
            (array_value([m for m, _ in ordered]), array_value([r for _, r in ordered])))
        for m, r, carried, day, day_points, month, month_points in read:
            found[(m, r)] = Counters(carried, day, day_points, month, month_points)
        return found
    conn.execute(conflict_insert(conn, LoyaltyCarry.__table__).on_conflict_do_nothing(), rows)
    c = LoyaltyCarry
    for part in chunks(ordered, 2_000):
        query = select(c.member_id, c.rule_id, c.carried, c.day, c.day_points, c.month, c.month_points).where(
            tuple_(c.member_id, c.rule_id).in_(part)).order_by(c.member_id, c.rule_id)
        for m, r, carried, day, day_points, month, month_points in conn.execute(query):
            found[(m, r)] = Counters(carried, day, day_points, month, month_points)
    return found


def _save_counters(conn: Connection, counters: dict[tuple[int, int], Counters]) -> None:
    rows = [{"member_id": m, "rule_id": r, "carried": s.carried, "day": s.day, "day_points": s.day_points,
             "month": s.month, "month_points": s.month_points} for (m, r), s in sorted(counters.items())]
    names = ("carried", "day", "day_points", "month", "month_points")
    if conn.dialect.name == "postgresql":
        insert_unnest(conn, LoyaltyCarry.__table__, rows, suffix="ON CONFLICT (member_id, rule_id) DO UPDATE SET "
                      + ", ".join(f"{n} = EXCLUDED.{n}" for n in names))
        return
    stmt = conflict_insert(conn, LoyaltyCarry.__table__)
    conn.execute(stmt.on_conflict_do_update(index_elements=["member_id", "rule_id"],
                                            set_={n: getattr(stmt.excluded, n) for n in names}), rows)


def trial(definition: Any, events: Sequence[tuple[datetime, float]], *, level: str | None = None,
          carried: float = 0.0, segments: frozenset[int] = NO_SEGMENTS) -> list[dict[str, Any]]:
    """The rule tester: what each event, in turn, would give (and what is carried after it)."""
    rule = rules.parse(definition)
    counters = Counters(carried=carried)
    out = []
    for at, amount in events:
        points = arithmetic(rule, counters, at.date(), [amount], level, segments) if rule.applies(rule.kind, at) else 0
        out.append({"at": at.isoformat(), "amount": amount, "points": points, "carried": round(counters.carried, 6)})
    return out
