"""The inbound messages as staff look them up: newest first, a page at a time, by number, by what
the keywords read them as, or by the campaign they replied to (inbound_messages.campaign_id, set
with the `replied` event). A branch user sees only what their branch's subscribers sent; a role
shown numbers masked sees them masked, in the text too (phones.mask_in)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, exists, literal, or_, select

from engage.engine.keywords.matching import normalise
from engage.engine.phones import InvalidNumber, mask, mask_in, to_e164
from engage.engine.store.schema import InboundMessage, Subscriber
from engage.engine.users.scope import Scope

PAGE = 50


class InboxError(ValueError):
    """A search that cannot be made, naming what was wrong."""


@dataclass(frozen=True)
class InboxQuery:
    number: str = ""
    keyword: str = ""
    before: int | None = None  # the id the next page starts below
    campaign: int | None = None  # replies to this campaign only


def search(conn: Connection, query: InboxQuery, scope: Scope, region: str) -> dict[str, Any]:
    """{"messages": [...], "next_before": id or None}."""
    sql = (select(InboundMessage.id, InboundMessage.received_at, InboundMessage.source, InboundMessage.destination,
                  InboundMessage.text, InboundMessage.keyword, InboundMessage.duplicate_of, InboundMessage.handled,
                  InboundMessage.campaign_id)
           .order_by(InboundMessage.id.desc()).limit(PAGE + 1))
    if query.number.strip():
        try:
            number = to_e164(query.number, region)
        except InvalidNumber as exc:
            raise InboxError(f"number: {exc}") from None
        sql = sql.where(InboundMessage.source.in_([number, number.lstrip("+")]))
    if query.keyword.strip():
        sql = sql.where(InboundMessage.keyword == normalise(query.keyword.strip())[:32])
    if query.before is not None:
        sql = sql.where(InboundMessage.id < query.before)
    if query.campaign is not None:
        sql = sql.where(InboundMessage.campaign_id == query.campaign)
    if scope.branch is not None:
        sql = sql.where(exists().where(Subscriber.branch == scope.branch, or_(
            Subscriber.msisdn == InboundMessage.source, Subscriber.msisdn == literal("+") + InboundMessage.source)))
    rows = conn.execute(sql).all()
    shown = [_shown(row, scope, region) for row in rows[:PAGE]]
    return {"messages": shown, "next_before": rows[PAGE - 1].id if len(rows) > PAGE else None}


def _shown(row: Any, scope: Scope, region: str) -> dict[str, Any]:
    source, text = row.source, row.text
    if not scope.show_numbers:
        try:
            e164 = to_e164(source, region)
        except InvalidNumber:  # a sender id such as "MTN-INFO": not a person's number
            e164 = None
        if e164 is not None:
            source, text = mask(e164), mask_in(text, e164)
    return {"id": row.id, "received_at": row.received_at, "source": source, "destination": row.destination,
            "text": text, "keyword": row.keyword, "duplicate_of": row.duplicate_of, "handled": row.handled,
            "campaign_id": row.campaign_id}
