"""A member's consent to a partner reading their balance or burning their points: a six-digit
one-time code sent to them by SMS, which the partner then presents (the member reads it out at the
till). The code is good for one partner, one use, LIFETIME, and MAX_ATTEMPTS wrong tries; only the
latest code asked for a (partner, member) counts. Only a salted hash is kept, and the code is never
logged; asking is capped per hour, so that codes cannot be farmed for guessing or to flood a phone.

The SMS takes the keyword replies' road (keywords/replies.py): a message in the reply campaign of
the template "Loyalty consent code" (written on first use, editable on the templates page like any
other) from the programme's sender. A template cannot hold a value that is not the subscriber's, so
the template is rendered here for the member and {code}, {partner} and {minutes} filled in after;
the message is queued with that text, which the dispatcher sends as it is. The sent text stays on
the message row, as every message's does, for the minutes the code lives and after."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update

from engage.engine.keywords import builtins, replies
from engage.engine.store.database import aware
from engage.engine.store.schema import (
    LoyaltyConsentCode,
    LoyaltyMember,
    LoyaltyProgramme,
    Subscriber,
)
from engage.engine.templates import store as template_store
from engage.engine.templates.render import FIELDS
from engage.engine.templates.store import TemplateSet

DIGITS = 6
LIFETIME = timedelta(minutes=10)
MAX_ATTEMPTS = 5
MAX_PER_HOUR = 5  # codes asked for one member by one partner
TEMPLATE = "Loyalty consent code"
SENDER_SETTING = "sms_sender"  # the programme's setting naming the sender of its codes
DEFAULT_SENDER = "Loyalty"
TEXTS = {
    "en": "Your code for {partner}: {code}. It is valid for {minutes} minutes. Give it only to pay or to show "
          "your points at {partner}.",
    "ru": "Ваш код для {partner}: {code}. Он действует {minutes} минут. Сообщайте его только для оплаты баллами "
          "или проверки баланса в {partner}.",
    "uz": "{partner} uchun kodingiz: {code}. U {minutes} daqiqa amal qiladi. Uni faqat {partner} da ballar bilan "
          "to'lash yoki balansni ko'rish uchun bering.",
    "fr": "Votre code pour {partner} : {code}. Il est valable {minutes} minutes. Ne le donnez que pour payer "
          "ou voir vos points chez {partner}.",
    "es": "Su código para {partner}: {code}. Es válido {minutes} minutos. Déselo solo a {partner} para pagar "
          "o ver sus puntos.",
}


class ConsentRefused(ValueError):
    """Why consent is not given, naming the field; `status` is the HTTP answer it makes."""

    def __init__(self, field: str, message: str, status: int = 403, *, wrong_code_id: int | None = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.status = field, status
        self.wrong_code_id = wrong_code_id  # a wrong code: the caller counts the attempt in a transaction of its own


def request(conn: Connection, partner_id: int, partner_name: str, member_id: int, *,
            now: datetime | None = None) -> datetime:
    """Make a code and queue its SMS to the member; returns when it expires."""
    now = now or datetime.now(UTC)
    asked = conn.execute(select(func.count()).select_from(LoyaltyConsentCode).where(
        LoyaltyConsentCode.partner_id == partner_id, LoyaltyConsentCode.member_id == member_id,
        LoyaltyConsentCode.created_at > now - timedelta(hours=1))).scalar_one()
    if asked >= MAX_PER_HOUR:
        raise ConsentRefused("msisdn", f"{MAX_PER_HOUR} codes were asked for this member within the hour; "
                                     "try again later", 429)
    code = f"{secrets.randbelow(10 ** DIGITS):0{DIGITS}d}"
    salt = secrets.token_hex(16)
    message_id = _send(conn, member_id, partner_name, code)
    expires_at = now + LIFETIME
    conn.execute(LoyaltyConsentCode.__table__.insert().values(
        partner_id=partner_id, member_id=member_id, salt=salt, code_hash=_hash(salt, code), expires_at=expires_at,
        attempts=0, message_id=message_id, created_at=now))
    return expires_at


def use(conn: Connection, partner_id: int, member_id: int, code: str, *, now: datetime | None = None) -> None:
    """Spend the member's latest code for this partner; ConsentRefused when it is not that code or
    cannot be used (none sent, used, expired, too many wrong tries). A wrong code is not counted
    here: the caller's transaction is undone with the refusal, so it counts it with `wrong_attempt`."""
    now = now or datetime.now(UTC)
    row = conn.execute(select(LoyaltyConsentCode).where(
        LoyaltyConsentCode.partner_id == partner_id, LoyaltyConsentCode.member_id == member_id)
        .order_by(LoyaltyConsentCode.id.desc()).limit(1)).first()
    if row is None:
        raise ConsentRefused("code", "no code was sent to this member for this partner: ask for one (consent)")
    if row.used_at is not None:
        raise ConsentRefused("code", "this code was used already: ask for a new one")
    if row.attempts >= MAX_ATTEMPTS:
        raise ConsentRefused("code", "too many wrong codes were given: ask for a new one")
    if aware(row.expires_at) <= now:
        raise ConsentRefused("code", "the code has expired: ask for a new one")
    if not hmac.compare_digest(_hash(row.salt, code), row.code_hash):
        left = MAX_ATTEMPTS - row.attempts - 1
        raise ConsentRefused("code", f"wrong code; {left} more attempt(s) before it stops working",
                           wrong_code_id=row.id)
    spent = conn.execute(update(LoyaltyConsentCode).where(
        LoyaltyConsentCode.id == row.id, LoyaltyConsentCode.used_at.is_(None),
        LoyaltyConsentCode.attempts < MAX_ATTEMPTS).values(used_at=now))
    if spent.rowcount != 1:  # spent by a request that ran at the same moment
        raise ConsentRefused("code", "this code was used already: ask for a new one")


def wrong_attempt(conn: Connection, code_id: int) -> None:
    conn.execute(update(LoyaltyConsentCode).where(LoyaltyConsentCode.id == code_id).values(
        attempts=LoyaltyConsentCode.attempts + 1))


def _hash(salt: str, code: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def _send(conn: Connection, member_id: int, partner_name: str, code: str) -> int:
    """Queue the code's SMS: the template rendered for the member, the code filled in after."""
    builtins.ensure(conn)  # the reply campaigns' segment
    template_id = _template(conn)
    who = conn.execute(select(Subscriber.id, Subscriber.msisdn, Subscriber.language, LoyaltyProgramme.settings)
                       .join(LoyaltyMember, LoyaltyMember.subscriber_id == Subscriber.id)
                       .join(LoyaltyProgramme, LoyaltyProgramme.id == LoyaltyMember.programme_id)
                       .where(LoyaltyMember.id == member_id)).one()
    sender = str((who.settings or {}).get(SENDER_SETTING) or DEFAULT_SENDER)
    chosen = TemplateSet(conn, template_id).pick(who.language)
    context: dict[str, Any] = {"msisdn": who.msisdn, "sender": sender, "campaign": TEMPLATE}
    columns = [getattr(Subscriber, f) for f in (*FIELDS, "attributes") if f in chosen.fields and f != "msisdn"]
    if columns:
        context.update(conn.execute(select(*columns).where(Subscriber.id == who.id)).one()._mapping)
    text = chosen.render(context).text
    if "{code}" not in text:  # the template was edited without it: the code must reach the member all the same
        text = f"{text} {{code}}"
    body = text.replace("{partner}", partner_name).replace("{minutes}", str(int(LIFETIME.total_seconds() // 60)))
    return replies.queue_text(conn, template_id, sender, who.msisdn, who.id, body.replace("{code}", code))


def _template(conn: Connection) -> int:
    """The consent code's template, written on first use."""
    return template_store.ensure_builtin(conn, TEMPLATE, TEXTS)
