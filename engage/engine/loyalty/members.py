"""Enrolment and a member's status. Enrolling is set-based (a segment or a bulk file enrols millions
in one statement per batch) and idempotent: enrolling a member again changes nothing. Each new
member gets their balance row in the same transaction, so postings only ever update it.

A subscriber who joins the first programme with points imported before engage kept a ledger
(subscribers.loyalty_points) has them credited as their opening balance as they join, under the key
opening_balances uses (once, whatever enrols them): the profile's column mirrors that programme's
ledger from then on, and would otherwise lose the imported figure at the first posting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, func, select, update

from engage.engine.loyalty import ledger, levels
from engage.engine.store.bulk import chunks, conflict_insert, one_of
from engage.engine.store.schema import LoyaltyBalance, LoyaltyMember, LoyaltyProgramme, Subscriber

CHANNELS = ("keyword", "ussd", "api", "bulk", "segment", "person", "migration")
OPENING_SOURCE, OPENING_REASON = "opening", "opening balance from the imported loyalty_points"
STATUSES = ("active", "suspended", "closed")
BATCH = 5_000


class MemberError(ValueError):
    pass


@dataclass(frozen=True)
class Member:
    id: int
    programme_id: int
    subscriber_id: int
    status: str
    level: str | None


def enrol(conn: Connection, programme_id: int, subscriber_ids: Sequence[int], via: str) -> int:
    """How many were enrolled now (those already members are left as they are)."""
    if via not in CHANNELS:
        raise MemberError(f"via: {via!r} is not one of {', '.join(CHANNELS)}")
    settings, valid_days = conn.execute(select(LoyaltyProgramme.settings, LoyaltyProgramme.points_valid_days)
                                        .where(LoyaltyProgramme.id == programme_id)).one()
    first = levels.of(settings)
    opens = via != "migration" and programme_id == conn.execute(select(func.min(LoyaltyProgramme.id))).scalar()
    added = 0
    for batch in chunks(sorted(set(subscriber_ids)), BATCH):
        stmt = conflict_insert(conn, LoyaltyMember.__table__).on_conflict_do_nothing(
            index_elements=["programme_id", "subscriber_id"]).returning(LoyaltyMember.id)
        ids = conn.execute(stmt, [{"programme_id": programme_id, "subscriber_id": s, "status": "active",
                                   "level": first.names[0] if first else None, "enrolled_via": via}
                                  for s in batch]).scalars().all()
        if ids:
            conn.execute(conflict_insert(conn, LoyaltyBalance.__table__).on_conflict_do_nothing(),
                         [{"member_id": i} for i in ids])
            if opens:
                _open_imported(conn, programme_id, ids, valid_days)
        added += len(ids)
    return added


def _open_imported(conn: Connection, programme_id: int, member_ids: Sequence[int], valid_days: int | None) -> None:
    """The imported points of these new members credited as their opening balances (one query, one posting)."""
    now = datetime.now(UTC)
    rows = conn.execute(select(LoyaltyMember.id, Subscriber.id, Subscriber.loyalty_points).join(
        Subscriber, Subscriber.id == LoyaltyMember.subscriber_id).where(
        one_of(conn, LoyaltyMember.id, list(member_ids)), Subscriber.loyalty_points > 0)).all()
    expires = now + timedelta(days=valid_days) if valid_days else None
    ledger.post_credits(conn, [ledger.Credit(member, int(points), now, "system", OPENING_SOURCE, str(subscriber),
                                             expires_at=expires, kind="adjust", reason=OPENING_REASON)
                               for member, subscriber, points in rows])


def enrol_number(conn: Connection, programme_id: int, msisdn: str, via: str, *,
                 branch: str | None = None) -> tuple[int, bool]:
    """(the member id, enrolled now) of the subscriber with this number; LookupError when no
    subscriber (of `branch`, when one is given) has it."""
    query = select(Subscriber.id).where(Subscriber.msisdn == msisdn)
    if branch is not None:
        query = query.where(Subscriber.branch == branch)
    subscriber_id = conn.execute(query).scalar()
    if subscriber_id is None:
        raise LookupError(f"no subscriber has the number {msisdn}")
    added = enrol(conn, programme_id, [subscriber_id], via)
    member = find(conn, programme_id, subscriber_id)
    assert member is not None
    return member.id, added == 1


def find(conn: Connection, programme_id: int, subscriber_id: int) -> Member | None:
    row = conn.execute(select(LoyaltyMember).where(LoyaltyMember.programme_id == programme_id,
                                                   LoyaltyMember.subscriber_id == subscriber_id)).first()
    return None if row is None else Member(row.id, row.programme_id, row.subscriber_id, row.status, row.level)


def set_status(conn: Connection, member_id: int, status: str) -> None:
    """Suspended members keep their points but earn and spend none; closed ones are out for good."""
    if status not in STATUSES:
        raise MemberError(f"status: {status!r} is not one of {', '.join(STATUSES)}")
    done = conn.execute(update(LoyaltyMember).where(LoyaltyMember.id == member_id,
                                                    LoyaltyMember.status != "closed").values(status=status))
    if done.rowcount != 1:
        raise MemberError(f"member {member_id}: no such member, or closed (a closed membership is not reopened)")
