"""The review of a campaign (campaigns.review): what the author sees before creating it and the
approver before agreeing: each message per language and arm with its encoding and parts, when in
words, the rules in sentences, the audience with what is set aside, warnings, the cost; and the
messages held for quiet hours, counted with when they go (campaigns.held)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from engage.engine.campaigns.held import held
from engage.engine.campaigns.launching import launch_run
from engage.engine.campaigns.review import review, review_of, unsaved
from engage.engine.consent import opt_out
from engage.engine.segments import store as segments
from engage.engine.store.schema import Message
from engage.engine.templates import store as templates
from tests.campaign_setup import add_subscribers, make_campaign


def test_a_review_shows_every_language_and_arm_rendered_with_encoding_and_parts(engine):
    add_subscribers(engine, 4)
    with engine.begin() as conn:
        template_id = templates.create(conn, "split", {"en": "Hi {{ first_name }}", "ru": "Привет"},
                                       default_language="en", actor="t",
                                       arms={"B": {"en": "Hello", "ru": "Здравствуй"}})
        segment_id = segments.create(conn, "all", {"kind": "all"}, actor="t")
        row = unsaved({"segment_id": segment_id, "template_id": template_id, "sender_id": "Shop",
                       "arms": [{"arm": "A", "share": 50}, {"arm": "B", "share": 50}], "control_share": 0.25},
                      branch=None, name="Spring")
        r = review(conn, row)
    shown = {(m["arm"], m["language"]): (m["text"], m["encoding"], m["parts"]) for m in r["messages"]}
    assert shown == {("A", "en"): ("Hi Alexander", "GSM-7", 1), ("A", "ru"): ("Привет", "UCS-2 (Unicode)", 1),
                     ("B", "en"): ("Hello", "GSM-7", 1), ("B", "ru"): ("Здравствуй", "UCS-2 (Unicode)", 1)}
    assert r["estimate"]["reachable"] == 4 and r["control_percent"] == 25
    assert r["when"] == "As soon as it is approved" and r["segment"] == "all"


def test_a_review_counts_the_opted_out_set_aside_and_warns_when_nobody_is_reachable(engine):
    add_subscribers(engine, 2)
    campaign_id = make_campaign(engine)
    with engine.begin() as conn:
        opt_out(conn, ["+998900000001", "+998900000002"], "sms", source="test", actor="t")
        r = review_of(conn, campaign_id)
    assert r["opted_out"] == 2 and r["estimate"]["reachable"] == 0
    assert "Nobody in this audience can be reached now: it would send nothing." in r["warnings"]


def test_a_review_says_the_rules_in_sentences(engine):
    campaign_id = make_campaign(engine, quiet_hours="21:00-09:00", max_rate=50, cap={"count": 1, "days": 7},
                                local_time="10:00", schedule={"kind": "daily", "time": "09:00"})
    with engine.connect() as conn:
        r = review_of(conn, campaign_id)
    assert r["when"] == "Every day at 09:00 Asia/Tashkent, at 10:00 in each recipient's own time zone"
    assert r["rules"] == ["Quiet hours 21:00-09:00 in each recipient's time zone: messages due then are held until "
                          "they end, never dropped.", "At most 50 messages a second.",
                          "A subscriber gets at most 1 of this campaign in 7 days."]


def test_held_messages_are_counted_with_when_the_first_and_last_go(engine):
    add_subscribers(engine, 3)
    campaign_id = make_campaign(engine)
    soon = datetime(2026, 12, 8, 4, 0, tzinfo=UTC)
    launch_run(engine, campaign_id, datetime.now(UTC), actor="t")
    with engine.begin() as conn:
        ids = [m for m in conn.execute(Message.__table__.select().where(Message.campaign_id == campaign_id)
                                       .order_by(Message.id)).all()]
        for n, m in enumerate(ids[:2]):
            conn.execute(update(Message).where(Message.id == m.id).values(
                status="held", not_before=soon + timedelta(hours=n)))
        found = held(conn, [campaign_id])
    assert found == {campaign_id: {"count": 2, "first": soon, "last": soon + timedelta(hours=1)}}
