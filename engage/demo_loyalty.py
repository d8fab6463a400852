"""The demo's loyalty programme: "club", with rules for recharges and calls, an award for replying
to the demo campaign and two rewards (100 SMS; a cinema ticket, a partner's voucher code), every
demo subscriber a member. After the campaign, the demo's sample usage
(demo_usage.py's recharges) goes through the real path: published to the broker's usage queue in
batches, scored by the loyalty worker. Then a subscriber dialling *123# and picking "My points" sees
what they earned."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select

from engage.engine.broker import connect
from engage.engine.loyalty import feed, members, programmes, rewards, rules
from engage.engine.store.schema import LoyaltyUsageSeen, Subscriber, UsageEvent

CODE = "club"
SOURCE = "demo-usage"
RULES = {
    "recharge": ("Recharges", {"kind": "recharge", "every": 10, "points": 5}),
    "calls": ("Outgoing calls", {"kind": "call_out", "every": 100, "points": 10}),
}
REPLY_AWARD = {"on": "reply", "points": 25}
REWARDS = (
    {"code": "sms100", "names": {"en": "100 SMS", "ru": "100 SMS", "uz": "100 SMS"}, "points": 20},
    {"code": "cinema", "names": {"en": "Cinema ticket", "ru": "Билет в кино", "uz": "Kino chiptasi"}, "points": 40,
     "fulfilment": "voucher"},
)
CINEMA_CODES = [f"KINO-{n:04d}" for n in range(1, 51)]
ACTOR = "demo"


def seed_programme(engine: Engine) -> dict[str, Any]:
    """The programme, its rules (in force from a month ago, so the sample usage falls under them) and
    its members; idempotent (a kept demo database keeps them)."""
    since = datetime.now(UTC) - timedelta(days=30)
    with engine.begin() as conn:
        try:
            club = programmes.get(conn, CODE)
        except LookupError:
            club = programmes.create(conn, CODE, "Demo club", points_valid_days=365)
            for code, (name, definition) in RULES.items():
                rules.create(conn, club.id, code, name, definition, actor=ACTOR, valid_from=since)
            rules.create(conn, club.id, "reply", "Replying to a campaign", REPLY_AWARD, actor=ACTOR,
                         valid_from=since)
            for reward in REWARDS:
                made = rewards.add(conn, club.id, reward)
                if reward.get("fulfilment") == "voucher":
                    rewards.add_codes(conn, made.id, CINEMA_CODES)
        enrolled = members.enrol(conn, club.id, list(conn.execute(select(Subscriber.id)).scalars()), "bulk")
    return {"loyalty_programme": CODE, "loyalty_enrolled": enrolled}


def feed_usage(engine: Engine, broker_url: str) -> int:
    """Publish the demo's usage events to the loyalty worker; how many records."""
    with engine.connect() as conn:
        rows = conn.execute(select(UsageEvent.id, Subscriber.msisdn, UsageEvent.kind, UsageEvent.at,
                                   UsageEvent.amount).join(Subscriber, Subscriber.id == UsageEvent.subscriber_id)
                            .order_by(UsageEvent.id)).all()
    records = [{"ref": f"usage-{i}", "msisdn": msisdn, "kind": kind,
                "at": (at if at.tzinfo else at.replace(tzinfo=UTC)).isoformat(), "amount": amount}
               for i, msisdn, kind, at, amount in rows]
    broker = connect(broker_url)
    try:
        broker.declare(feed.usage_queue())
        for start in range(0, len(records), feed.BATCH_RECORDS):
            broker.publish(feed.usage_queue(), json.dumps({
                "programme": CODE, "source": SOURCE, "records": records[start:start + feed.BATCH_RECORDS]}).encode())
    finally:
        broker.close()
    return len(records)


def scored(engine: Engine) -> int:
    """How many of the fed records the worker has scored so far."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(LoyaltyUsageSeen).where(
            LoyaltyUsageSeen.source == SOURCE)).scalar_one()


def points_total(engine: Engine) -> int:
    from engage.engine.store.schema import LoyaltyBalance

    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(LoyaltyBalance.available), 0))).scalar_one())
