"""Usage and message-history kinds: aggregates over a window ending at the context's `now`, and
what was sent and replied, on both databases."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from engage.engine.keywords.handling import handle_pending
from engage.engine.segments.criteria import CompileContext, SegmentError, compile_node
from engage.engine.store.schema import (
    Campaign,
    Event,
    InboundMessage,
    Message,
    Segment,
    Subscriber,
    Template,
    UsageEvent,
)

NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
PEOPLE = ["ali", "bea", "cem", "dan", "eve", "fay"]


def at(*args):
    return datetime(*args, tzinfo=UTC)


def who(engine, definition, now=NOW):
    with engine.connect() as conn:
        return sorted(conn.execute(select(Subscriber.first_name).where(
            compile_node(definition, ctx=CompileContext(now=now)))).scalars())


def _subscribers(conn):
    conn.execute(insert(Subscriber.__table__), [
        {"id": i, "msisdn": f"+99890100000{i}", "first_name": name} for i, name in enumerate(PEOPLE, start=1)])


@pytest.fixture
def usage(engine):
    events = [
        (1, "call_out", at(2025, 1, 10, 9), 60), (1, "call_out", at(2025, 1, 14, 23, 30), 50),
        (1, "call_out", at(2024, 11, 1), 500),
        (2, "call_out", at(2025, 1, 14, 10), 30), (2, "call_out", at(2025, 1, 14, 11), 30),
        (3, "call_out", at(2024, 10, 1), 200),
        (4, "data", at(2025, 1, 13), 1000),
        (6, "call_out", at(2025, 1, 15, 13), 10),  # after now: not yet
    ]
    with engine.begin() as conn:
        _subscribers(conn)
        conn.execute(insert(UsageEvent.__table__), [
            {"subscriber_id": s, "kind": k, "at": t, "amount": a} for s, k, t, a in events])
    return engine


def _usage(agg, op, value, days=30):
    return {"kind": "usage", "usage": "call_out", "days": days, "agg": agg, "op": op, "value": value}


def test_usage_sum_over_the_window_reaches_a_threshold(usage):
    assert who(usage, _usage("sum", "ge", 100)) == ["ali"]


def test_usage_below_a_threshold_includes_subscribers_with_no_events(usage):
    assert who(usage, _usage("sum", "lt", 100)) == ["bea", "cem", "dan", "eve", "fay"]


def test_usage_count_of_zero_is_everyone_without_events_in_the_window(usage):
    assert who(usage, _usage("count", "eq", 0)) == ["cem", "dan", "eve", "fay"]


def test_usage_between_from_zero_includes_no_events_and_between_above_zero_does_not(usage):
    assert who(usage, _usage("sum", "between", [0, 60])) == ["bea", "cem", "dan", "eve", "fay"]
    assert who(usage, _usage("sum", "between", [50, 70])) == ["bea"]


def test_usage_days_active_counts_distinct_utc_days(usage):
    assert who(usage, _usage("days_active", "ge", 2)) == ["ali"]
    assert who(usage, _usage("days_active", "eq", 1)) == ["bea"]


def test_usage_window_length_is_in_days(usage):
    assert who(usage, _usage("sum", "ge", 500, days=90)) == ["ali"]


@pytest.mark.parametrize(("definition", "why"), [
    ({"kind": "usage", "usage": "calls", "days": 30, "value": 1}, "'usage' must be one of call_out"),
    ({"kind": "usage", "usage": "call_out", "days": -30, "value": 1}, "'days' must be between 1 and 3660"),
    ({"kind": "usage", "usage": "call_out", "days": 30, "agg": "avg", "value": 1}, "'agg' must be one of"),
    ({"kind": "usage", "usage": "call_out", "days": 30, "op": "ge"}, "'value' is required"),
    ({"kind": "usage", "usage": "call_out", "days": 30, "value": "100"}, "'value' must be a number"),
    ({"kind": "usage", "usage": "call_out", "days": 30, "op": "like", "value": 1}, "'op' must be one of"),
])
def test_a_bad_usage_criterion_is_an_error_saying_why(definition, why):
    with pytest.raises(SegmentError) as err:
        compile_node({"or": [{"kind": "all"}, {"and": [definition]}]}, ctx=CompileContext(now=NOW))
    assert err.value.path == "segment.or[1].and[0]"
    assert why in err.value.message


@pytest.fixture
def history(engine):
    with engine.begin() as conn:
        _subscribers(conn)
        conn.execute(insert(Segment.__table__).values(id=1, name="all", definition={"kind": "all"}))
        conn.execute(insert(Template.__table__).values(id=1, name="t"))
        conn.execute(insert(Campaign.__table__), [
            {"id": c, "name": f"c{c}", "segment_id": 1, "template_id": 1, "sender_id": "X", "status": "running",
             "launched_at": launched, "completed_at": done}
            for c, launched, done in [(1, at(2025, 1, 10), at(2025, 1, 11)), (2, at(2024, 11, 1), at(2024, 11, 2)),
                                      (3, at(2024, 12, 1), None)]])
        messages = [  # campaign, subscriber (also the message's id), status, submitted_at
            (1, 1, "delivered", at(2025, 1, 10, 10)), (1, 2, "undelivered", at(2025, 1, 10, 10)),
            (1, 3, "submitted", at(2025, 1, 10, 10)), (1, 4, "cancelled", None),
            (2, 5, "delivered", at(2024, 11, 1)), (3, 6, "delivered", at(2025, 1, 12)),
        ]
        conn.execute(insert(Message.__table__), [
            {"id": s, "campaign_id": c, "subscriber_id": s, "msisdn": f"+99890100000{s}", "status": st,
             "submitted_at": t} for c, s, st, t in messages])
        # MOs, and the replied events keywords/handling.py wrote for those it attributed to a campaign:
        # ali and cem replied to campaign 1 (cem after it completed), eve to 2, fay to 3; bea's SMS
        # came before campaign 1 reached her, so it replies to nothing
        mos = [(1, at(2025, 1, 10, 11), 1), (2, at(2025, 1, 10, 9), None), (3, at(2025, 1, 12, 9), 1),
               (5, at(2024, 11, 1, 12), 2), (6, at(2025, 1, 12, 10), 3)]
        for subscriber, when, campaign in mos:
            mo = conn.execute(insert(InboundMessage.__table__).values(
                provider_id=1, source=f"99890100000{subscriber}", destination="1234", text="hi", received_at=when,
                handled=True, keyword="HI")).inserted_primary_key[0]
            conn.execute(insert(Event.__table__).values(kind="keyword", at=when, data={"inbound_id": mo}))
            if campaign is not None:
                conn.execute(insert(Event.__table__).values(
                    kind="replied", at=when, campaign_id=campaign, message_id=subscriber,
                    data={"inbound_id": mo, "keyword": None}))
    return engine


def test_received_campaign_any_is_every_recipient_not_cancelled(history):
    assert who(history, {"kind": "received_campaign", "campaign_id": 1}) == ["ali", "bea", "cem"]


def test_received_campaign_by_delivery_outcome(history):
    assert who(history, {"kind": "received_campaign", "campaign_id": 1, "status": "delivered"}) == ["ali"]
    assert who(history, {"kind": "received_campaign", "campaign_id": 1, "status": "not_delivered"}) == ["bea"]


def test_not_messaged_in_counts_messages_of_campaigns_still_running_from_before_the_window(history):
    assert who(history, {"kind": "not_messaged_in", "days": 7}) == ["dan", "eve"]
    assert who(history, {"kind": "not_messaged_in", "days": 90}) == ["dan"]


def test_messages_received_counts_submitted_or_delivered_in_the_window(history):
    assert who(history, {"kind": "messages_received", "days": 7, "op": "ge", "value": 1}) == ["ali", "bea", "cem",
                                                                                             "fay"]
    assert who(history, {"kind": "messages_received", "days": 7, "op": "eq", "value": 0}) == ["dan", "eve"]
    assert who(history, {"kind": "messages_received", "days": 7, "status": "delivered", "value": 1}) == ["ali",
                                                                                                        "fay"]


def test_replied_to_a_campaign_matches_those_whose_reply_to_it_came_within_the_window(history):
    assert who(history, {"kind": "replied", "campaign_id": 1}) == ["ali", "cem"]
    assert who(history, {"kind": "replied", "campaign_id": 1, "days": 4}) == ["cem"]
    assert who(history, {"kind": "replied", "campaign_id": 1, "days": 1}) == []


def test_replied_in_the_last_days_is_a_reply_to_any_campaign(history):
    assert who(history, {"kind": "replied", "days": 7}) == ["ali", "cem", "fay"]
    assert who(history, {"kind": "replied", "days": 90}) == ["ali", "cem", "eve", "fay"]


def test_a_reply_that_came_after_its_campaign_completed_counts_in_the_window(history):
    """Campaign 1 completed on the 11th, before the last four days; cem's reply on the 12th is in them."""
    assert who(history, {"kind": "replied", "days": 4}) == ["cem", "fay"]


def test_an_sms_attributed_to_no_campaign_is_not_a_reply(history):
    assert "bea" not in who(history, {"kind": "replied", "days": 7})
    assert "bea" not in who(history, {"kind": "replied", "campaign_id": 1})


def test_replied_reads_the_events_the_keyword_handler_writes(engine):
    """Campaign 1 reached ali and bea an hour ago; ali texts back, bea does not, and the keyword
    handler attributes ali's SMS to campaign 1."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        _subscribers(conn)
        segment = conn.execute(insert(Segment.__table__).values(name="all", definition={"kind": "all"}))
        template = conn.execute(insert(Template.__table__).values(name="t"))
        campaign = conn.execute(insert(Campaign.__table__).values(
            name="c1", segment_id=segment.inserted_primary_key[0], template_id=template.inserted_primary_key[0],
            sender_id="X", status="running", launched_at=now - timedelta(hours=2))).inserted_primary_key[0]
        conn.execute(insert(Message.__table__), [
            {"campaign_id": campaign, "subscriber_id": s, "msisdn": f"+99890100000{s}", "status": "delivered",
             "submitted_at": now - timedelta(hours=1)} for s in (1, 2)])
        conn.execute(insert(InboundMessage.__table__).values(provider_id=1, source="998901000001",
                                                             destination="1234", text="Yes please"))
    handle_pending(engine)
    later = datetime.now(UTC) + timedelta(seconds=1)
    assert who(engine, {"kind": "replied", "campaign_id": campaign, "days": 1}, now=later) == ["ali"]
    assert who(engine, {"kind": "replied", "days": 1}, now=later) == ["ali"]


@pytest.mark.parametrize(("definition", "why"), [
    ({"kind": "replied"}, "'days' is required (or 'campaign_id')"),
    ({"kind": "received_campaign", "campaign_id": 1, "status": "read"}, "'status' must be one of"),
    ({"kind": "received_campaign"}, "'campaign_id' is required"),
    ({"kind": "not_messaged_in", "days": 0}, "'days' must be between 1"),
    ({"kind": "messages_received", "days": 7, "value": -1}, "'value' must be at least 0"),
])
def test_a_bad_history_criterion_is_an_error_saying_why(definition, why):
    with pytest.raises(SegmentError) as err:
        compile_node({"not": definition}, ctx=CompileContext(now=NOW))
    assert err.value.path == "segment.not"
    assert why in err.value.message


@pytest.fixture
def history_with_a_test_send(history):
    """Campaign 9, a test send (kind "test") to dan's number, delivered in the window and replied to."""
    with history.begin() as conn:
        conn.execute(insert(Campaign.__table__).values(
            id=9, name="c1 (test)", segment_id=1, template_id=1, sender_id="X", status="running", kind="test",
            launched_at=at(2025, 1, 13)))
        conn.execute(insert(Message.__table__).values(
            id=9, campaign_id=9, subscriber_id=4, msisdn="+998901000004", status="delivered",
            submitted_at=at(2025, 1, 13, 9)))
        conn.execute(insert(Event.__table__).values(kind="replied", at=at(2025, 1, 13, 10), campaign_id=9,
                                                    message_id=9, data={"inbound_id": 99, "keyword": None}))
    return history


@pytest.mark.parametrize(("definition", "without_the_test"), [
    ({"kind": "received_campaign", "campaign_id": 9}, []),
    ({"kind": "received_campaign", "campaign_id": 9, "status": "delivered"}, []),
    ({"kind": "replied", "campaign_id": 9}, []),
    ({"kind": "replied", "days": 7}, ["ali", "cem", "fay"]),
    ({"kind": "messages_received", "days": 7, "op": "ge", "value": 1}, ["ali", "bea", "cem", "fay"]),
    ({"kind": "not_messaged_in", "days": 7}, ["dan", "eve"]),
])
def test_history_criteria_ignore_test_sends(history_with_a_test_send, definition, without_the_test):
    assert who(history_with_a_test_send, definition) == without_the_test
