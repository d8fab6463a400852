"""People in two branches, and what happened between engage and one of them: a campaign launched
to them, its message submitted and delivered (a receipt), their reply STOP and the opt-out it
led to. Shared by the subscriber search, history, page and browser tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select, update

from engage.engine import campaigns, consent
from engage.engine.delivery.submits import record_outcomes
from engage.engine.providers.base import SendOutcome
from engage.engine.providers.records import add_smpp
from engage.engine.receipts import matching
from engage.engine.segments import store as segments
from engage.engine.store.schema import Message, Subscriber
from engage.engine.subscribers import upsert
from engage.engine.templates import store as templates

AZIZ, ANNA, SAM, LOLA, TIMUR = "+998901000001", "+998901000002", "+998911000003", "+998901000004", "+998935000005"
PEOPLE = [
    {"msisdn": AZIZ, "first_name": "Aziz", "last_name": "Karimov", "city": "Tashkent", "branch": "north",
     "language": "uz", "balance": "12.50", "birth_date": "1990-04-01", "tags": "sport;news"},
    {"msisdn": ANNA, "first_name": "Anna", "city": "Tashkent", "branch": "north", "language": "ru",
     "balance": "3.00", "birth_date": "1985-12-24"},
    {"msisdn": SAM, "first_name": "Sam", "city": "Bukhara", "branch": "south", "language": "en",
     "balance": "12.50", "birth_date": "1979-01-15"},
    {"msisdn": LOLA, "first_name": "Lola", "city": "Tashkent", "branch": "south", "language": "uz",
     "balance": "40.00", "birth_date": "2001-07-07"},
    {"msisdn": TIMUR, "first_name": "Timur", "city": "Samarkand", "branch": None, "language": "uz",
     "balance": "0.00", "birth_date": "1995-03-03"},
]
OFFER = "Hi {{ first_name }}, double points this week!"


def add_people(engine: Engine) -> dict[str, int]:
    """The people above; returns their ids by number."""
    upsert(engine, [dict(p) for p in PEOPLE])
    with engine.connect() as conn:
        return dict(conn.execute(select(Subscriber.msisdn, Subscriber.id)).all())


def message_and_reply(engine: Engine, number: str = AZIZ) -> dict[str, Any]:
    """A campaign to ``number`` alone, sent through a provider as the sender does it, its receipt,
    the subscriber's reply STOP and their opt-out; returns the ids involved."""
    with engine.begin() as conn:
        provider_id = add_smpp(conn, name="uzmobile", host="127.0.0.1", port=2775, system_id="engage",
                               password="secret", actor="test")
        template_id = templates.create(conn, "offer", {"en": OFFER}, default_language="en", actor="test")
        segment_id = segments.create(conn, f"just {number}", {"field": "msisdn", "op": "eq", "value": number},
                                     actor="test")
        campaign_id = campaigns.create(conn, name="Spring offer", segment_id=segment_id, template_id=template_id,
                                       sender_id="Shop", actor="test")
    launched = campaigns.launch(engine, campaign_id, actor="test")
    with engine.begin() as conn:
        message_id = conn.execute(select(Message.id).where(Message.campaign_id == campaign_id,
                                                           Message.msisdn == number)).scalar_one()
        # what the dispatcher does on its way to the sender: the route, the rendered text, the price
        conn.execute(update(Message).where(Message.id == message_id).values(
            provider_id=provider_id, body="Hi Aziz, double points this week!", encoding="gsm", parts=1,
            price="0.015000", currency="USD", status="sending"))
    record_outcomes(engine, provider_id, campaign_id, [SendOutcome(message_id, ["5f3a9c"])])
    matching.store(engine, provider_id, [{"id": "5F3A9C", "stat": "DELIVRD", "err": "000", "done_at": None}],
                   [{"source": number.lstrip("+"), "destination": "5555", "text": "STOP please"}])
    with engine.begin() as conn:
        consent.opt_out(conn, [number], "sms", source="keyword STOP", actor="keywords")
    return {"campaign_id": campaign_id, "message_id": message_id, "provider_id": provider_id, "launched": launched}
