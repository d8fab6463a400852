"""A/B arms and the control group side by side (campaigns.comparison), on both databases: per arm
its recipients, sent, delivered, delivery rate and replies; the control group held back, never sent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from engage.engine.campaigns.comparison import arms
from engage.engine.campaigns.launching import launch_run
from engage.engine.events import record
from engage.engine.store.schema import Message
from tests.campaign_setup import add_subscribers, make_campaign

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SPLIT = [{"arm": "A", "share": 50}, {"arm": "B", "share": 50}]


@pytest.fixture
def split(engine):
    """A campaign to 40 subscribers, arms A and B half each, a quarter held back; arm A: two
    delivered, one failed, the rest still pending; arm B: every message delivered. Returns
    (engine, campaign id, {"A": ids, "B": ids, "control": ids})."""
    add_subscribers(engine, 40)
    campaign_id = make_campaign(engine, variants={"B": "Hello {{ first_name }}"}, arms=SPLIT, control_share=0.25)
    launch_run(engine, campaign_id, T0, actor="t", now=T0)
    with engine.begin() as conn:
        rows = conn.execute(select(Message.id, Message.arm, Message.status).where(
            Message.campaign_id == campaign_id).order_by(Message.id)).all()
        groups = {"A": [], "B": [], "control": []}
        for message_id, arm, status in rows:
            groups["control" if status == "control" else arm].append(message_id)
        assert len(groups["A"]) >= 4 and len(groups["B"]) >= 3 and groups["control"]
        a = groups["A"]
        for ids, status in ((a[:2], "delivered"), (a[2:3], "failed"), (groups["B"], "delivered")):
            conn.execute(update(Message.__table__).where(Message.id.in_(ids)).values(status=status))
    return engine, campaign_id, groups


def test_each_arm_counts_its_recipients_sent_and_delivered(split):
    engine, campaign_id, groups = split
    with engine.connect() as conn:
        a, b = arms(conn, campaign_id)["arms"]
    assert (a["arm"], a["share"], a["recipients"], a["sent"], a["delivered"]) == ("A", 50, len(groups["A"]), 2, 2)
    assert (b["arm"], b["recipients"], b["sent"], b["delivered"]) == ("B", len(groups["B"]), len(groups["B"]),
                                                                    len(groups["B"]))


def test_the_delivery_rate_is_delivered_of_those_with_an_outcome(split):
    engine, campaign_id, _ = split
    with engine.connect() as conn:
        a, b = arms(conn, campaign_id)["arms"]
    assert (a["settled"], a["delivery_rate"], b["delivery_rate"]) == (3, 0.6667, 1.0)


def test_replies_count_each_answered_message_once_per_arm(split):
    engine, campaign_id, groups = split
    with engine.begin() as conn:
        record(conn, "replied", [{"campaign_id": campaign_id, "message_id": m}
                                 for m in (groups["A"][0], groups["B"][0], groups["B"][1], groups["B"][1])])
    with engine.connect() as conn:
        a, b = arms(conn, campaign_id)["arms"]
    assert (a["replied"], a["reply_rate"]) == (1, 0.5)
    assert (b["replied"], b["reply_rate"]) == (2, round(2 / len(groups["B"]), 4))


def test_the_control_group_is_held_back_and_counted_apart_from_the_arms(split):
    engine, campaign_id, groups = split
    with engine.connect() as conn:
        figures = arms(conn, campaign_id)
    assert figures["control"] == {"share": 25.0, "recipients": len(groups["control"])}
    assert sum(a["recipients"] for a in figures["arms"]) == len(groups["A"]) + len(groups["B"])


def test_a_campaign_without_arms_or_control_group_is_one_arm_with_no_control(engine):
    add_subscribers(engine, 3)
    campaign_id = make_campaign(engine)
    launch_run(engine, campaign_id, T0, actor="t", now=T0)
    with engine.connect() as conn:
        figures = arms(conn, campaign_id)
    assert [(a["arm"], a["recipients"], a["delivery_rate"]) for a in figures["arms"]] == [("A", 3, None)]
    assert figures["control"] is None


def test_an_arm_nobody_was_put_in_is_listed_with_nothing(engine):
    campaign_id = make_campaign(engine, variants={"B": "Hello"}, arms=SPLIT)
    with engine.connect() as conn:
        figures = arms(conn, campaign_id)
    assert [(a["arm"], a["recipients"], a["replied"]) for a in figures["arms"]] == [("A", 0, 0), ("B", 0, 0)]


def test_there_are_no_figures_for_a_campaign_that_does_not_exist(engine):
    with engine.connect() as conn:
        assert arms(conn, 999) is None
