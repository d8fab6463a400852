"""Exchange with other loyalty programmes (an airline's miles, a bank's bonus points): a member turns
our points into theirs (`exchange_out`: ours debited, floor(points x rate_out) theirs) or brings
theirs in (`exchange_in`: floor(their points x rate_in) of ours credited, in a lot with the
programme's expiry). Each direction has a minimum and a daily limit per member, both in our points,
the day being the UTC day; the limit is read under the member's balance row lock, so two exchanges at
once cannot both pass it. Each exchange is a ledger entry (source "exchange:<id>", the caller's key)
and a row of loyalty_exchange_transfers, from which the statement per exchange partner adds a period
up; the same key again answers with the first exchange and changes nothing."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from engage.engine.loyalty import ledger, programmes
from engage.engine.loyalty.ledger import Credit, InsufficientPoints
from engage.engine.loyalty.partners import MAX_POINTS, MAX_RATE, PartnerError, decimal_of
from engage.engine.store.schema import (
    LoyaltyBalance,
    LoyaltyEntry,
    LoyaltyExchangePartner,
    LoyaltyExchangeTransfer,
    LoyaltyMember,
)

CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
DIRECTIONS = ("in", "out")


class ExchangeError(PartnerError):
    """Names the field that is wrong (a PartnerError: the same fields, the same answers)."""


@dataclass(frozen=True)
class ExchangePartner:
    id: int
    programme_id: int
    code: str
    name: str
    rate_in: Decimal  # our points per one of theirs
    rate_out: Decimal  # their points per one of ours
    min_points: int
    daily_limit: int | None
    active: bool

    @property
    def source(self) -> str:
        return f"exchange:{self.id}"


@dataclass(frozen=True)
class Transfer:
    id: int
    direction: str
    member_id: int
    points: int  # ours
    their_points: int
    new: bool = True  # False: made before with the same key; this is that exchange

    def as_json(self) -> dict[str, Any]:
        return {"direction": self.direction, "points": self.points, "their_points": self.their_points}


def add(conn: Connection, programme_id: int, code: str, name: str, *, rate_in: Any, rate_out: Any,
        min_points: int = 1, daily_limit: int | None = None) -> ExchangePartner:
    code = code.strip().lower()
    if not CODE.match(code):
        raise ExchangeError("code", "1 to 32 lower-case letters, digits, _ or -, starting with a letter or digit")
    if not name.strip() or len(name.strip()) > 100:
        raise ExchangeError("name", "a programme exchanged with needs a name of up to 100 characters")
    try:
        rates = {f: decimal_of(f, v, positive=True, most=MAX_RATE) for f, v in (("rate_in", rate_in),
                                                                               ("rate_out", rate_out))}
    except PartnerError as exc:
        raise ExchangeError(exc.field, str(exc).split(": ", 1)[1], exc.status) from None
    if not _whole(min_points, 1):
        raise ExchangeError("min_points", f"a whole number of points from 1 to {MAX_POINTS:,}")
    if daily_limit is not None and not _whole(daily_limit, min_points):
        raise ExchangeError("daily_limit", "a whole number of points, at least the minimum (none: no limit)")
    if conn.execute(select(LoyaltyExchangePartner.id).where(LoyaltyExchangePartner.programme_id == programme_id,
                                                            LoyaltyExchangePartner.code == code)).first():
        raise ExchangeError("code", f"the programme exchanges with {code!r} already", 409)
    made = conn.execute(insert(LoyaltyExchangePartner).values(
        programme_id=programme_id, code=code, name=name.strip(), min_points=min_points, daily_limit=daily_limit,
        active=True, **rates).returning(LoyaltyExchangePartner.id)).scalar_one()
    return _partner(conn.execute(select(LoyaltyExchangePartner).where(LoyaltyExchangePartner.id == made)).one())


def get(conn: Connection, programme_id: int, code: str) -> ExchangePartner:
    """By the programme and its code; LookupError when there is none."""
    x = LoyaltyExchangePartner
    row = conn.execute(select(x).where(x.programme_id == programme_id, x.code == code.strip().lower())).first()
    if row is None:
        raise LookupError(f"the programme exchanges with no {code!r}")
    return _partner(row)


def listed(conn: Connection, programme_id: int) -> list[ExchangePartner]:
    """The programmes this one exchanges with, by code."""
    x = LoyaltyExchangePartner
    return [_partner(row) for row in conn.execute(select(x).where(x.programme_id == programme_id).order_by(x.code))]


def exchange_out(conn: Connection, partner: ExchangePartner, member_id: int, points: int, idem_key: str, *,
                 now: datetime | None = None) -> Transfer:
    """Our points to theirs; returns the exchange, with the points the other programme is to credit."""
    before = _before(conn, partner, idem_key)
    if before is not None:
        return before
    now = now or datetime.now(UTC)
    if not _whole(points, 1):
        raise ExchangeError("points", f"a whole number of points from 1 to {MAX_POINTS:,}", 400)
    theirs = _floor(points * partner.rate_out)
    _check(conn, partner, member_id, "out", points, theirs, now)
    try:
        posted = ledger.debit(conn, member_id, points, kind="exchange_out", cause="exchange", source=partner.source,
                              idem_key=idem_key, occurred_at=now, cause_id=partner.code)
    except InsufficientPoints:
        raise ExchangeError("points", f"the member has fewer than {points:,} points available", 409) from None
    if not posted.new:
        raise ExchangeError("key", "this key was used for another posting", 409)
    return _record(conn, partner, "out", member_id, points, theirs, posted.entry_id, now)


def exchange_in(conn: Connection, partner: ExchangePartner, member_id: int, their_points: int, idem_key: str, *,
                now: datetime | None = None) -> Transfer:
    """Their points to ours, credited in a lot with the programme's expiry."""
    before = _before(conn, partner, idem_key)
    if before is not None:
        return before
    now = now or datetime.now(UTC)
    if not _whole(their_points, 1):
        raise ExchangeError("their_points", f"a whole number of points from 1 to {MAX_POINTS:,}", 400)
    ours = _floor(their_points * partner.rate_in)
    _check(conn, partner, member_id, "in", ours, their_points, now)
    programme = programmes.get(conn, partner.programme_id)
    posted = ledger.post_credits(conn, [Credit(member_id, ours, now, "exchange", partner.source, idem_key,
                                               expires_at=programme.expiry_of(now), kind="exchange_in",
                                               cause_id=partner.code)])
    if not posted:  # the key posted something else of this partner's, outside an exchange
        raise ExchangeError("key", "this key was used for another posting", 409)
    return _record(conn, partner, "in", member_id, ours, their_points, posted[0][1], now)


def _check(conn: Connection, partner: ExchangePartner, member_id: int, direction: str, points: int, theirs: int,
           now: datetime) -> None:
    """The partner is active, the member an active one of its programme, the points at least the minimum
    and within what is left of today's limit. The member's balance row is locked first: the limit is
    read by one exchange of theirs at a time."""
    field = "points" if direction == "out" else "their_points"
    if not partner.active:
        raise ExchangeError("partner", f"the exchange with {partner.code} is suspended", 409)
    member = conn.execute(select(LoyaltyMember.status).where(LoyaltyMember.id == member_id,
                                                              LoyaltyMember.programme_id == partner.programme_id)
                          ).first()
    if member is None:
        raise ExchangeError("member", "not a member of the programme", 404)
    if member.status != "active":
        raise ExchangeError("member", f"the membership is {member.status}: it earns and spends nothing", 409)
    if points < partner.min_points or theirs <= 0:
        raise ExchangeError(field, f"an exchange is of {partner.min_points:,} of our points or more, and gives some "
                                   f"points on the other side ({points:,} ours, {theirs:,} theirs)")
    if partner.daily_limit is None:
        return
    conn.execute(update(LoyaltyBalance).where(LoyaltyBalance.member_id == member_id).values(updated_at=func.now()))
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    t = LoyaltyExchangeTransfer
    today = conn.execute(select(func.coalesce(func.sum(t.points), 0)).where(
        t.exchange_partner_id == partner.id, t.member_id == member_id, t.direction == direction,
        t.created_at >= day, t.created_at < day + timedelta(days=1))).scalar_one()
    if int(today) + points > partner.daily_limit:
        left = max(partner.daily_limit - int(today), 0)
        raise ExchangeError(field, f"over the daily limit of {partner.daily_limit:,} of our points "
                                   f"{direction}: {left:,} left today")


def statement(conn: Connection, partner_id: int, start: datetime, end: datetime) -> dict[str, Any]:
    """What went each way in [start, end): exchanges, our points and theirs."""
    partner = _partner(conn.execute(select(LoyaltyExchangePartner).where(
        LoyaltyExchangePartner.id == partner_id)).one())
    t = LoyaltyExchangeTransfer
    sums = {d: (int(n), int(p), int(tp)) for d, n, p, tp in conn.execute(
        select(t.direction, func.count(), func.coalesce(func.sum(t.points), 0),
               func.coalesce(func.sum(t.their_points), 0))
        .where(t.exchange_partner_id == partner_id, t.created_at >= start, t.created_at < end)
        .group_by(t.direction))}
    out: dict[str, Any] = {"exchange_partner": partner.code, "name": partner.name, "from": start.isoformat(),
                           "to": end.isoformat()}
    for direction in DIRECTIONS:
        n, points, theirs = sums.get(direction, (0, 0, 0))
        out[direction] = {"exchanges": n, "points": points, "their_points": theirs}
    return out


def statement_csv(made: dict[str, Any]) -> str:
    """The statement as CSV: one line per direction."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["exchange_partner", "from", "to", "direction", "exchanges", "points", "their_points"])
    for direction in DIRECTIONS:
        d = made[direction]
        writer.writerow([made["exchange_partner"], made["from"], made["to"], direction, d["exchanges"], d["points"],
                         d["their_points"]])
    return text.getvalue()


def _before(conn: Connection, partner: ExchangePartner, idem_key: str) -> Transfer | None:
    row = conn.execute(select(LoyaltyExchangeTransfer).join(
        LoyaltyEntry, LoyaltyEntry.id == LoyaltyExchangeTransfer.entry_id).where(
        LoyaltyEntry.source == partner.source, LoyaltyEntry.idem_key == idem_key)).first()
    return None if row is None else Transfer(row.id, row.direction, row.member_id, row.points, row.their_points,
                                             new=False)


def _record(conn: Connection, partner: ExchangePartner, direction: str, member_id: int, points: int, theirs: int,
            entry_id: int, now: datetime) -> Transfer:
    made = conn.execute(insert(LoyaltyExchangeTransfer).values(
        exchange_partner_id=partner.id, direction=direction, member_id=member_id, points=points, their_points=theirs,
        entry_id=entry_id, created_at=now).returning(LoyaltyExchangeTransfer.id)).scalar_one()
    return Transfer(made, direction, member_id, points, theirs)


def _floor(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def _whole(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= MAX_POINTS


def _partner(row: Any) -> ExchangePartner:
    return ExchangePartner(row.id, row.programme_id, row.code, row.name, Decimal(row.rate_in), Decimal(row.rate_out),
                           row.min_points, row.daily_limit, row.active)
