"""A launched campaign's recorded outcome, written row by row as the launch, the senders, the receipts,
the MO handler, the USSD gateway and the usage import would have left it: for the effectiveness tests,
which need to say exactly when each recipient was delivered, answered and converted."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from engage.engine.store.schema import (
    Campaign,
    CampaignRun,
    InboundMessage,
    Message,
    Subscriber,
    UsageEvent,
    UssdSession,
)
from tests.campaign_setup import make_campaign

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # the run starts
LATER = START + timedelta(days=40)  # every window has closed


class Story:
    """One campaign and its one run, and helpers to add its recipients and what they did."""

    def __init__(self, engine: Engine, *, start: datetime = START, **options: Any):
        self.engine = engine
        self.start = start
        self.campaign_id = make_campaign(engine, **options)
        with engine.begin() as conn:
            self.next_id = (conn.execute(select(func.max(Subscriber.id))).scalar() or 0) + 1
            self.run_id = conn.execute(insert(CampaignRun.__table__).values(
                campaign_id=self.campaign_id, scheduled_for=start, status="completed", started_at=start,
                audience_size=0, set_aside={})).inserted_primary_key[0]
            conn.execute(update(Campaign.__table__).where(Campaign.id == self.campaign_id).values(
                status="completed", launched_at=start, set_aside={"opted_out": 3}))

    def recipient(self, *, status: str = "delivered", arm: str = "A", delivered_after: timedelta = timedelta(minutes=1),
                  price: str | None = "0.05", currency: str = "USD", run_id: int | None = None,
                  **profile: Any) -> tuple[int, str, datetime | None]:
        """A subscriber and their message; returns (subscriber id, msisdn, delivered at or None)."""
        sid = self.next_id
        self.next_id += 1
        msisdn = f"+99891{sid:07d}"
        sent = status not in ("control", "pending", "held", "queued", "failed", "opted_out")
        submitted = self.start + timedelta(seconds=20) if sent else None
        done = self.start + delivered_after if status == "delivered" else None
        with self.engine.begin() as conn:
            conn.execute(insert(Subscriber.__table__).values(id=sid, msisdn=msisdn, attributes={}, **profile))
            conn.execute(insert(Message.__table__).values(
                campaign_id=self.campaign_id, run_id=run_id or self.run_id, subscriber_id=sid, msisdn=msisdn,
                status=status, arm=arm, submitted_at=submitted, done_at=done,
                price=Decimal(price) if price and sent else None, currency=currency if sent else None))
        return sid, msisdn, done

    def many(self, n: int, *, converted: int, status: str = "delivered", arm: str = "A") -> None:
        """n recipients at once, the first `converted` of whom recharge an hour after delivery."""
        first = self.next_id
        self.next_id += n
        done = self.start + timedelta(minutes=1)
        subscribers = [{"id": i, "msisdn": f"+99891{i:07d}", "attributes": {}} for i in range(first, first + n)]
        messages = [{"campaign_id": self.campaign_id, "run_id": self.run_id, "subscriber_id": s["id"],
                     "msisdn": s["msisdn"], "status": status, "arm": arm,
                     "submitted_at": done if status == "delivered" else None,
                     "done_at": done if status == "delivered" else None} for s in subscribers]
        usage = [{"subscriber_id": s["id"], "kind": "recharge", "at": self.start + timedelta(hours=2), "amount": 5}
                 for s in subscribers[:converted]]
        with self.engine.begin() as conn:
            conn.execute(insert(Subscriber.__table__), subscribers)
            conn.execute(insert(Message.__table__), messages)
            if usage:
                conn.execute(insert(UsageEvent.__table__), usage)

    def usage(self, subscriber_id: int, at: datetime, kind: str = "recharge") -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(UsageEvent.__table__).values(subscriber_id=subscriber_id, kind=kind, at=at, amount=5))

    def mo(self, source: str, at: datetime, *, duplicate_of: int | None = None) -> int:
        with self.engine.begin() as conn:
            return conn.execute(insert(InboundMessage.__table__).values(
                provider_id=1, source=source, destination="1234", text="YES", handled=True, received_at=at,
                duplicate_of=duplicate_of, keyword="YES")).inserted_primary_key[0]

    def ussd(self, msisdn: str, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(UssdSession.__table__).values(
                gateway_id=1, session_key=f"s{msisdn}{at.timestamp()}", msisdn=msisdn, code="*123#", page=0,
                history=[], values={}, visited=[], last_ends=False, started_at=at, updated_at=at))


def born(years_ago: int) -> date:
    """A birth date that makes someone `years_ago` years old (and ten days) when the run starts."""
    on = START.date()
    return on.replace(year=on.year - years_ago) - timedelta(days=10)
