"""What an approver approved is what is sent. At submission a campaign records what it will send (its
template's variants, its segment's definition with the segments that one includes, its sender,
schedule and sending rules); a template or segment of a campaign awaiting approval, scheduled,
running or paused cannot be changed (409 naming the campaign); and whatever changed all the same
(an included segment edited, a write past the checks) is found when a run launches: the campaign
goes back to awaiting approval, audited, and nothing is sent."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from engage.engine import campaigns
from engage.engine import statuses as st
from engage.engine.campaigns import completion, launching, lifecycle, submitted_content
from engage.engine.providers.records import add_smpp
from engage.engine.segments import store as segments
from engage.engine.store.schema import AuditEntry, Campaign, Message, Segment, Subscriber, TemplateVariant
from engage.engine.templates import store as templates
from tests.branch_people import token_for
from tests.campaign_scenario import wait_until_done
from tests.campaign_setup import EVERYONE, add_subscribers
from tests.fixtures.backends import running_workers
from tests.fixtures.web import serving
from tests.test_audience_api import _call
from tests.test_segment_limits import nots

APPROVED = "Hi {{ first_name }}, 10% off today"


def _due() -> datetime:
    """A moment just after now: a run due at its approval is launched, well within the grace."""
    return datetime.now(UTC) + timedelta(seconds=5)


def _approved_campaign(base: str, maker: str, approver: str, segment: dict = EVERYONE) -> tuple[int, int, int]:
    """A marketer's campaign, submitted and approved over HTTP: (campaign, template, segment) ids."""
    status, body = _call(base, "/api/v1/templates", {"name": "offer", "variants": {"en": APPROVED}}, token=maker)
    assert status == 201, body
    template_id = body["template_id"]
    status, body = _call(base, "/api/v1/segments", {"name": "everyone", "definition": segment}, token=maker)
    assert status == 201, body
    segment_id = body["segment_id"]
    status, body = _call(base, "/api/v1/campaigns", {"name": "offer", "segment_id": segment_id,
                                                     "template_id": template_id, "sender_id": "Shop"}, token=maker)
    assert status == 201, body
    campaign_id = body["campaign_id"]
    assert _call(base, f"/api/v1/campaigns/{campaign_id}/submit", {}, token=maker)[1]["status"] == "awaiting_approval"
    return campaign_id, template_id, segment_id


def _approve(base: str, campaign_id: int, approver: str) -> None:
    status, body = _call(base, f"/api/v1/campaigns/{campaign_id}/approve", {}, token=approver)
    assert status == 200, body


@pytest.fixture
def people(engine):
    add_subscribers(engine, 3)
    with serving(engine) as base:
        yield engine, base, token_for(engine, "marketer"), token_for(engine, "approver")


def _status(engine, campaign_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(select(Campaign.status).where(Campaign.id == campaign_id)).scalar_one()


def _bodies(engine, template_id: int) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(TemplateVariant.body).where(TemplateVariant.template_id == template_id)
                                 ).scalars())


def test_the_template_of_an_approved_campaign_cannot_be_changed_by_its_author(people):
    engine, base, maker, approver = people
    campaign_id, template_id, _ = _approved_campaign(base, maker, approver)
    _approve(base, campaign_id, approver)
    status, body = _call(base, f"/api/v1/templates/{template_id}", {"variants": {"en": "Hi, 90% off"}},
                         token=maker, method="PUT")
    assert status == 409, body
    assert f"campaign {campaign_id} 'offer' (scheduled)" in body["error"]
    assert _bodies(engine, template_id) == [APPROVED]


def test_the_template_of_a_campaign_awaiting_approval_cannot_be_changed(people):
    engine, base, maker, approver = people
    campaign_id, template_id, _ = _approved_campaign(base, maker, approver)
    status, body = _call(base, f"/api/v1/templates/{template_id}", {"variants": {"en": "Hi, 90% off"}},
                         token=maker, method="PUT")
    assert status == 409 and f"campaign {campaign_id} 'offer' (awaiting_approval)" in body["error"]
    assert _bodies(engine, template_id) == [APPROVED]


def test_the_template_of_a_draft_can_be_changed(people):
    engine, base, maker, _ = people
    status, body = _call(base, "/api/v1/templates", {"name": "draft's", "variants": {"en": "Hi"}}, token=maker)
    template_id = body["template_id"]
    assert _call(base, "/api/v1/campaigns", {"name": "d", "segment_id": _segment(engine), "template_id": template_id,
                                             "sender_id": "Shop"}, token=maker)[0] == 201
    assert _call(base, f"/api/v1/templates/{template_id}", {"variants": {"en": "Hello"}}, token=maker,
                 method="PUT")[0] == 200
    assert _bodies(engine, template_id) == ["Hello"]


def _segment(engine) -> int:
    with engine.begin() as conn:
        return segments.create(conn, "plain", EVERYONE, actor="t")


def test_a_template_changed_past_the_checks_sends_the_campaign_back_for_approval_at_launch(people):
    engine, base, maker, approver = people
    campaign_id, template_id, _ = _approved_campaign(base, maker, approver)
    _approve(base, campaign_id, approver)
    with engine.begin() as conn:  # a write no check saw (a script, a restored backup...)
        conn.execute(update(TemplateVariant).where(TemplateVariant.template_id == template_id).values(body="90% off"))
    launched = completion.launch_due(engine, _due())
    assert launched == [{"campaign_id": campaign_id, "sent_back": ["template"]}]
    assert _status(engine, campaign_id) == st.CAMPAIGN_AWAITING_APPROVAL
    with engine.connect() as conn:
        assert conn.execute(select(Message.id).where(Message.campaign_id == campaign_id)).first() is None
        entry = conn.execute(select(AuditEntry.details).where(AuditEntry.action == "campaign.sent_back")).scalar_one()
    assert entry["changed"] == ["template"]


def test_an_included_segment_changed_after_approval_sends_the_campaign_back_at_launch(people):
    engine, base, maker, approver = people
    with engine.begin() as conn:
        inner = segments.create(conn, "inner", EVERYONE, actor="t")
    campaign_id, _, _ = _approved_campaign(base, maker, approver, {"kind": "in_segment", "segment_id": inner})
    _approve(base, campaign_id, approver)
    assert _call(base, f"/api/v1/segments/{inner}", {"definition": {"kind": "all"}}, token=maker,
                 method="PUT")[0] == 200
    assert completion.launch_due(engine, _due()) == [{"campaign_id": campaign_id, "sent_back": ["segment"]}]
    assert _status(engine, campaign_id) == st.CAMPAIGN_AWAITING_APPROVAL


def test_a_campaign_changed_since_submission_is_not_approved(people):
    engine, base, maker, approver = people
    with engine.begin() as conn:
        inner = segments.create(conn, "inner", EVERYONE, actor="t")
    campaign_id, _, _ = _approved_campaign(base, maker, approver, {"kind": "in_segment", "segment_id": inner})
    _call(base, f"/api/v1/segments/{inner}", {"definition": {"kind": "all"}}, token=maker, method="PUT")
    status, body = _call(base, f"/api/v1/campaigns/{campaign_id}/approve", {}, token=approver)
    assert status == 409 and "changed since it was submitted (segment)" in body["error"]
    assert _status(engine, campaign_id) == st.CAMPAIGN_AWAITING_APPROVAL


def test_a_campaign_sent_back_and_approved_again_sends_what_was_approved_the_second_time(people):
    engine, base, maker, approver = people
    campaign_id, template_id, _ = _approved_campaign(base, maker, approver)
    _approve(base, campaign_id, approver)
    with engine.begin() as conn:
        conn.execute(update(TemplateVariant).where(TemplateVariant.template_id == template_id).values(body="Bye"))
    completion.launch_due(engine, _due())
    _approve(base, campaign_id, token_for(engine, "approver", email="second@example.com"))
    launched = lifecycle.send_now(engine, campaign_id, actor="maker@example.com")
    assert launched["recipients"] == 3


@pytest.mark.parametrize("backend", ["embedded", "production"], indirect=True)
def test_the_smsc_receives_the_approved_text_after_its_author_tried_to_change_it(backend, smsc_factory):
    engine, broker_url, _ = backend
    sim = smsc_factory(receipt_delay=0.01)
    add_subscribers(engine, 3)
    with engine.begin() as conn:
        add_smpp(conn, name="sim", host="127.0.0.1", port=sim.port, system_id="engage", password="secret",
                 tps=500, binds=1, window=4, actor="test")
    with serving(engine) as base:
        maker, approver = token_for(engine, "marketer"), token_for(engine, "approver")
        campaign_id, template_id, _ = _approved_campaign(base, maker, approver)
        _approve(base, campaign_id, approver)
        assert _call(base, f"/api/v1/templates/{template_id}", {"variants": {"en": "Hi, 90% off"}}, token=maker,
                     method="PUT")[0] == 409
        assert _call(base, f"/api/v1/campaigns/{campaign_id}/launch", {}, token=maker)[0] == 200
    with running_workers(engine, broker_url):
        assert wait_until_done(engine, campaign_id)["delivered"] == 3
    with engine.connect() as conn:
        names = sorted(conn.execute(select(Subscriber.first_name)).scalars())
    assert sorted(r.short_message.decode() for r in sim.received) == [
        f"Hi {name}, 10% off today" for name in names]


def test_a_submission_records_what_the_approver_is_asked_to_agree_to(people):
    engine, base, maker, approver = people
    campaign_id, _, segment_id = _approved_campaign(base, maker, approver)
    with engine.connect() as conn:
        content = conn.execute(select(Campaign.submitted_content).where(Campaign.id == campaign_id)).scalar_one()
    assert content["template"]["variants"] == [{"arm": "A", "language": "en", "body": APPROVED}]
    assert content["segment"] == {"id": segment_id, "definition": EVERYONE, "includes": {}}
    assert content["sender_id"] == "Shop"



def test_a_campaign_cancelled_after_its_run_found_it_changed_stays_cancelled(people):
    engine, base, maker, approver = people
    campaign_id, _, _ = _approved_campaign(base, maker, approver)
    _approve(base, campaign_id, approver)
    with engine.connect() as conn:  # the run reads the campaign and finds it changed...
        found = conn.execute(select(Campaign.__table__).where(Campaign.id == campaign_id)).one()
    lifecycle.cancel(engine, campaign_id, actor="maker@example.com")  # ...someone cancels it...
    with engine.begin() as conn:  # ...and then the run sends it back
        assert submitted_content.send_back(conn, found, ["template"], actor="scheduler") is False
    assert _status(engine, campaign_id) == st.CAMPAIGN_CANCELLED
    with engine.connect() as conn:
        assert conn.execute(select(AuditEntry.id).where(AuditEntry.action == "campaign.sent_back")).first() is None


def test_a_run_of_a_campaign_cancelled_before_it_launched_sends_nothing(people):
    engine, base, maker, approver = people
    campaign_id, _, _ = _approved_campaign(base, maker, approver)
    _approve(base, campaign_id, approver)
    lifecycle.cancel(engine, campaign_id, actor="maker@example.com")
    launched = launching.launch_run(engine, campaign_id, _due(), actor="scheduler")
    assert launched == {"campaign_id": campaign_id, "not_launched": "campaign is cancelled"}
    assert _status(engine, campaign_id) == st.CAMPAIGN_CANCELLED
    with engine.connect() as conn:
        assert conn.execute(select(Message.id).where(Message.campaign_id == campaign_id)).first() is None


@pytest.fixture
def legacy_deep(engine):
    """A draft on a segment 900 nots deep that includes segment 2, saved before the segment limits existed."""
    add_subscribers(engine, 1)
    with engine.begin() as conn:
        conn.execute(insert(Segment.__table__), [
            {"id": 1, "name": "old", "definition": nots(900, {"kind": "in_segment", "segment_id": 2})},
            {"id": 2, "name": "inner", "definition": EVERYONE}])
        template_id = templates.create(conn, "t", {"en": "Hi"}, default_language="en", actor="m")
        campaign_id = campaigns.create(conn, name="offer", segment_id=1, template_id=template_id,
                                       sender_id="Shop", actor="m")
    return engine, campaign_id


def test_the_content_of_a_campaign_on_a_900_deep_legacy_segment_is_read_without_recursion(legacy_deep):
    engine, campaign_id = legacy_deep
    with engine.connect() as conn:
        c = conn.execute(select(Campaign.__table__).where(Campaign.id == campaign_id)).one()
        assert submitted_content.content(conn, c)["segment"]["includes"] == {"2": EVERYONE}


def test_submitting_a_campaign_on_a_900_deep_legacy_segment_is_a_409_naming_the_limit(legacy_deep):
    engine, campaign_id = legacy_deep
    with serving(engine) as base:
        status, body = _call(base, f"/api/v1/campaigns/{campaign_id}/submit", {}, token=token_for(engine, "marketer"))
    assert status == 409, body
    assert "nested deeper than" in body["error"] and "Traceback" not in json.dumps(body)
    assert _status(engine, campaign_id) == st.CAMPAIGN_DRAFT
