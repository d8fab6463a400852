"""A person's correction of a member's points, with its reason. A small one is posted at once; one
above the programme's threshold (its setting adjust_approval_above, default 1,000 points either way)
waits until a second person approves it, as a campaign waits for its approver, so that nobody moves
large amounts alone. Approving posts it through the ledger under the key "adjustment:<id>", so that
two approvals at the same moment post once; a debit the balance cannot cover is refused and the
adjustment keeps waiting. Every request and decision is in the audit log.

branch: the asker's; a member whose subscriber is of another branch is not found (the same answer
as none), as on the member's ledger page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Select, func, insert, select, update

from engage.engine.audit import audit
from engage.engine.loyalty import ledger, programmes
from engage.engine.loyalty.ledger import Credit, InsufficientPoints
from engage.engine.store.database import aware
from engage.engine.store.schema import (
    LoyaltyAdjustment,
    LoyaltyBalance,
    LoyaltyEntry,
    LoyaltyMember,
    LoyaltyProgramme,
    Subscriber,
)

MAX_POINTS = 1_000_000_000  # a correction, not a way to mint a liability by a slip of the keyboard
MAX_REASON = 200
SOURCE = "adjustment"
STATES = ("pending", "posted", "rejected")


class AdjustmentError(ValueError):
    """Names the field (or the state) that is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class AdjustmentNotFound(LookupError):
    pass


class Overdraw(InsufficientPoints):
    """A debit the member's available points do not cover: nothing is taken."""

    def __init__(self, member_id: int, wanted: int, available: int, *, waits: bool) -> None:
        super().__init__(member_id, wanted)
        self.available = available
        self.args = (f"points: the member has {available:,} points available, fewer than the {wanted:,} this "
                     "adjustment takes; a balance never goes below zero"
                     + ("; the adjustment still waits" if waits else "; nothing was changed"),)


@dataclass(frozen=True)
class Adjustment:
    id: int
    programme_id: int
    member_id: int
    points: int
    reason: str
    state: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    entry_id: int | None
    msisdn: str | None = None  # the member's number, where it was read with the adjustment

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "points": self.points, "reason": self.reason, "state": self.state,
                "requested_by": self.requested_by, "requested_at": self.requested_at.isoformat(),
                "decided_by": self.decided_by, "decided_at": self.decided_at and self.decided_at.isoformat(),
                "decision_reason": self.decision_reason, "entry_id": self.entry_id, "msisdn": self.msisdn}


def threshold(conn: Connection, programme: programmes.Programme | int | str) -> int:
    """The most points an adjustment may move without a second person (the programme's setting)."""
    if not isinstance(programme, programmes.Programme):
        programme = programmes.get(conn, programme)
    value = programme.setting(programmes.ADJUST_APPROVAL_ABOVE)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise AdjustmentError(programmes.ADJUST_APPROVAL_ABOVE, f"the programme's setting is {value!r}, not a whole "
                                                                "number of points of 0 or more")
    return value


def request(conn: Connection, programme: programmes.Programme | int | str, member_id: int, points: int,
            reason: str, *, actor: str, branch: str | None = None) -> Adjustment:
    """Posted at once within the threshold (decided by the asker), else pending. A debit beyond the
    available points raises Overdraw and leaves nothing behind."""
    if not isinstance(programme, programmes.Programme):
        programme = programmes.get(conn, programme)
    if isinstance(points, bool) or not isinstance(points, int) or points == 0 or abs(points) > MAX_POINTS:
        raise AdjustmentError("points", f"{points!r}: a whole number of points other than 0, at most "
                                        f"{MAX_POINTS:,} either way (minus takes points away)")
    reason = _reason("reason", reason)
    _member(conn, programme.id, member_id, branch)
    at_once = abs(points) <= threshold(conn, programme)
    with conn.begin_nested():  # an overdraw leaves no adjustment behind, whatever the caller does next
        adjustment_id = conn.execute(insert(LoyaltyAdjustment).values(
            programme_id=programme.id, member_id=member_id, points=points, reason=reason, state="pending",
            requested_by=actor).returning(LoyaltyAdjustment.id)).scalar_one()
        if at_once:
            _post(conn, programme, adjustment_id, member_id, points, reason, actor, waits=False)
    made = get(conn, adjustment_id)
    audit(conn, actor, "loyalty.adjustment.request", "loyalty_adjustment", made.id, programme=programme.code,
          member=member_id, points=points, reason=reason, state=made.state, entry=made.entry_id)
    return made


def approve(conn: Connection, adjustment_id: int, *, actor: str, branch: str | None = None) -> Adjustment:
    """A second person posts a pending adjustment; its asker may not. An overdraw keeps it pending."""
    found = _pending(conn, adjustment_id, branch)
    if found.requested_by == actor:
        raise AdjustmentError("approver", f"a second person approves: {actor} asked for adjustment {found.id}")
    programme = programmes.get(conn, found.programme_id)
    with conn.begin_nested():
        _decide(conn, found, "posted", actor)
        _post(conn, programme, found.id, found.member_id, found.points, found.reason, actor, waits=True)
    audit(conn, actor, "loyalty.adjustment.approve", "loyalty_adjustment", found.id, programme=programme.code,
          member=found.member_id, points=found.points, requested_by=found.requested_by)
    return get(conn, found.id)


def reject(conn: Connection, adjustment_id: int, *, actor: str, reason: str, branch: str | None = None) -> Adjustment:
    """A pending adjustment is dropped, with why; no points move. Its asker may withdraw it so."""
    why = _reason("reason", reason)
    found = _pending(conn, adjustment_id, branch)
    _decide(conn, found, "rejected", actor, why)
    audit(conn, actor, "loyalty.adjustment.reject", "loyalty_adjustment", found.id, member=found.member_id,
          points=found.points, requested_by=found.requested_by, reason=why)
    return get(conn, found.id)


def get(conn: Connection, adjustment_id: int, *, branch: str | None = None) -> Adjustment:
    rows = _read(conn, _listed(branch).where(LoyaltyAdjustment.id == adjustment_id))
    if not rows:
        raise AdjustmentNotFound(f"adjustment {adjustment_id}: there is no such adjustment")
    return rows[0]


def pending(conn: Connection, programme_id: int, *, branch: str | None = None, limit: int = 200) -> list[Adjustment]:
    """Those waiting for a second person, oldest first (the first asked is the first answered)."""
    return _read(conn, _listed(branch).where(LoyaltyAdjustment.programme_id == programme_id,
                                             LoyaltyAdjustment.state == "pending")
                 .order_by(LoyaltyAdjustment.id).limit(limit))


def decided(conn: Connection, programme_id: int, *, branch: str | None = None, limit: int = 20) -> list[Adjustment]:
    """The latest posted or rejected, newest first."""
    return _read(conn, _listed(branch).where(LoyaltyAdjustment.programme_id == programme_id,
                                             LoyaltyAdjustment.state != "pending")
                 .order_by(LoyaltyAdjustment.id.desc()).limit(limit))


def waiting(conn: Connection, programme_id: int, *, branch: str | None = None) -> int:
    query = select(func.count()).select_from(LoyaltyAdjustment).where(
        LoyaltyAdjustment.programme_id == programme_id, LoyaltyAdjustment.state == "pending")
    if branch is not None:
        query = query.join(LoyaltyMember, LoyaltyMember.id == LoyaltyAdjustment.member_id).join(
            Subscriber, Subscriber.id == LoyaltyMember.subscriber_id).where(Subscriber.branch == branch)
    return int(conn.execute(query).scalar_one())


def waiting_by_programme(conn: Connection, *, branch: str | None = None) -> list[tuple[str, str, int]]:
    """(code, name, how many wait) of each programme where adjustments wait, for the approvals page."""
    query = select(LoyaltyProgramme.code, LoyaltyProgramme.name, func.count()).join(
        LoyaltyAdjustment, LoyaltyAdjustment.programme_id == LoyaltyProgramme.id).where(
        LoyaltyAdjustment.state == "pending")
    if branch is not None:
        query = query.join(LoyaltyMember, LoyaltyMember.id == LoyaltyAdjustment.member_id).join(
            Subscriber, Subscriber.id == LoyaltyMember.subscriber_id).where(Subscriber.branch == branch)
    rows = conn.execute(query.group_by(LoyaltyProgramme.id, LoyaltyProgramme.code, LoyaltyProgramme.name)
                        .order_by(LoyaltyProgramme.code)).all()
    return [(code, name, int(n)) for code, name, n in rows]


def of_member(conn: Connection, member_id: int, *, limit: int = 50) -> list[Adjustment]:
    """A member's adjustments, newest first, whatever their state."""
    return _read(conn, _listed(None).where(LoyaltyAdjustment.member_id == member_id)
                 .order_by(LoyaltyAdjustment.id.desc()).limit(limit))


def member_of(conn: Connection, programme_id: int, msisdn: str, *, branch: str | None = None) -> int | None:
    """The member with this number (in this branch), for a desk that knows people by their number."""
    query = select(LoyaltyMember.id).join(Subscriber, Subscriber.id == LoyaltyMember.subscriber_id).where(
        LoyaltyMember.programme_id == programme_id, Subscriber.msisdn == msisdn)
    if branch is not None:
        query = query.where(Subscriber.branch == branch)
    return conn.execute(query).scalar()


def _post(conn: Connection, programme: programmes.Programme, adjustment_id: int, member_id: int, points: int,
          reason: str, actor: str, *, waits: bool) -> None:
    key, now = f"adjustment:{adjustment_id}", datetime.now(UTC)
    if points > 0:
        made = ledger.credit(conn, [Credit(member_id, points, now, "person", SOURCE, key,
                                           expires_at=programme.expiry_of(now), kind="adjust",
                                           cause_id=str(adjustment_id), actor=actor, reason=reason)])
        entry_id = made[0] if made else _entry_of(conn, key)
    else:
        try:
            entry_id = ledger.debit(conn, member_id, -points, kind="adjust", cause="person", source=SOURCE,
                                    idem_key=key, occurred_at=now, cause_id=str(adjustment_id), actor=actor,
                                    reason=reason).entry_id
        except InsufficientPoints:
            available = conn.execute(select(LoyaltyBalance.available).where(
                LoyaltyBalance.member_id == member_id)).scalar() or 0
            raise Overdraw(member_id, -points, available, waits=waits) from None
    conn.execute(update(LoyaltyAdjustment).where(LoyaltyAdjustment.id == adjustment_id).values(
        state="posted", entry_id=entry_id, decided_by=actor, decided_at=now))


def _entry_of(conn: Connection, key: str) -> int:
    return conn.execute(select(LoyaltyEntry.id).where(LoyaltyEntry.source == SOURCE,
                                                      LoyaltyEntry.idem_key == key)).scalar_one()


def _decide(conn: Connection, found: Adjustment, state: str, actor: str, why: str | None = None) -> None:
    """Only a pending adjustment is decided, once: the row's lock makes a second decider at the same
    moment find it decided."""
    done = conn.execute(update(LoyaltyAdjustment).where(
        LoyaltyAdjustment.id == found.id, LoyaltyAdjustment.state == "pending").values(
        state=state, decided_by=actor, decided_at=datetime.now(UTC), decision_reason=why))
    if done.rowcount != 1:
        raise AdjustmentError("state", f"adjustment {found.id} was decided by someone else a moment ago")


def _pending(conn: Connection, adjustment_id: int, branch: str | None) -> Adjustment:
    found = get(conn, adjustment_id, branch=branch)
    if found.state != "pending":
        raise AdjustmentError("state", f"adjustment {found.id} is {found.state} already (by {found.decided_by}), "
                                       "not waiting for a decision")
    return found


def _member(conn: Connection, programme_id: int, member_id: int, branch: str | None) -> None:
    query = select(LoyaltyMember.status).join(Subscriber, Subscriber.id == LoyaltyMember.subscriber_id).where(
        LoyaltyMember.id == member_id, LoyaltyMember.programme_id == programme_id)
    if branch is not None:
        query = query.where(Subscriber.branch == branch)
    status = conn.execute(query).scalar()
    if status is None:
        raise AdjustmentNotFound(f"member {member_id}: not a member of this programme")
    if status == "closed":
        raise AdjustmentError("member", f"member {member_id}'s membership is closed: its points are not adjusted")


def _reason(field: str, text: str | None) -> str:
    text = (text or "").strip()
    if not text:
        raise AdjustmentError(field, "say why: a reason is required (at most 200 characters)")
    if len(text) > MAX_REASON:
        raise AdjustmentError(field, f"{len(text)} characters; at most {MAX_REASON}")
    return text


def _listed(branch: str | None) -> Select:
    a = LoyaltyAdjustment
    query = select(a.id, a.programme_id, a.member_id, a.points, a.reason, a.state, a.requested_by, a.requested_at,
                   a.decided_by, a.decided_at, a.decision_reason, a.entry_id, Subscriber.msisdn).join(
        LoyaltyMember, LoyaltyMember.id == a.member_id).join(Subscriber, Subscriber.id == LoyaltyMember.subscriber_id)
    return query if branch is None else query.where(Subscriber.branch == branch)


def _read(conn: Connection, query: Select) -> list[Adjustment]:
    return [Adjustment(r.id, r.programme_id, r.member_id, r.points, r.reason, r.state, r.requested_by,
                       aware(r.requested_at), r.decided_by, r.decided_at and aware(r.decided_at), r.decision_reason,
                       r.entry_id, r.msisdn) for r in conn.execute(query)]
