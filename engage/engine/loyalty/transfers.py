"""Points given by one member to another (a gift, a family's pool), as Safaricom's Bonga and Airtel's
programmes let their subscribers do. One transaction takes the points from the giver, oldest lots
first (a transfer_out entry), and credits them to the receiver (transfer_in) in a lot that keeps the
earliest expiry of what was taken: passing points around never makes them live longer. Both must be
active members of the same programme. The key makes a repeated request (a USSD hop sent twice, a
retried call) one transfer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select, text

from engage.engine.loyalty import ledger
from engage.engine.loyalty.ledger import Credit
from engage.engine.store.database import aware
from engage.engine.store.schema import LoyaltyEntry, LoyaltyMember, Subscriber

MOST = 1_000_000_000


class TransferError(ValueError):
    """Names the field that is wrong (points, to, from)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Gift:
    out_entry: int
    in_entry: int
    points: int
    new: bool  # False: the key was given before; this is that transfer


def transfer(conn: Connection, programme_id: int, giver: int, receiver: int, points: int, *, source: str,
             idem_key: str, actor: str | None = None, reason: str | None = None) -> Gift:
    """Move `points` from member `giver` to member `receiver`; InsufficientPoints (nothing moved)
    when the giver has fewer available, TransferError for anything else that is wrong."""
    if isinstance(points, bool) or not isinstance(points, int) or not 0 < points <= MOST:
        raise TransferError("points", f"a whole number of points from 1 to {MOST:,}")
    if giver == receiver:
        raise TransferError("to", "a member gives points to another member, not to themselves")
    keys = (f"{idem_key}:out", f"{idem_key}:in")
    before = dict(conn.execute(select(LoyaltyEntry.idem_key, LoyaltyEntry.id).where(
        LoyaltyEntry.source == source, LoyaltyEntry.idem_key.in_(keys))).all())
    if keys[0] in before:
        return Gift(before[keys[0]], before.get(keys[1], 0), points, False)
    states = dict(conn.execute(select(LoyaltyMember.id, LoyaltyMember.status).where(
        LoyaltyMember.id.in_((giver, receiver)), LoyaltyMember.programme_id == programme_id)).all())
    if states.get(giver) != "active":
        raise TransferError("from", "the giver is not an active member of the programme")
    if states.get(receiver) != "active":
        raise TransferError("to", "the receiver is not an active member of the programme")
    expires = _earliest_expiry(conn, giver, points)
    now = datetime.now(UTC)
    out = ledger.debit(conn, giver, points, kind="transfer_out", cause="transfer", source=source,
                       idem_key=keys[0], occurred_at=now, cause_id=str(receiver), actor=actor, reason=reason)
    (in_entry,) = ledger.credit(conn, [Credit(receiver, points, now, "transfer", source, keys[1], expires_at=expires,
                                              kind="transfer_in", cause_id=str(giver), actor=actor, reason=reason)])
    return Gift(out.entry_id, in_entry, points, True)


def member_by_number(conn: Connection, programme_id: int, msisdn: str) -> int | None:
    """The programme's member with this number (any status), or None."""
    return conn.execute(select(LoyaltyMember.id).join(Subscriber, Subscriber.id == LoyaltyMember.subscriber_id).where(
        LoyaltyMember.programme_id == programme_id, Subscriber.msisdn == msisdn)).scalar()


def _earliest_expiry(conn: Connection, member_id: int, points: int) -> datetime | None:
    """The earliest expiry among the lots `points` would be taken from (None: all live for ever)."""
    found = conn.execute(text(f"SELECT min(l.expires_at) FROM loyalty_lots AS l JOIN ({ledger.OLDEST_FIRST}) AS t "
                              "ON t.id = l.id"), {"member": member_id, "points": points}).scalar()
    if isinstance(found, str):  # SQLite gives a text() query's timestamps as text
        found = datetime.fromisoformat(found)
    return aware(found) if found is not None else None
