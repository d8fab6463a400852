"""`engage bench segments`: a skewed synthetic base, segment counts that agree with the data, and a
launch that freezes every reachable bench subscriber, on both databases at small N."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from engage.bench import segments, synthetic
from engage.engine.store.schema import Campaign, Message, OptOut, Subscriber, SubscriberTag, UsageEvent

N, K = 2000, 5


@pytest.fixture
def bench_url(engine, database_url, monkeypatch):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", database_url)
    return engine


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _typical_by_hand(engine, now: datetime) -> int:
    """The "typical" segment evaluated in Python over the raw rows: what the SQL must agree with."""
    with engine.connect() as conn:
        people = conn.execute(select(Subscriber.id, Subscriber.contract_type, Subscriber.region, Subscriber.city,
                                     Subscriber.birth_date, Subscriber.last_activity_at)).all()
        events = conn.execute(select(UsageEvent.subscriber_id, UsageEvent.at, UsageEvent.amount)
                              .where(UsageEvent.kind == "call_out")).all()
    since = now - timedelta(days=30)
    minutes: dict[int, float] = {}
    for e in events:
        if since <= _aware(e.at) <= now:
            minutes[e.subscriber_id] = minutes.get(e.subscriber_id, 0.0) + e.amount
    return sum(1 for p in people if p.contract_type == "prepaid"
               and (p.region in ("Tashkent City", "Tashkent Region") or p.city in ("Samarkand", "Bukhara"))
               and p.birth_date is not None and 18 <= _age(p.birth_date, now.date()) <= 45
               and p.last_activity_at is not None and since <= _aware(p.last_activity_at) <= now
               and minutes.get(p.id, 0.0) >= 10)


def test_bench_counts_agree_with_the_data_and_launch_freezes_every_reachable_subscriber(bench_url):
    before = datetime.now(UTC)
    figures = segments.run(N, K, repeats=2, launch=True)
    after = datetime.now(UTC)

    assert (figures["subscribers"], figures["usage_events"], figures["data_reused"]) == (N, N * K, False)
    assert figures["generate_seconds"] > 0
    assert set(figures["segments"]) == set(segments.SEGMENTS)
    for name, seg in figures["segments"].items():
        assert 0 < seg["p50_ms"] <= seg["p95_ms"], name
        assert 0 < seg["reachable"] <= seg["matching"] < N, name

    with bench_url.connect() as conn:
        tashkent = conn.execute(select(func.count()).where(Subscriber.city == "Tashkent")).scalar_one()
        tagged = select(SubscriberTag.subscriber_id).where(SubscriberTag.tag.in_(["music", "football"]))
        loyal = conn.execute(select(func.count()).where(
            Subscriber.loyalty_tier.in_(["gold", "platinum"]), Subscriber.device_os.in_(["android", "ios"]),
            Subscriber.id.in_(tagged))).scalar_one()
        opted_out = conn.execute(select(func.count()).select_from(OptOut)).scalar_one()
    assert figures["segments"]["simple"]["matching"] == tashkent
    assert figures["segments"]["tags_loyalty"]["matching"] == loyal
    assert figures["segments"]["typical"]["matching"] in {_typical_by_hand(bench_url, before),
                                                          _typical_by_hand(bench_url, after)}

    launched = figures["launch"]
    assert launched["recipients"] == N - opted_out == N - figures["opted_out"]
    assert launched["set_aside"] == {"opted_out": opted_out}
    assert launched["launch_seconds"] > 0
    with bench_url.connect() as conn:  # the bench cleans up after itself: nothing left to send
        left = conn.execute(select(func.count()).where(Message.campaign_id == launched["campaign_id"])).scalar_one()
        assert left == 0
        assert conn.execute(select(Campaign.status).where(Campaign.id == launched["campaign_id"])).scalar_one() \
            == "completed"

    again = segments.run(N, K, repeats=1, launch=False)
    assert again["data_reused"] is True and "launch" not in again
    assert again["segments"]["simple"]["matching"] == tashkent


def test_synthetic_base_is_skewed_like_an_operators(engine):
    synthetic.generate(engine, N, K)
    with engine.connect() as conn:
        numbers = conn.execute(select(Subscriber.msisdn)).scalars().all()
        contracts = dict(conn.execute(select(Subscriber.contract_type, func.count()).group_by(
            Subscriber.contract_type)).all())
        cities = conn.execute(select(Subscriber.city, func.count()).where(Subscriber.city.is_not(None)).group_by(
            Subscriber.city).order_by(func.count().desc())).all()
        tiers = dict(conn.execute(select(Subscriber.loyalty_tier, func.count()).group_by(
            Subscriber.loyalty_tier)).all())
        per_subscriber = sorted(conn.execute(select(func.sum(UsageEvent.amount)).where(
            UsageEvent.kind == "call_out").group_by(UsageEvent.subscriber_id)).scalars().all(), reverse=True)
        tagged = conn.execute(select(func.count(func.distinct(SubscriberTag.subscriber_id)))).scalar_one()
        opted_out = conn.execute(select(func.count()).select_from(OptOut)).scalar_one()
    assert len(numbers) == N and all(re.fullmatch(r"\+99899\d{7}", m) for m in numbers)
    assert 0.64 < contracts["prepaid"] / N < 0.76 and 0.22 < contracts["postpaid"] / N < 0.32
    assert cities[0][0] == "Tashkent" and cities[0][1] > 3 * cities[-1][1]
    assert tiers["bronze"] > tiers["silver"] > tiers["gold"] > tiers["platinum"] > 0
    top_tenth = sum(per_subscriber[:N // 10]) / sum(per_subscriber)
    assert top_tenth > 0.4  # a minority makes most of the calls
    assert 0.25 < tagged / N < 0.35
    assert 4 <= opted_out <= 45  # ~1%


def test_regenerating_another_size_replaces_only_bench_subscribers(engine):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__).values(msisdn="+998901234567", first_name="Real", attributes={}))
        conn.execute(insert(OptOut.__table__).values(msisdn="+998901234567", channel="sms"))
    first = synthetic.generate(engine, 50, 2)
    assert (first["reused"], first["subscribers"], first["usage_events"]) == (False, 50, 100)
    assert synthetic.generate(engine, 50, 2)["reused"] is True
    second = synthetic.generate(engine, 60, 3)
    assert (second["reused"], second["subscribers"], second["usage_events"]) == (False, 60, 180)
    with engine.connect() as conn:
        assert conn.execute(select(Subscriber.first_name).where(Subscriber.msisdn == "+998901234567")).scalar() \
            == "Real"
        assert conn.execute(select(func.count()).select_from(OptOut).where(
            OptOut.msisdn == "+998901234567")).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(Subscriber)).scalar_one() == 61
