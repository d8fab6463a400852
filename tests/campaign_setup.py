"""A small population and a campaign over it, for the lifecycle tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, insert, select, text

from engage.engine import campaigns
from engage.engine.events import message_ids
from engage.engine.segments import store as segments
from engage.engine.store.schema import Campaign, Event, Message, Segment, Subscriber, Template
from engage.engine.templates import store as templates

EVERYONE = {"field": "msisdn", "op": "starts_with", "value": "+99890"}


def add_subscribers(engine: Engine, n: int, *, zones: tuple[str | None, ...] = ("Asia/Tashkent",)) -> None:
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [
            {"id": i, "msisdn": f"+99890{i:07d}", "first_name": f"N{i}", "language": "en",
             "timezone": zones[i % len(zones)], "attributes": {}} for i in range(1, n + 1)])


def make_campaign(engine: Engine, *, name: str = "offer", actor: str = "maker", variants: dict[str, str] | None = None,
                  **options: Any) -> int:
    with engine.begin() as conn:
        extra = {arm: {"en": body} for arm, body in (variants or {}).items()}
        template_id = templates.create(conn, f"t {name}", {"en": "Hi {{ first_name }}"}, default_language="en",
                                       actor=actor, arms=extra or None)
        segment_id = segments.create(conn, f"s {name}", EVERYONE, actor=actor)
        return campaigns.create(conn, name=name, segment_id=segment_id, template_id=template_id, sender_id="Shop",
                                actor=actor, **options)


def statuses(engine: Engine, campaign_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        return {k: v for k, v in campaigns.counts(conn, campaign_id).items() if v}


def column(engine: Engine, campaign_id: int, name: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(getattr(Message, name)).where(Message.campaign_id == campaign_id)
                                 .order_by(Message.subscriber_id)).scalars())


def recorded(engine: Engine, campaign_id: int, kind: str) -> tuple[int, set[int]]:
    """(how many messages, which messages) the campaign's events of this kind stand for."""
    with engine.connect() as conn:
        rows = conn.execute(select(Event.message_id, Event.data, Event.message_count).where(
            Event.campaign_id == campaign_id, Event.kind == kind)).all()
    return sum(r.message_count for r in rows), {i for r in rows for i in message_ids(r)}


def ids_taken(conn, *tables: str) -> None:  # noqa: ANN001
    """After rows inserted with their ids given: PostgreSQL's sequences move past them, so that rows
    the engine inserts later (keyword replies' campaign, segment and templates) take the next ids."""
    if conn.dialect.name == "postgresql":
        for table in tables:
            conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                              f"(SELECT max(id) FROM {table}))"))


def bare_messages(engine: Engine, n: int, *, status: str, parts: int = 1) -> list[int]:
    """n messages of campaign 1 (made bare on first use: no real segment or template), provider 1."""
    with engine.begin() as conn:
        if conn.execute(select(Campaign.id).where(Campaign.id == 1)).first() is None:
            conn.execute(insert(Segment.__table__).values(id=1, name="s", definition={}))
            conn.execute(insert(Template.__table__).values(id=1, name="t", default_language="en"))
            conn.execute(insert(Campaign.__table__).values(id=1, name="c", segment_id=1, template_id=1,
                                                           sender_id="X", status="running", set_aside={}))
            ids_taken(conn, "segments", "templates", "campaigns")
        return [conn.execute(insert(Message.__table__).values(
            campaign_id=1, subscriber_id=1, msisdn=f"+99890123456{i}", status=status, parts=parts,
            provider_id=1)).inserted_primary_key[0] for i in range(n)]
