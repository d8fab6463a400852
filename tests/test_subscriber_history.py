"""A subscriber's history, newest first: what was sent to their number (campaign, text, status,
route, cost), its receipts, what they sent back, their opt-outs; nobody else's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert

from engage.engine.receipts import matching
from engage.engine.store.schema import InboundMessage
from engage.engine.subscribers.history import history
from tests.subscriber_story import ANNA, AZIZ, add_people, message_and_reply


@pytest.fixture
def story(engine):
    ids = add_people(engine)
    return ids, message_and_reply(engine, AZIZ)


def entries(engine, subscriber_id, kind=None, limit=100):
    with engine.connect() as conn:
        found = history(conn, subscriber_id, limit)
    return [e for e in found if kind is None or e["kind"] == kind]


def test_a_message_shows_its_campaign_text_status_route_and_cost(engine, story):
    ids, sent = story
    [message] = entries(engine, ids[AZIZ], "message")
    assert message["campaign"] == "Spring offer" and message["campaign_id"] == sent["campaign_id"]
    assert message["body"] == "Hi Aziz, double points this week!"
    assert message["status"] == "delivered" and message["provider"] == "uzmobile"
    assert (message["price"], message["currency"]) == (Decimal("0.015000"), "USD")
    assert message["submitted_at"] is not None and message["done_at"] is not None


def test_the_receipt_of_a_message_is_in_the_history_whatever_case_it_quoted_the_id_in(engine, story):
    ids, sent = story
    [receipt] = entries(engine, ids[AZIZ], "receipt")
    assert (receipt["stat"], receipt["err"], receipt["message_id"]) == ("DELIVRD", "000", sent["message_id"])


def test_a_receipt_quoting_the_id_in_the_other_base_is_in_the_history(engine, story):
    ids, sent = story
    matching.store(engine, sent["provider_id"], [{"id": str(0x5F3A9C), "stat": "DELIVRD", "err": None,
                                                  "done_at": None}], [])
    assert len(entries(engine, ids[AZIZ], "receipt")) == 2


def test_a_reply_from_the_number_is_in_the_history_with_or_without_its_plus(engine, story):
    ids, sent = story
    matching.store(engine, sent["provider_id"], [], [{"source": AZIZ, "destination": "5555", "text": "INFO"}])
    replies = entries(engine, ids[AZIZ], "reply")
    assert sorted(r["text"] for r in replies) == ["INFO", "STOP please"]
    assert {r["destination"] for r in replies} == {"5555"}


def test_an_opt_out_is_in_the_history(engine, story):
    ids, _ = story
    [opt_out] = entries(engine, ids[AZIZ], "opt_out")
    assert (opt_out["channel"], opt_out["source"]) == ("sms", "keyword STOP")


def test_another_numbers_messages_and_replies_are_not_in_the_history(engine, story):
    ids, _ = story
    assert entries(engine, ids[ANNA]) == []


def test_the_history_is_newest_first(engine, story):
    ids, sent = story
    later = datetime.now(UTC) + timedelta(days=1)
    with engine.begin() as conn:
        conn.execute(insert(InboundMessage.__table__), [
            {"provider_id": sent["provider_id"], "source": AZIZ, "destination": "5555", "text": text,
             "handled": True, "received_at": later + timedelta(minutes=minutes)}
            for text, minutes in (("first", 1), ("second", 2))])
    found = entries(engine, ids[AZIZ])
    assert [e.get("text") for e in found[:2]] == ["second", "first"]
    assert found[-1]["kind"] == "message"  # sent before its receipt, the reply and the opt-out
    assert all(a["at"] >= b["at"] for a, b in zip(found, found[1:], strict=False))


def test_the_history_keeps_only_the_newest_entries_asked_for(engine, story):
    ids, _ = story
    assert len(entries(engine, ids[AZIZ], limit=2)) == 2


def test_a_subscriber_that_does_not_exist_has_no_history(engine, story):
    assert entries(engine, 10_000) == []


def test_a_message_and_its_receipt_say_their_outcome_in_words_beside_the_codes(engine, story):
    ids, _ = story
    [message] = entries(engine, ids[AZIZ], "message")
    [receipt] = entries(engine, ids[AZIZ], "receipt")
    assert (message["outcome"], message["status"]) == ("Delivered", "delivered")
    assert (receipt["outcome"], receipt["stat"], receipt["err"]) == ("Delivered", "DELIVRD", "000")


def test_a_receipt_that_failed_says_why_in_words(engine, story):
    ids, sent = story
    matching.store(engine, sent["provider_id"],
                   [{"id": "5F3A9C", "stat": "UNDELIV", "err": "001", "done_at": None}], [])
    latest = entries(engine, ids[AZIZ], "receipt")[0]
    assert latest["outcome"] == "Not delivered: the number is not in service"
