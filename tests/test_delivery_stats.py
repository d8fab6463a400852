"""A campaign's delivery figures, folded from the event stream by the events worker, agree with its
messages: reach, outcomes, time to deliver and cost, per A/B arm and for the whole campaign."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, insert, select

from engage.engine import campaigns
from engage.engine import statuses as st
from engage.engine.analytics import consumers, delivery_stats
from engage.engine.events import record, record_batch
from engage.engine.providers.records import add_smpp
from engage.engine.store.database import aware
from engage.engine.store.schema import Campaign, Message, OptOut, RoutePrice
from engage.engine.store.schema_keywords import InboundMessage
from engage.workers import runner
from tests.campaign_scenario import wait_until_done
from tests.campaign_setup import add_subscribers, bare_messages, make_campaign

SPLIT = [{"arm": "A", "share": 50}, {"arm": "B", "share": 50}]
T0 = 1_900_000_000.0


def caught_up(engine: Engine, timeout: float = 60.0) -> None:
    """The events worker has folded every event there is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            mine = next(c for c in consumers.status(conn) if c["name"] == "delivery_stats")
        if mine["behind"] == 0:
            return
        time.sleep(0.2)
    raise AssertionError(f"the events worker did not catch up: {mine}")


def handled(engine: Engine, n: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(select(func.count()).where(InboundMessage.handled.is_(True))).scalar_one() >= n:
                return
        time.sleep(0.2)
    raise AssertionError("the replies were not handled")


def run_campaign(engine: Engine, broker_url: str, port: int, sim) -> int:  # noqa: ANN001
    add_subscribers(engine, 120)
    with engine.begin() as conn:
        conn.execute(insert(OptOut.__table__), [{"msisdn": f"+99890{i:07d}", "channel": "sms"} for i in (3, 4)])
        provider_id = add_smpp(conn, name="sim", host="127.0.0.1", port=port, system_id="engage", password="secret",
                               tps=5000, binds=2, window=16, actor="test")
        conn.execute(insert(RoutePrice.__table__).values(provider_id=provider_id, prefix="998", mcc_mnc="",
                                                         price=Decimal("0.02"), currency="USD",
                                                         valid_from=datetime(2020, 1, 1, tzinfo=UTC)))
    campaign_id = make_campaign(engine, variants={"B": "Hello {{ first_name }}"}, arms=SPLIT, control_share=0.2)
    campaigns.launch(engine, campaign_id, actor="test")
    stop = threading.Event()
    threads = runner.start(["receipts", "send", "dispatch", "events"], engine, broker_url, stop)
    try:
        wait_until_done(engine, campaign_id)
        with engine.connect() as conn:
            answering = list(conn.execute(select(Message.msisdn).where(
                Message.campaign_id == campaign_id, Message.status == st.DELIVERED).limit(3)).scalars())
        sim.deliver_mos([(n.lstrip("+"), "4040", "Thanks!") for n in answering])
        handled(engine, len(answering))
        caught_up(engine)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
    return campaign_id


def expected(engine: Engine, campaign_id: int, by_arm: bool) -> dict:
    """The figures computed straight from the messages."""
    with engine.connect() as conn:
        rows = conn.execute(select(Message.__table__).where(Message.campaign_id == campaign_id)).all()
        replies = conn.execute(select(func.count()).where(InboundMessage.campaign_id == campaign_id)).scalar_one()
    out: dict = {}
    for m in rows:
        group = out.setdefault(m.arm if by_arm else None, {"counts": Counter(), "cost": Decimal(0), "seconds": []})
        if m.status == st.CONTROL:
            group["counts"]["control"] += 1
            continue
        group["counts"]["recipients"] += 1
        group["counts"][m.status] += 1
        if m.submitted_at is not None:
            group["counts"]["submitted"] += 1
            group["cost"] += m.price
        if m.status == st.DELIVERED:
            group["seconds"].append((aware(m.done_at) - aware(m.submitted_at)).total_seconds())
    return {"groups": out, "replies": replies}


def test_the_delivery_figures_agree_with_the_messages_of_a_campaign_sent_through_the_system(backend, smsc_factory):
    engine, broker_url, _ = backend
    sim = smsc_factory(receipt_delay=0.02, fail_rate=0.05, undeliverable_rate=0.1, seed=11)
    campaign_id = run_campaign(engine, broker_url, sim.port, sim)
    truth = expected(engine, campaign_id, by_arm=True)
    with engine.connect() as conn:
        per_arm = {f["arm"]: f for f in delivery_stats.figures(conn, campaign_id, ["arm"])}
        [whole] = delivery_stats.figures(conn, campaign_id, [])
    assert set(per_arm) == {"A", "B", ""}  # '': what the launch set aside, before any arm
    assert per_arm[""]["set_aside"] == {"opted_out": 2} and per_arm[""]["recipients"] == 0
    for arm, group in truth["groups"].items():
        figures, counts = per_arm[arm], group["counts"]
        for kind in ("recipients", "control", "submitted", st.DELIVERED, st.UNDELIVERED, st.FAILED):
            assert figures[kind] == counts[kind], (arm, kind)
        assert figures["cost"] == {"USD": group["cost"]}
        assert figures["delivery_rate"] == round(counts[st.DELIVERED] / counts["submitted"], 4)
        assert figures["avg_seconds_to_deliver"] == pytest.approx(
            sum(group["seconds"]) / len(group["seconds"]), abs=0.01)
        assert figures["cost_per_delivered"] == {
            "USD": (group["cost"] / counts[st.DELIVERED]).quantize(Decimal("0.000001"))}
    assert whole["recipients"] + whole["control"] == 118 and whole["control"] > 0
    assert whole["set_aside"] == {"opted_out": 2}
    assert whole[st.FAILED] > 0 and whole[st.UNDELIVERED] > 0
    assert whole["replied"] == truth["replies"] == 3
    assert whole["queued"] >= whole["submitted"]  # queueings: a message throttled is queued again


def test_figures_per_provider_network_and_hour_add_up_to_the_campaign(engine):
    ids = bare_messages(engine, 4, status=st.SUBMITTED)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(Message.__table__.update().values(price=Decimal("0.5"), currency="UZS", network="434-05",
                                                       submitted_at=now - timedelta(seconds=10), done_at=now))
        record_batch(conn, st.SUBMITTED, 1, ids)
        record_batch(conn, st.DELIVERED, 1, ids[:3])
        record(conn, "failover", [{"campaign_id": 1, "message_id": ids[3], "data": {"provider_id": 7}}])
    consumers.run_once(engine, now=T0, only=["delivery_stats"])
    with engine.connect() as conn:
        per = {f["provider_id"]: f for f in delivery_stats.figures(conn, 1, ["provider_id", "network", "hour"])}
    assert per[1]["submitted"] == 4 and per[1][st.DELIVERED] == 3 and per[1]["network"] == "434-05"
    assert per[1]["cost"] == {"UZS": Decimal("2.0")}
    assert per[1]["avg_seconds_to_deliver"] == pytest.approx(10.0)
    hour = per[1]["hour"]
    assert (hour.minute, hour.second, hour.tzinfo is not None) == (0, 0, True)
    assert now - hour < timedelta(hours=1, minutes=5)
    assert per[7]["failover"] == 1  # counted under the provider that refused it


def test_a_batch_folded_again_after_a_crash_is_not_counted_twice(engine):
    ids = bare_messages(engine, 3, status=st.DELIVERED)
    with engine.begin() as conn:
        record_batch(conn, st.DELIVERED, 1, ids)
    consumers.run_once(engine, now=T0, only=["delivery_stats"])
    consumers.run_once(engine, now=T0 + 1, only=["delivery_stats"])
    with engine.connect() as conn:
        assert delivery_stats.figures(conn, 1, [])[0][st.DELIVERED] == 3


def test_an_answer_counts_for_the_campaign_message_its_number_was_sent(engine):
    ids = bare_messages(engine, 2, status=st.DELIVERED)
    with engine.begin() as conn:
        number = conn.execute(select(Message.msisdn).where(Message.id == ids[1])).scalar_one()
        conn.execute(Message.__table__.update().where(Message.id == ids[1]).values(arm="B"))
        record(conn, "answered", [{"campaign_id": 1, "data": {"inbound_id": 1, "keyword": "YES", "number": number}},
                                  {"campaign_id": 1, "data": {"inbound_id": 2, "keyword": "YES", "number": "+1"}}])
    consumers.run_once(engine, now=T0, only=["delivery_stats"])
    with engine.connect() as conn:
        per_arm = {f["arm"]: f["answered"] for f in delivery_stats.figures(conn, 1, ["arm"])}
    assert per_arm == {"B": 1, "": 1}  # a number the campaign never sent to: the campaign's, no arm


def test_a_launch_counts_the_runs_reach_per_arm_and_what_it_set_aside(engine):
    add_subscribers(engine, 40)
    with engine.begin() as conn:
        conn.execute(insert(OptOut.__table__).values(msisdn="+998900000001", channel="sms"))
    campaign_id = make_campaign(engine, variants={"B": "Hello"}, arms=SPLIT, control_share=0.25)
    campaigns.launch(engine, campaign_id, actor="test")
    consumers.run_once(engine, now=T0, only=["delivery_stats"])
    with engine.connect() as conn:
        per_arm = {f["arm"]: f for f in delivery_stats.figures(conn, campaign_id, ["arm"])}
        truth = Counter((m.arm, m.status == st.CONTROL) for m in conn.execute(
            select(Message.arm, Message.status).where(Message.campaign_id == campaign_id)))
        branch = conn.execute(select(Campaign.branch).where(Campaign.id == campaign_id)).scalar()
    for arm in ("A", "B"):
        assert (per_arm[arm]["recipients"], per_arm[arm]["control"]) == (truth[(arm, False)], truth[(arm, True)])
    assert per_arm[""]["set_aside"] == {"opted_out": 1}
    assert branch is None


def test_unknown_dimensions_are_refused(engine):
    with engine.connect() as conn, pytest.raises(ValueError, match="unknown dimension 'msisdn'"):
        delivery_stats.figures(conn, 1, ["msisdn"])

