"""Opening balances: the points and tiers subscribers were imported with (loyalty_points and
loyalty_tier, from the operator's old programme, before engage kept a ledger) moved into a programme's
ledger, so that the ledger is the one truth about every point and the columns only mirror it
(profile.py).

Each such subscriber is enrolled (via "migration"), their points credited as one opening entry (an
adjustment caused by the system, source "opening", keyed by the subscriber's id: a second run, or two
at once, posts nothing again, and the imported value goes into one programme only), living as the
programme's points live from the run; and their level set from their tier when the tier names one of
the programme's levels (raised only: a member who reached a higher level keeps it).

The columns of a subscriber who is a member of the first programme and has had points posted are the
ledger's own figures, not an import's (profile.py writes them): those equal to their ledger are left
alone and counted (`ledger_already`), so their points are never credited twice. Closed members are
left out and counted too. Set-based: per batch of subscribers one query reads them, and the
enrolment, the levels and the credits are a statement or a few each."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, String, and_, case, cast, exists, func, or_, select
from sqlalchemy.orm import aliased

from engage.engine.audit import audit
from engage.engine.loyalty import ledger, levels, members, profile
from engage.engine.loyalty.ledger import Credit
from engage.engine.loyalty.programmes import Programme
from engage.engine.store.bulk import one_of, update_from_values
from engage.engine.store.schema import LoyaltyBalance, LoyaltyEntry, LoyaltyMember, LoyaltyProgramme, Subscriber

SOURCE, REASON = members.OPENING_SOURCE, members.OPENING_REASON  # enrolment opens them too, under the same key
VIA = "migration"
BATCH = 5_000


@dataclass
class Opened:
    enrolled: int = 0
    credited: int = 0
    points: int = 0
    tiers_set: int = 0
    tiers_unknown: Counter[str] = field(default_factory=Counter)  # a tier naming no level -> subscribers
    ledger_already: int = 0
    closed: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"enrolled": self.enrolled, "credited": self.credited, "points": self.points,
                "tiers_set": self.tiers_set, "tiers_unknown": dict(sorted(self.tiers_unknown.items())),
                "skipped": {"ledger_already": self.ledger_already, "closed": self.closed}, "batches": self.batches}


def open_balances(engine: Engine, programme: Programme, *, actor: str, batch: int = BATCH,
                  now: datetime | None = None) -> Opened:
    """Move every imported balance and tier not moved yet into `programme`; what was done, also
    written to the audit log (one entry for the run, by `actor`)."""
    now = now or datetime.now(UTC)
    report = Opened()
    after = 0
    while True:
        with engine.begin() as conn:
            last = _batch(conn, programme, actor, now, after, batch, report)
        if last is None:
            break
        report.batches += 1
        after = last
    with engine.begin() as conn:
        audit(conn, actor, "loyalty.open_balances", "loyalty_programme", programme.id, programme=programme.code,
              **report.as_dict())
    return report


def _batch(conn: Connection, programme: Programme, actor: str, now: datetime, after: int, size: int,
           report: Opened) -> int | None:
    """One batch of subscribers after `after`; the last one's id (None: none were left)."""
    rows = conn.execute(_candidates(programme.id, after, size)).all()
    if not rows:
        return None
    ladder = levels.of(conn.execute(select(LoyaltyProgramme.settings).where(
        LoyaltyProgramme.id == programme.id)).scalar_one())
    todo = []
    for row in rows:
        if row.mirrored:
            report.ledger_already += 1
        elif row.status == "closed":
            report.closed += 1
        else:
            todo.append(row)
    report.enrolled += members.enrol(conn, programme.id, [r.id for r in todo if r.member_id is None], VIA)
    joined = {s: (m, level) for m, s, level in conn.execute(select(
        LoyaltyMember.id, LoyaltyMember.subscriber_id, LoyaltyMember.level).where(
        LoyaltyMember.programme_id == programme.id, one_of(conn, LoyaltyMember.subscriber_id, [r.id for r in todo])))}
    raised, credits = [], []
    for row in todo:
        member_id, level = joined[row.id]
        tier = (row.loyalty_tier or "").strip()
        if tier and (ladder is None or tier.lower() not in ladder.names):
            report.tiers_unknown[tier] += 1
        elif tier and ladder is not None and ladder.rank(tier.lower()) > ladder.rank(level):
            raised.append({"id": member_id, "level": tier.lower()})
        if (row.loyalty_points or 0) > 0:
            credits.append(Credit(member_id, int(row.loyalty_points), now, "system", SOURCE, str(row.id),
                                  expires_at=programme.expiry_of(now), kind="adjust", actor=actor, reason=REASON))
    if raised:  # before the credits, whose posting mirrors the level to the profile with the balance
        update_from_values(conn, LoyaltyMember.__table__, "id", raised, extra={"level_since": now})
    report.tiers_set += len(raised)
    posted = ledger.post_credits(conn, credits)
    report.credited += len(posted)
    report.points += sum(c.points for c, _ in posted)
    profile.mirror(conn, [m for m, _ in joined.values()])  # those enrolled or raised with no points to post
    return rows[-1].id


def _candidates(programme_id: int, after: int, size: int) -> Any:
    """Subscribers after `after` with imported points or a tier and no opening entry; each with their
    membership of the programme (if any), and whether their columns are the first programme's ledger's."""
    s = Subscriber
    mine = aliased(LoyaltyMember)
    first = aliased(LoyaltyMember)
    opened = exists().where(LoyaltyEntry.source == SOURCE, LoyaltyEntry.idem_key == cast(s.id, String))
    mirrored = exists().where(
        first.subscriber_id == s.id, first.programme_id == select(func.min(LoyaltyProgramme.id)).scalar_subquery(),
        LoyaltyBalance.member_id == first.id, func.coalesce(s.loyalty_points, 0) == LoyaltyBalance.available,
        s.loyalty_tier.is_not_distinct_from(first.level))
    imported = or_(s.loyalty_points > 0, and_(s.loyalty_tier.is_not(None), func.trim(s.loyalty_tier) != ""))
    return (select(s.id, s.loyalty_points, s.loyalty_tier, mine.id.label("member_id"), mine.status,
                   case((mirrored, True), else_=False).label("mirrored"))
            .outerjoin(mine, and_(mine.subscriber_id == s.id, mine.programme_id == programme_id))
            .where(s.id > after, imported, ~opened).order_by(s.id).limit(size))
