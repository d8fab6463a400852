"""The partner API below HTTP: engage/web/loyalty_api.py hands over the token, the operation, the
Idempotency-Key and the JSON body, and writes back the Answer. Here each operation's fields are
checked (an error names its field), the operation runs in a transaction of its own, and its answer is
kept under the key in that same transaction: the same key again is answered with it, whatever
happened since, and changes nothing; the same key with another request is refused (422). Refusals
are not kept: a partner fixes the request and sends it again with the same key.

    earn      {"msisdn", "amount", "transaction_id", "currency"?}   points for a purchase
    burn      {"msisdn", "points", "transaction_id", "code"}        pay with points, with consent
    consent   {"msisdn"}                                            a one-time code to the member by SMS
    balance   {"msisdn", "code"}                                    the balance, with consent
    reversal  {"transaction_id", "kind"?}                           undo its earn and burn (or the one named)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from engage import config
from engage.engine.audit import audit
from engage.engine.loyalty import consent_codes, ledger, partners
from engage.engine.loyalty.consent_codes import ConsentRefused
from engage.engine.loyalty.partners import Partner, PartnerError
from engage.engine.phones import InvalidNumber, to_e164
from engage.engine.store.schema import LoyaltyPartnerRequest

KEY_HEADER = "Idempotency-Key"
KEY = re.compile(r"^[\x21-\x7e]{1,100}$")  # printable ASCII, no spaces: what fits the ledger's key with a suffix
TRANSACTION_ID = re.compile(r"^[\x21-\x7e]{1,64}$")
FIELDS = {"earn": ({"msisdn", "amount", "transaction_id"}, {"currency"}),
          "burn": ({"msisdn", "points", "transaction_id", "code"}, set()),
          "consent": ({"msisdn"}, set()),
          "balance": ({"msisdn", "code"}, set()),
          "reversal": ({"transaction_id"}, {"kind"})}
OPERATIONS = tuple(FIELDS)
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]


def authenticate(engine: Engine, token: str | None) -> Partner | None:
    with engine.connect() as conn:
        return partners.resolve(conn, token)


def handle(engine: Engine, partner: Partner, operation: str, idem_key: str | None, body: dict[str, Any], *,
           region: str | None = None) -> Answer:
    """Run one request; every refusal is an Answer naming its field, never an exception. A refusal
    that a request with the same key, running at the same moment, caused (its code spent, its points
    posted) is answered with that request's answer, as a retry after it would be."""
    fingerprint = _fingerprint(operation, body)
    try:
        if idem_key is None or not KEY.match(idem_key):
            raise PartnerError(KEY_HEADER, "every request needs this header: 1 to 100 printable characters, "
                                           "unique per request (a retry sends the same)", 400)
        fields = _fields(operation, body, region or config.load().default_region)
        return _run(engine, partner, operation, idem_key, fields, fingerprint)
    except (ConsentRefused, PartnerError) as exc:
        if idem_key is not None and exc.field != KEY_HEADER:
            try:
                with engine.connect() as conn:
                    kept = _kept(conn, partner.id, idem_key, operation, fingerprint)
            except PartnerError as reused:  # the key was taken by another request meanwhile
                kept = Answer(reused.status, {"error": str(reused), "field": reused.field})
            if kept is not None:
                return kept
        if isinstance(exc, ConsentRefused) and exc.wrong_code_id is not None:
            with engine.begin() as conn:
                consent_codes.wrong_attempt(conn, exc.wrong_code_id)
        return Answer(exc.status, {"error": str(exc), "field": exc.field})


def _run(engine: Engine, partner: Partner, operation: str, key: str, fields: dict[str, Any], fingerprint: str,
         *, retried: bool = False) -> Answer:
    try:
        with engine.begin() as conn:
            kept = _kept(conn, partner.id, key, operation, fingerprint)
            if kept is not None:
                return kept
            answer = RUN[operation](conn, partner, key, fields)
            conn.execute(insert(LoyaltyPartnerRequest).values(
                partner_id=partner.id, idem_key=key, operation=operation, fingerprint=fingerprint, answer=answer))
        return Answer(200, answer)
    except IntegrityError:  # another request, at the same moment, with this key or this transaction
        if retried:
            raise
        return _run(engine, partner, operation, key, fields, fingerprint, retried=True)


def _kept(conn: Connection, partner_id: int, key: str, operation: str, fingerprint: str) -> Answer | None:
    row = conn.execute(select(LoyaltyPartnerRequest).where(LoyaltyPartnerRequest.partner_id == partner_id,
                                                           LoyaltyPartnerRequest.idem_key == key)).first()
    if row is None:
        return None
    if row.operation != operation or row.fingerprint != fingerprint:
        raise PartnerError(KEY_HEADER, f"this key was used for another request ({row.operation}); a new request "
                                       "needs a new key")
    return Answer(200, dict(row.answer))


def _fingerprint(operation: str, body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([operation, body], sort_keys=True, default=str).encode()).hexdigest()


def _fields(operation: str, body: dict[str, Any], region: str) -> dict[str, Any]:
    """The body's fields, each checked; the first wrong one is named."""
    required, optional = FIELDS[operation]
    unknown = sorted(set(body) - required - optional)
    if unknown:
        raise PartnerError(unknown[0], f"not a field of {operation}; they are {', '.join(sorted(required | optional))}",
                           400)
    missing = sorted(required - set(body))
    if missing:
        raise PartnerError(missing[0], "missing", 400)
    out = dict(body)
    if "msisdn" in body:
        if not isinstance(body["msisdn"], str):
            raise PartnerError("msisdn", "the member's number, as text", 400)
        try:
            out["msisdn"] = to_e164(body["msisdn"], region)
        except InvalidNumber as exc:
            raise PartnerError("msisdn", str(exc), 400) from None
    if "transaction_id" in body and not (isinstance(body["transaction_id"], str)
                                         and TRANSACTION_ID.match(body["transaction_id"])):
        raise PartnerError("transaction_id", "the partner's id of the purchase: 1 to 64 printable characters", 400)
    if "code" in body and not (isinstance(body["code"], str) and re.fullmatch(r"[0-9]{6}", body["code"])):
        raise PartnerError("code", "the six digits the member was sent", 400)
    if body.get("kind") not in (None, "earn", "burn"):
        raise PartnerError("kind", "earn or burn (none: both)", 400)
    return out


def _earn(conn: Connection, partner: Partner, key: str, f: dict[str, Any]) -> dict[str, Any]:
    if f.get("currency") not in (None, partner.currency):
        raise PartnerError("currency", f"this partner's amounts are in {partner.currency}", 400)
    return partners.earn(conn, partner, f["msisdn"], f["amount"], f["transaction_id"], key).as_json()


def _burn(conn: Connection, partner: Partner, key: str, f: dict[str, Any]) -> dict[str, Any]:
    done = partners.burn(conn, partner, f["msisdn"], f["points"], f["transaction_id"], key, f["code"])
    left = ledger.balance(conn, done.member_id)
    return {**done.as_json(), "value": str((done.points * partner.burn_value).quantize(CENT)),
            "currency": partner.currency, "available": left.available if left else 0}


def _consent(conn: Connection, partner: Partner, key: str, f: dict[str, Any]) -> dict[str, Any]:
    member_id = partners.member_id_of(conn, partner, f["msisdn"])
    expires_at = consent_codes.request(conn, partner.id, partner.name, member_id)
    return {"msisdn": f["msisdn"], "sent": True, "expires_at": expires_at.isoformat()}


def _balance(conn: Connection, partner: Partner, key: str, f: dict[str, Any]) -> dict[str, Any]:
    found = partners.balance(conn, partner, f["msisdn"], f["code"])
    return {"msisdn": f["msisdn"], "available": found.available,
            "expiring": [{"at": at.isoformat(), "points": points} for at, points in found.expiring]}


def _reversal(conn: Connection, partner: Partner, key: str, f: dict[str, Any]) -> dict[str, Any]:
    done = partners.reverse(conn, partner, f["transaction_id"], key, kind=f.get("kind"))
    reversed_ = [{"undoes": t.undoes, "points": t.points} for t in done]
    if any(t.new for t in done):
        audit(conn, f"partner:{partner.code}", "loyalty.partner.reversal", "loyalty_partner", partner.id,
              transaction_id=f["transaction_id"], reversed=reversed_)
    return {"transaction_id": f["transaction_id"], "reversed": reversed_}


RUN: dict[str, Callable[[Connection, Partner, str, dict[str, Any]], dict[str, Any]]] = {
    "earn": _earn, "burn": _burn, "consent": _consent, "balance": _balance, "reversal": _reversal}
