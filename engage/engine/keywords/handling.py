"""MOs stored by the receipts worker -> handled: de-duplicated, matched, acted on, marked, and
attributed as a reply to the campaign that last reached the number (`replied`).

An SMSC that lost our deliver_sm_resp sends the same MO again; so does a gateway that timed out on
its callback. The same text from the same number to the same destination within DUPLICATE_WINDOW of
one already handled is that MO again: it is kept (nothing is dropped) and marked as a duplicate of
the first, which alone acted. Each MO gets one `keyword` event saying what it was and what was done.

Batched: one query for the MOs waiting, one for their possible originals, one update for the
marks; the actions themselves write what they change.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, select

from engage import config
from engage.engine.campaigns.trial_sends import TEST_KIND
from engage.engine.events import record
from engage.engine.keywords.actions import ACTIONS, Inbound
from engage.engine.keywords.matching import Match, match
from engage.engine.phones import InvalidNumber, to_e164
from engage.engine.store.bulk import update_from_values
from engage.engine.store.database import aware
from engage.engine.store.failures import reason, transient
from engage.engine.store.schema import Campaign, InboundMessage, Message

log = logging.getLogger(__name__)

BATCH = 500
DUPLICATE_WINDOW = timedelta(minutes=2)
inbound = InboundMessage.__table__


def handle_pending(engine: Engine, *, limit: int = BATCH) -> int:
    """Handle up to ``limit`` MOs not yet handled, oldest first; returns how many."""
    settings = config.load()
    with engine.begin() as conn:
        query = (select(InboundMessage).where(InboundMessage.handled.is_(False))
                 .order_by(InboundMessage.id).limit(limit))
        if engine.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        waiting = conn.execute(query).all()
        if not waiting:
            return 0
        seen = _handled_before(conn, waiting)
        marks, told, replies = [], [], []  # replies: (MO, its sender in E.164 or why not, keyword)
        asked: dict[str, list[tuple[Inbound, Match]]] = defaultdict(list)  # keyword -> its MOs, to act on together
        outcome: dict[int, dict[str, Any]] = {}
        for mo in waiting:
            key = (mo.source, mo.destination, mo.text)
            at = aware(mo.received_at)
            first = seen.get(key)
            found = match(mo.text)
            mark: dict[str, Any] = {"id": mo.id, "handled": True, "keyword": found.keyword or found.word[:32] or None,
                                    "duplicate_of": None}
            data: dict[str, Any] = {"inbound_id": mo.id, "provider_id": mo.provider_id,
                                    "keyword": found.keyword, "word": found.word[:32]}
            if first is not None and at - first[1] <= DUPLICATE_WINDOW:
                mark["duplicate_of"] = first[0]
                data["duplicate_of"] = first[0]
            else:
                seen[key] = (mo.id, at)
                number = _number(mo.source, settings.default_region)
                replies.append((mo, number, found.keyword))
                outcome[mo.id] = data
                _ask(asked, outcome, mo, found, number)
            marks.append(mark)
            told.append({"data": data})
        for keyword, group in asked.items():
            for (mo, _), done in zip(group, _act(conn, keyword, group), strict=True):
                outcome[mo.id].update(done)
        update_from_values(conn, inbound, "id", marks)
        record(conn, "keyword", told)
        record(conn, "replied", attribute(conn, replies, timedelta(hours=settings.reply_window)))
        return len(waiting)


def _number(source: str, region: str) -> str | InvalidNumber:
    """The MO's sender in E.164, or why it is not a phone number (a sender id such as "MTN-INFO")."""
    try:
        return to_e164(source, region)
    except InvalidNumber as exc:
        return exc


def _ask(asked: dict[str, list[tuple[Inbound, Match]]], outcome: dict[int, dict[str, Any]], mo: Row,
         found: Match, number: str | InvalidNumber) -> None:
    """The MO joins its keyword's group, or its outcome says why it acts on nothing."""
    if found.keyword is None or found.keyword not in ACTIONS:
        outcome[mo.id]["outcome"] = "unknown" if found.keyword is None else "no action"
        return
    if isinstance(number, InvalidNumber):
        outcome[mo.id].update({"outcome": "not a phone number", "reason": str(number)[:200]})
        return
    asked[found.keyword].append((Inbound(mo.id, mo.provider_id, number, mo.destination, mo.text,
                                         aware(mo.received_at)), found))


def _act(conn: Connection, keyword: str, group: list[tuple[Inbound, Match]]) -> list[dict[str, Any]]:
    """The keyword's action on its MOs together; if that fails, on each alone, so that a failing one
    undoes only itself and holds up no other."""
    try:
        with conn.begin_nested():
            return [{"outcome": "done", **done} for done in ACTIONS[keyword](conn, group)]
    except Exception as exc:
        if transient(exc):
            raise  # the database is away: the whole batch is tried again
        if len(group) == 1:
            log.exception("keyword %s: action on inbound message %s failed", keyword, group[0][0].id)
            return [{"outcome": "failed", "reason": reason(exc)}]
    return [_act(conn, keyword, [one])[0] for one in group]


def attribute(conn: Connection, replies: list[tuple[Row, str | InvalidNumber, str | None]],
              window: timedelta) -> list[dict[str, Any]]:
    """Each MO as a `replied` event of the campaign whose message reached its sender last within
    ``window`` before it (test sends aside): what a campaign's response rate counts. One query."""
    numbers = {number for _, number, _ in replies if isinstance(number, str)}
    if not numbers:
        return []
    since = min(aware(mo.received_at) for mo, _, _ in replies) - window
    sent: dict[str, list[tuple[datetime, int, int]]] = {}
    for msisdn, at, message_id, campaign_id in conn.execute(
            select(Message.msisdn, Message.submitted_at, Message.id, Message.campaign_id)
            .join(Campaign, Campaign.id == Message.campaign_id)  # a test send's recipients are staff
            .where(Message.msisdn.in_(sorted(numbers)), Message.submitted_at >= since,
                   Campaign.kind != TEST_KIND)
            .order_by(Message.submitted_at)):
        sent.setdefault(msisdn, []).append((aware(at), message_id, campaign_id))
    events = []
    for mo, number, keyword in replies:
        received = aware(mo.received_at)
        to_number = sent.get(number, []) if isinstance(number, str) else []
        before = [m for m in to_number if received - window <= m[0] <= received]
        if before:
            _, message_id, campaign_id = before[-1]
            events.append({"campaign_id": campaign_id, "message_id": message_id,
                           "data": {"inbound_id": mo.id, "keyword": keyword}})
    return events


def _handled_before(conn, waiting: Sequence[Row]) -> dict[tuple[str, str, str], tuple[int, datetime]]:  # noqa: ANN001
    """(source, destination, text) -> the latest handled MO that is no repeat itself, of those within the
    window before the oldest waiting: what a waiting MO with that key repeats, if recent enough."""
    since = min(aware(mo.received_at) for mo in waiting) - DUPLICATE_WINDOW
    sources = sorted({mo.source for mo in waiting})
    rows = conn.execute(select(InboundMessage.id, InboundMessage.source, InboundMessage.destination,
                               InboundMessage.text, InboundMessage.received_at).where(
        InboundMessage.handled.is_(True), InboundMessage.duplicate_of.is_(None),
        InboundMessage.source.in_(sources), InboundMessage.received_at >= since)
        .order_by(InboundMessage.id)).all()
    found: dict[tuple[str, str, str], tuple[int, datetime]] = {}
    for row in rows:
        found[(row.source, row.destination, row.text)] = (row.id, aware(row.received_at))
    return found
