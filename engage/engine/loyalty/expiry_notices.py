"""The "points will expire" SMS: a member whose points expire within the programme's
`expiry_notice_days` (default 7; 0 turns it off) is told once per expiry day, so that they can spend
them first. Told once: the notice row (member, day) is written before its message, ON CONFLICT DO
NOTHING, so two workers, or the job run again, never text a member twice about one day; a day is
told whole (every lot due that UTC day counts), because the window ends at a midnight.

The SMS takes the keyword replies' road (keywords/replies.py), as the consent codes do: a message of
the reply campaign of the template "Loyalty: points expiring" (written on first use in en, ru and uz,
editable on the templates page like any other) from the programme's sender. A template holds only
subscriber fields, so it is rendered here per member through the sandbox and {points} and {date}
filled in after, written as the variant's language writes numbers and dates; the message is queued
with that text. Unlike an answer to an MO, nobody asked for it: its campaign keeps QUIET_HOURS in the
subscriber's zone (held until they end, by the dispatcher), and a number that opted out of SMS is
never told (STOP sets aside a notice not yet sent, as it does every message).

Set-based: a batch is one query for the lots in the window (members in order, through the open-lots
index), one INSERT of the notices, one of the messages and one UPDATE naming each notice's message."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from babel.dates import format_date
from babel.numbers import format_decimal
from jinja2.exceptions import SecurityError
from sqlalchemy import Connection, Date, Engine, and_, cast, exists, func, select, update

from engage.engine.keywords import builtins, replies
from engage.engine.loyalty.consent_codes import DEFAULT_SENDER, SENDER_SETTING
from engage.engine.loyalty.programmes import EXPIRY_NOTICE_DAYS, SETTINGS
from engage.engine.store.bulk import conflict_insert, update_from_values
from engage.engine.store.schema import (
    Campaign,
    LoyaltyExpiryNotice,
    LoyaltyLot,
    LoyaltyMember,
    LoyaltyProgramme,
    OptOut,
    Subscriber,
)
from engage.engine.templates import store as template_store
from engage.engine.templates.formatting import gsm_safe, locale_for
from engage.engine.templates.render import FIELDS, TemplateError
from engage.engine.templates.store import TemplateSet

TEMPLATE = "Loyalty: points expiring"
DAYS_SETTING = EXPIRY_NOTICE_DAYS  # days ahead a member is told; 0: never (set on the programme's settings page)
DEFAULT_DAYS: int = SETTINGS[EXPIRY_NOTICE_DAYS]
QUIET_HOURS = "21:00-09:00"  # the notices' campaign's (set where it has none), in each subscriber's zone
BATCH = 5_000  # lots read per batch
TEXTS = {
    "en": "{points} of your loyalty points expire on {date}. Use them before then.",
    "ru": "{points} ваших бонусных баллов сгорят {date}, успейте их потратить.",
    "uz": "{points} bonus ballaringiz {date} kuni kuyadi. Ulardan undan oldin foydalaning.",
}


@dataclass(frozen=True)
class Due:
    """What one member is told: the points due on one day."""

    member_id: int
    day: date
    points: int
    subscriber: dict[str, Any]  # id, msisdn, language and the columns the template reads


def send_due(engine: Engine, now: datetime | None = None, *, batch: int = BATCH) -> dict[str, Any]:
    """Tell every programme's members whose points expire within its notice window; per programme
    code, how many were told and of how many points ("off" where the programme sends none)."""
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        programmes = conn.execute(select(LoyaltyProgramme.id, LoyaltyProgramme.code, LoyaltyProgramme.settings)
                                  .order_by(LoyaltyProgramme.id)).all()
    done: dict[str, Any] = {}
    for programme_id, code, settings in programmes:
        try:
            days = notice_days(settings)
        except ValueError as exc:  # this programme's typo stops none of the others
            done[code] = {"error": str(exc)}
            continue
        if not days:
            done[code] = "off"
            continue
        sender = str((settings or {}).get(SENDER_SETTING) or DEFAULT_SENDER)
        # the window ends at a midnight (UTC), so that a day's lots are told together
        until = datetime.combine(now.astimezone(UTC).date() + timedelta(days=days + 1), time(), UTC)
        told = {"notices": 0, "points": 0, "batches": 0}
        after = 0
        while after is not None:
            with engine.begin() as conn:
                count, points, after = _batch(conn, programme_id, sender, now, until, after, batch)
            told["notices"] += count
            told["points"] += points
            told["batches"] += 1
        done[code] = told
    return done


def notice_days(settings: dict[str, Any] | None) -> int:
    """The programme's notice window in days (0: no notices); a value that is not a whole number
    from 0 to 365 is a ValueError naming the setting, so a typo is seen, not taken as off."""
    value = (settings or {}).get(DAYS_SETTING, DEFAULT_DAYS)
    if value is None:
        return DEFAULT_DAYS
    if value is False:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 365:
        raise ValueError(f"loyalty programme setting {DAYS_SETTING}: {value!r} is not a whole number of days "
                         "from 0 (no notices) to 365")
    return value


def _batch(conn: Connection, programme_id: int, sender: str, now: datetime, until: datetime, after: int,
           size: int) -> tuple[int, int, int | None]:
    """Tell one batch of members; (notices, points, the member to go on after; None at the end)."""
    builtins.ensure(conn)  # the reply campaigns' segment
    templates = TemplateSet(conn, template_id(conn))
    dues, last = _dues(conn, programme_id, now, until, after, size, templates.fields)
    if not dues:
        return 0, 0, last
    made = conn.execute(conflict_insert(conn, LoyaltyExpiryNotice.__table__).on_conflict_do_nothing(
        index_elements=["member_id", "expires_on"]).returning(
        LoyaltyExpiryNotice.id, LoyaltyExpiryNotice.member_id, LoyaltyExpiryNotice.expires_on),
        [{"member_id": d.member_id, "expires_on": d.day, "points": d.points} for d in dues]).all()
    if not made:  # another worker told them all
        return 0, 0, last
    new = {(member_id, day): notice_id for notice_id, member_id, day in made}
    dues = [d for d in dues if (d.member_id, d.day) in new]
    campaign_id = replies.campaign_for(conn, templates.template_id, sender)
    conn.execute(update(Campaign).where(Campaign.id == campaign_id, Campaign.quiet_hours.is_(None))
                 .values(quiet_hours=QUIET_HOURS))
    message_ids = replies.queue_texts(conn, templates.template_id, sender, [
        (d.subscriber["msisdn"], d.subscriber["id"], _text(templates, d, sender)) for d in dues])
    update_from_values(conn, LoyaltyExpiryNotice.__table__, "id", [
        {"id": new[(d.member_id, d.day)], "message_id": m} for d, m in zip(dues, message_ids, strict=True)])
    return len(dues), sum(d.points for d in dues), last


def _dues(conn: Connection, programme_id: int, now: datetime, until: datetime, after: int, size: int,
          fields: frozenset[str]) -> tuple[list[Due], int | None]:
    """The next `size` lots in the window of active members not opted out, member after member,
    summed per (member, day) not yet told; and the member the next batch goes on after (None: none
    left). A member whose lots the limit cut is left whole to the next batch."""
    lot, member, subscriber = LoyaltyLot, LoyaltyMember, Subscriber
    day = _day(conn, lot.expires_at)
    columns = [getattr(subscriber, f) for f in (*FIELDS, "attributes") if f in fields and f not in ("msisdn",
                                                                                                   "language")]
    told = exists().where(LoyaltyExpiryNotice.member_id == lot.member_id, LoyaltyExpiryNotice.expires_on == day)
    opted_out = exists().where(OptOut.msisdn == subscriber.msisdn, OptOut.channel == "sms")
    rows = conn.execute(
        select(lot.member_id, day.label("day"), lot.remaining, subscriber.id, subscriber.msisdn, subscriber.language,
               *columns)
        .join(member, member.id == lot.member_id).join(subscriber, subscriber.id == member.subscriber_id)
        .where(lot.member_id > after, lot.remaining > 0, lot.expires_at > now, lot.expires_at < until,
               and_(member.programme_id == programme_id, member.status == "active"), ~opted_out, ~told)
        .order_by(lot.member_id, lot.expires_at, lot.id).limit(size)).all()
    if not rows:
        return [], None
    last = rows[-1].member_id
    if len(rows) == size and rows[0].member_id != last:
        rows = [r for r in rows if r.member_id != last]  # the cut member's lots, whole, next time
        last = rows[-1].member_id
    points: dict[tuple[int, date], int] = defaultdict(int)
    who: dict[int, dict[str, Any]] = {}
    for row in rows:
        points[(row.member_id, _as_date(row.day))] += int(row.remaining)
        who[row.member_id] = {k: v for k, v in row._mapping.items() if k not in ("member_id", "day", "remaining")}
    return [Due(m, d, p, who[m]) for (m, d), p in points.items()], last


def _day(conn: Connection, column: Any) -> Any:
    """The UTC day of a time: PostgreSQL's date in UTC whatever the session's zone; SQLite keeps UTC
    text, whose date() is the day as its Date columns keep it."""
    if conn.dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _text(templates: TemplateSet, due: Due, sender: str) -> str:
    """The template in the member's language rendered for them, then the points and the day written
    as that language writes them. A variant that fails to render (edited since it was checked, a
    value the sandbox refuses) is replaced by the built-in text, so one member stops no batch."""
    chosen = templates.pick(due.subscriber.get("language"))
    context = {**due.subscriber, "sender": sender, "campaign": TEMPLATE}
    try:
        text = chosen.render(context).text
    except (TemplateError, SecurityError):
        text = TEXTS.get(chosen.language, TEXTS["en"])
    locale = locale_for(chosen.language)
    points = gsm_safe(format_decimal(due.points, locale=locale))
    return text.replace("{points}", points).replace("{date}", gsm_safe(format_date(due.day, "long", locale=locale)))


def template_id(conn: Connection) -> int:
    """The notice's template, written on first use."""
    return template_store.ensure_builtin(conn, TEMPLATE, TEXTS)
