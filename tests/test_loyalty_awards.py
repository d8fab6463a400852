"""Campaign-triggered awards: points for replying to a campaign and for a USSD opt-in (from the
event stream, through the events worker's consumer) and for usage within N days after a campaign's
message was delivered (through scoring); each once per member, none for the control group."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from engage.engine.analytics import consumers
from engage.engine.events import record, record_one
from engage.engine.loyalty import ledger, members, programmes, rules, scoring
from engage.engine.loyalty.scoring import Record
from engage.engine.store.schema import LoyaltyMember, Message, Subscriber

T0 = datetime(2027, 1, 5, 9, tzinfo=UTC)
SENT, HELD_OUT = "+998900000001", "+998900000002"  # sent campaign 7; in its control group


@pytest.fixture
def club(engine):  # noqa: ANN001, ANN201
    with engine.begin() as conn:
        conn.execute(insert(Subscriber), [{"id": 1, "msisdn": SENT}, {"id": 2, "msisdn": HELD_OUT}])
        conn.execute(insert(Message), [
            {"campaign_id": 7, "subscriber_id": 1, "msisdn": SENT, "status": "delivered", "done_at": T0},
            {"campaign_id": 7, "subscriber_id": 2, "msisdn": HELD_OUT, "status": "control", "done_at": T0}])
        club = programmes.create(conn, "club", "Club")
        members.enrol(conn, club.id, [1, 2], "api")
    return club


def add_rule(engine, club, code: str, definition: dict) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        rules.create(conn, club.id, code, code, definition, actor="ana", valid_from=T0 - timedelta(days=30))


def points(engine, number: str) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        member = conn.execute(select(LoyaltyMember.id).join(Subscriber, Subscriber.id == LoyaltyMember.subscriber_id)
                              .where(Subscriber.msisdn == number)).scalar_one()
        return ledger.balance(conn, member).available


def fold(engine) -> None:  # noqa: ANN001
    consumers.run_once(engine, only=["loyalty_awards"], grace=0)


def reply(engine, campaign_id: int, number: str) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        message = conn.execute(select(Message.id).where(Message.msisdn == number)).scalar_one()
        record(conn, "replied", [{"campaign_id": campaign_id, "message_id": message, "data": {"inbound_id": 1}}])


def test_replying_to_a_campaign_earns_its_award_once(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, "answer", {"on": "reply", "points": 50, "campaigns": [7]})
    fold(engine)  # the consumer starts at the stream's end ("now")
    reply(engine, 7, SENT)
    reply(engine, 7, SENT)
    fold(engine)
    assert points(engine, SENT) == 50


def test_a_reply_to_a_campaign_the_award_does_not_name_earns_nothing(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, "answer", {"on": "reply", "points": 50, "campaigns": [8]})
    fold(engine)
    reply(engine, 7, SENT)
    fold(engine)
    assert points(engine, SENT) == 0


def test_a_ussd_opt_in_earns_its_award_once(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, "optin", {"on": "ussd_opt_in", "points": 20})
    fold(engine)
    with engine.begin() as conn:
        record_one(conn, "ussd_opt_in", msisdn=SENT, channel="sms")
        record_one(conn, "ussd_opt_in", msisdn=SENT, channel="sms")
    fold(engine)
    assert points(engine, SENT) == 20


def test_a_recharge_within_the_window_after_a_delivered_message_earns_the_award(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, "recharge", {"on": "usage_after_campaign", "kind": "recharge", "within_days": 7,
                                        "points": 100})
    scoring.score(engine, club, "cdr", [Record("r1", SENT, "recharge", T0 + timedelta(days=2), 5),
                                        Record("r2", SENT, "recharge", T0 + timedelta(days=3), 5)])
    assert points(engine, SENT) == 100


def test_the_control_group_earns_no_award_after_a_campaign(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, "recharge", {"on": "usage_after_campaign", "kind": "recharge", "within_days": 7,
                                        "points": 100})
    scoring.score(engine, club, "cdr", [Record("r1", HELD_OUT, "recharge", T0 + timedelta(days=2), 5)])
    assert points(engine, HELD_OUT) == 0


def test_a_recharge_after_the_window_earns_no_award(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, "recharge", {"on": "usage_after_campaign", "kind": "recharge", "within_days": 7,
                                        "points": 100})
    scoring.score(engine, club, "cdr", [Record("r1", SENT, "recharge", T0 + timedelta(days=8), 5)])
    assert points(engine, SENT) == 0


@pytest.mark.parametrize(("definition", "field"), [
    ({"on": "birthday", "points": 5}, "on"),
    ({"on": "reply", "kind": "call_out", "points": 5}, "kind"),
    ({"on": "usage_after_campaign", "kind": "recharge", "points": 5}, "within_days"),
    ({"on": "reply", "points": 5, "campaigns": ["seven"]}, "campaigns"),
    ({"kind": "call_out", "every": 100, "points": 5, "campaigns": [7]}, "campaigns"),
])
def test_a_bad_award_is_refused_naming_its_field(definition, field) -> None:  # noqa: ANN001
    with pytest.raises(rules.EarningRuleError) as refused:
        rules.parse(definition)
    assert refused.value.field == field
