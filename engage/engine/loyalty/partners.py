"""Partners: merchants that earn the programme's points for their customers (a purchase of `amount`
gives floor(amount x earn_rate) points) and take points as payment (each worth `burn_value` of the
partner's currency), through the partner API (engine/loyalty/partner_api.py) with a token of their
own. The token ("lyp_" and 43 random URL-safe characters) is shown once; only its SHA-256 is kept and
a token is found by it, so no secret is compared character by character.

Each earn, burn and reversal is a ledger entry (source "partner:<id>", the request's Idempotency-Key
its key, the partner's transaction id its cause_id) and a row of loyalty_partner_transactions, from
which settlement adds a period up and a reversal finds what it undoes. A partner's transaction id
earns once and burns once. Burning, and reading a balance, need the member's consent: a one-time
code (consent_codes.py), spent in the same transaction, so a refused burn leaves the code usable."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Connection, insert, select, update

from engage.engine.loyalty import consent_codes, ledger, programmes
from engage.engine.loyalty.ledger import Credit, InsufficientPoints, LedgerError
from engage.engine.store.schema import (
    LoyaltyBalance,
    LoyaltyEntry,
    LoyaltyMember,
    LoyaltyPartner,
    LoyaltyPartnerTransaction,
    Subscriber,
)

TOKEN_PREFIX = "lyp_"
MAX_TOKEN = 200  # a longer "token" is not one of ours: not even hashed
CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_AMOUNT = Decimal("1e11")  # a purchase, in the partner's currency: past it, a mistake
AMOUNT_STEP = Decimal("0.0001")  # what loyalty_partner_transactions.amount keeps
MAX_RATE = Decimal("1e6")
MAX_POINTS = 10**12  # one posting: far beyond any purchase, well within a BIGINT


class PartnerError(ValueError):
    """Names the field that is wrong; `status` is the HTTP answer it makes (400 unreadable, 404 not
    found, 409 in conflict with what was done before, 422 valid but not allowed)."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.status = field, status


@dataclass(frozen=True)
class Partner:
    id: int
    programme_id: int
    code: str
    name: str
    earn_rate: Decimal
    currency: str
    burn_value: Decimal
    active: bool

    @property
    def source(self) -> str:
        """The ledger's idempotency namespace of this partner's postings."""
        return f"partner:{self.id}"


@dataclass(frozen=True)
class Transaction:
    id: int
    kind: str  # earn | burn | reversal
    transaction_id: str
    msisdn: str
    member_id: int
    points: int
    amount: Decimal | None
    currency: str
    new: bool = True  # False: done before with the same key; this is that transaction
    undoes: str | None = None  # a reversal's: the kind of what it reversed

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "transaction_id": self.transaction_id, "msisdn": self.msisdn,
                               "points": self.points}
        if self.amount is not None:
            out.update(amount=format(self.amount.normalize(), "f"), currency=self.currency)
        if self.undoes is not None:
            out["undoes"] = self.undoes
        return out


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def decimal_of(field: str, value: Any, *, positive: bool, most: Decimal) -> Decimal:
    """A money amount or a rate from JSON or the command line: a number or its text, finite, in range."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise PartnerError(field, "a number, e.g. 12.50", 400)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise PartnerError(field, f"{str(value)[:20]!r} is not a number", 400) from None
    if not number.is_finite() or number < 0 or (positive and number == 0) or number > most:
        raise PartnerError(field, f"a number {'above' if positive else 'from'} 0 {'and ' if positive else 'to '}"
                                  f"up to {most:,f}", 400)
    return number


def add_partner(conn: Connection, programme_id: int, code: str, name: str, earn_rate: Any, currency: str,
                burn_value: Any) -> tuple[Partner, str]:
    """A new partner and its token, which is not kept and cannot be shown again."""
    code = code.strip().lower()
    if not CODE.match(code):
        raise PartnerError("code", "1 to 32 lower-case letters, digits, _ or -, starting with a letter or digit")
    if not name.strip() or len(name.strip()) > 100:
        raise PartnerError("name", "a partner needs a name of up to 100 characters")
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise PartnerError("currency", f"{currency!r} is not an ISO 4217 code such as USD")
    rate = decimal_of("earn_rate", earn_rate, positive=True, most=MAX_RATE)
    value = decimal_of("burn_value", burn_value, positive=False, most=MAX_RATE)
    if conn.execute(select(LoyaltyPartner.id).where(LoyaltyPartner.programme_id == programme_id,
                                                    LoyaltyPartner.code == code)).first():
        raise PartnerError("code", f"the programme has a partner {code!r} already", 409)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    partner_id = conn.execute(insert(LoyaltyPartner).values(
        programme_id=programme_id, code=code, name=name.strip(), token_hash=token_hash(token), earn_rate=rate,
        currency=currency, burn_value=value, active=True).returning(LoyaltyPartner.id)).scalar_one()
    return by_id(conn, partner_id), token


def new_token(conn: Connection, partner_id: int) -> str:
    """Replace the partner's token (a lost or leaked one stops working at once); returns the new one."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(update(LoyaltyPartner).where(LoyaltyPartner.id == partner_id).values(token_hash=token_hash(token)))
    return token


def resolve(conn: Connection, token: str | None) -> Partner | None:
    """The active partner whose token this is, or None."""
    if not token or len(token) > MAX_TOKEN:
        return None
    row = conn.execute(select(LoyaltyPartner).where(LoyaltyPartner.token_hash == token_hash(token),
                                                    LoyaltyPartner.active.is_(True))).first()
    return None if row is None else _partner(row)


def get(conn: Connection, programme_id: int, code: str) -> Partner:
    """By the programme and the partner's code; LookupError when there is none."""
    row = conn.execute(select(LoyaltyPartner).where(LoyaltyPartner.programme_id == programme_id,
                                                    LoyaltyPartner.code == code.strip().lower())).first()
    if row is None:
        raise LookupError(f"the programme has no partner {code!r}")
    return _partner(row)


def listed(conn: Connection, programme_id: int) -> list[Partner]:
    """The programme's merchant partners, by code (their tokens are not kept, so not here either)."""
    return [_partner(row) for row in conn.execute(select(LoyaltyPartner).where(
        LoyaltyPartner.programme_id == programme_id).order_by(LoyaltyPartner.code))]


def by_id(conn: Connection, partner_id: int) -> Partner:
    return _partner(conn.execute(select(LoyaltyPartner).where(LoyaltyPartner.id == partner_id)).one())


def _partner(row: Any) -> Partner:
    return Partner(row.id, row.programme_id, row.code, row.name, Decimal(row.earn_rate), row.currency,
                   Decimal(row.burn_value), row.active)


def member_id_of(conn: Connection, partner: Partner, msisdn: str) -> int:
    """The active member of the partner's programme with this number; PartnerError otherwise."""
    row = conn.execute(select(LoyaltyMember.id, LoyaltyMember.status).join(
        Subscriber, Subscriber.id == LoyaltyMember.subscriber_id).where(
        Subscriber.msisdn == msisdn, LoyaltyMember.programme_id == partner.programme_id)).first()
    if row is None:
        raise PartnerError("msisdn", "not a member of the programme", 404)
    if row.status != "active":
        raise PartnerError("msisdn", f"the membership is {row.status}: it earns and spends nothing", 409)
    return row.id


def earn(conn: Connection, partner: Partner, msisdn: str, amount: Any, transaction_id: str, idem_key: str, *,
         now: datetime | None = None) -> Transaction:
    """Credit the member for a purchase at the partner. The same transaction with the same key again
    answers with the first; the transaction id earned already under another key is refused."""
    amount = decimal_of("amount", amount, positive=True, most=MAX_AMOUNT)
    if amount != amount.quantize(AMOUNT_STEP):
        raise PartnerError("amount", f"at most 4 decimals ({str(amount)[:30]})", 400)
    before = _done(conn, partner, "earn", transaction_id, idem_key)
    if before is not None:
        return before
    points = int((amount * partner.earn_rate).to_integral_value(rounding=ROUND_FLOOR))
    if points <= 0:
        raise PartnerError("amount", f"{amount} {partner.currency} earns no points at {partner.earn_rate} a unit")
    member_id = member_id_of(conn, partner, msisdn)
    programme = programmes.get(conn, partner.programme_id)
    now = now or datetime.now(UTC)
    posted = ledger.post_credits(conn, [Credit(member_id, points, now, "partner", partner.source, idem_key,
                                               expires_at=programme.expiry_of(now), cause_id=transaction_id)])
    if not posted:
        raise PartnerError("Idempotency-Key", "this key was used for another of the partner's postings", 409)
    return _record(conn, partner, "earn", transaction_id, msisdn, member_id, points, posted[0][1], now, amount)


def burn(conn: Connection, partner: Partner, msisdn: str, points: int, transaction_id: str, idem_key: str,
         code: str, *, now: datetime | None = None) -> Transaction:
    """Take the member's points as payment, with their consent code; never more than they have."""
    if isinstance(points, bool) or not isinstance(points, int) or not 0 < points <= MAX_POINTS:
        raise PartnerError("points", f"a whole number of points from 1 to {MAX_POINTS:,}", 400)
    before = _done(conn, partner, "burn", transaction_id, idem_key)
    if before is not None:
        return before
    member_id = member_id_of(conn, partner, msisdn)
    now = now or datetime.now(UTC)
    consent_codes.use(conn, partner.id, member_id, code, now=now)
    try:
        posted = ledger.debit(conn, member_id, points, kind="partner_burn", cause="partner", source=partner.source,
                              idem_key=idem_key, occurred_at=now, cause_id=transaction_id)
    except InsufficientPoints:
        raise PartnerError("points", f"the member has fewer than {points:,} points available", 409) from None
    if not posted.new:
        raise PartnerError("Idempotency-Key", "this key was used for another of the partner's postings", 409)
    _spent(conn, member_id, points)
    return _record(conn, partner, "burn", transaction_id, msisdn, member_id, points, posted.entry_id, now, None)


def balance(conn: Connection, partner: Partner, msisdn: str, code: str, *,
            now: datetime | None = None) -> ledger.Balance:
    """The member's balance, with their consent code."""
    member_id = member_id_of(conn, partner, msisdn)
    consent_codes.use(conn, partner.id, member_id, code, now=now)
    found = ledger.balance(conn, member_id, now=now)
    assert found is not None, "every member has a balance row (members.enrol)"
    return found


def reverse(conn: Connection, partner: Partner, transaction_id: str, idem_key: str, *, kind: str | None = None,
            now: datetime | None = None) -> list[Transaction]:
    """Undo the transaction's earn and burn (or the one `kind` names): the points earned are taken
    back (refused when the member has spent them), the points burnt given back. Done before with the
    same key: the same answer; with another key: refused."""
    t = LoyaltyPartnerTransaction
    query = select(t).where(t.partner_id == partner.id, t.transaction_id == transaction_id, t.kind != "reversal")
    originals = conn.execute(query.where(t.kind == kind) if kind else query.order_by(t.id)).all()
    if not originals:
        raise PartnerError("transaction_id", f"the partner has no {kind or 'earn or burn'} {transaction_id!r}", 404)
    reversals = {r.reverses: r for r in conn.execute(select(t).where(t.reverses.in_([o.id for o in originals])))}
    if len(reversals) == len(originals):
        keys = set(conn.execute(select(LoyaltyEntry.idem_key).where(
            LoyaltyEntry.id.in_([r.entry_id for r in reversals.values()]))).scalars())
        if keys != {_reversal_key(idem_key, o.kind) for o in originals}:
            raise PartnerError("transaction_id", f"{transaction_id!r} was reversed already", 409)
        return [_transaction(reversals[o.id], new=False, undoes=o.kind) for o in originals]
    now = now or datetime.now(UTC)
    made = []
    for original in originals:
        if original.id in reversals:
            continue
        try:
            posted = ledger.reverse(conn, original.entry_id, actor=f"partner:{partner.code}",
                                    reason=f"reversal of {original.kind} {transaction_id}"[:200],
                                    source=partner.source, idem_key=_reversal_key(idem_key, original.kind),
                                    cause="partner")
        except InsufficientPoints:
            raise PartnerError("transaction_id", f"the member has spent the {original.points:,} points this earn "
                                                 "gave: it cannot be reversed", 409) from None
        except LedgerError as exc:  # reversed by a person already
            raise PartnerError("transaction_id", str(exc), 409) from None
        if original.kind == "burn":
            _spent(conn, original.member_id, -original.points)
        made.append(_record(conn, partner, "reversal", transaction_id, original.msisdn, original.member_id,
                            original.points, posted.entry_id, now, None, reverses=original))
    return made


def _reversal_key(idem_key: str, kind: str) -> str:
    return f"{idem_key}:{kind}"


def _spent(conn: Connection, member_id: int, points: int) -> None:
    """A burn counts in the member's lifetime redeemed points (a reversed one no longer does). The
    balance row is locked already, by the posting in this transaction."""
    conn.execute(update(LoyaltyBalance).where(LoyaltyBalance.member_id == member_id).values(
        redeemed=LoyaltyBalance.redeemed + points))


def _done(conn: Connection, partner: Partner, kind: str, transaction_id: str, idem_key: str) -> Transaction | None:
    """The transaction done before under the same key, or None; PartnerError when it was done under another."""
    t = LoyaltyPartnerTransaction
    row = conn.execute(select(t, LoyaltyEntry.idem_key).join(LoyaltyEntry, LoyaltyEntry.id == t.entry_id).where(
        t.partner_id == partner.id, t.kind == kind, t.transaction_id == transaction_id)).first()
    if row is None:
        return None
    if row.idem_key != idem_key:
        raise PartnerError("transaction_id", f"{transaction_id!r} was {'earned' if kind == 'earn' else 'burnt'} "
                                             "already (with another Idempotency-Key)", 409)
    return _transaction(row, new=False)


def _record(conn: Connection, partner: Partner, kind: str, transaction_id: str, msisdn: str, member_id: int,
            points: int, entry_id: int, now: datetime, amount: Decimal | None, *,
            reverses: Any = None) -> Transaction:
    row_id = conn.execute(insert(LoyaltyPartnerTransaction).values(
        partner_id=partner.id, kind=kind, transaction_id=transaction_id, msisdn=msisdn, member_id=member_id,
        points=points, amount=amount, currency=partner.currency, entry_id=entry_id,
        reverses=None if reverses is None else reverses.id, created_at=now).returning(
        LoyaltyPartnerTransaction.id)).scalar_one()
    return Transaction(row_id, kind, transaction_id, msisdn, member_id, points, amount, partner.currency,
                       undoes=None if reverses is None else reverses.kind)


def _transaction(row: Any, *, new: bool, undoes: str | None = None) -> Transaction:
    return Transaction(row.id, row.kind, row.transaction_id, row.msisdn, row.member_id, row.points,
                       None if row.amount is None else Decimal(row.amount), row.currency, new, undoes)
