"""A campaign knows its cost: the prices of the messages a provider accepted, per currency."""

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import insert

from engage.engine.campaigns import summary
from engage.engine.costs import campaign_cost
from engage.engine.store.schema import Campaign, Message, Segment, Template

NOW = datetime.now(UTC)


def campaign(conn) -> int:
    segment = conn.execute(insert(Segment.__table__).values(name="all", definition={})).inserted_primary_key[0]
    template = conn.execute(insert(Template.__table__).values(name="t", default_language="en")).inserted_primary_key[0]
    return conn.execute(insert(Campaign.__table__).values(
        name="c", segment_id=segment, template_id=template, sender_id="Engage", status="running",
        set_aside={})).inserted_primary_key[0]


def message(conn, campaign_id: int, status: str, price: str | None, currency: str | None,
            submitted: bool = True) -> None:
    conn.execute(insert(Message.__table__).values(
        campaign_id=campaign_id, subscriber_id=1, msisdn="+998901234567", status=status,
        price=None if price is None else Decimal(price), currency=currency,
        submitted_at=NOW if submitted else None))


def test_cost_sums_accepted_messages_per_currency(engine):
    with engine.begin() as conn:
        c = campaign(conn)
        message(conn, c, "delivered", "0.040", "USD")  # two parts at 0.02
        message(conn, c, "submitted", "0.020", "USD")
        message(conn, c, "delivered", "150", "UZS")
        message(conn, c, "failed", "0.020", "USD", submitted=False)  # no provider took it
        message(conn, c, "queued", "0.020", "USD", submitted=False)  # not sent yet
        message(conn, c, "delivered", None, None)  # routed to a provider without a price table
    with engine.connect() as conn:
        assert campaign_cost(conn, c) == {"USD": Decimal("0.06"), "UZS": Decimal("150")}
        assert summary(conn, c)["cost"] == {"USD": "0.060000", "UZS": "150.000000"}


def test_a_campaign_with_no_priced_message_costs_nothing_known(engine):
    with engine.begin() as conn:
        c = campaign(conn)
        message(conn, c, "delivered", None, None)
    with engine.connect() as conn:
        assert summary(conn, c)["cost"] == {}
