"""Launching freezes the audience once: reachable subscribers become recipients, those set aside
are counted by reason, and a branch's campaign reaches only its branch."""

import pytest
from sqlalchemy import select

from engage.engine import campaigns, consent
from engage.engine.segments import store as segments
from engage.engine.store.schema import Message
from engage.engine.templates import store as templates
from tests.audience_people import add_people

TASHKENT = {"field": "city", "op": "eq", "value": "Tashkent"}


@pytest.fixture
def people(engine):
    add_people(engine)
    with engine.begin() as conn:
        template_id = templates.create(conn, "hello", {"en": "Hi {{ first_name }}"}, default_language="en",
                                       actor="test")
    return engine, template_id


def _campaign(engine, template_id, *, branch=None, segment_branch=None, name="c"):
    with engine.begin() as conn:
        segment_id = segments.create(conn, f"tashkent {name}", TASHKENT, actor="test", branch=segment_branch)
        return campaigns.create(conn, name=name, segment_id=segment_id, template_id=template_id,
                                sender_id="Shop", actor="test", branch=branch)


def _recipients(engine, campaign_id):
    with engine.connect() as conn:
        return sorted(conn.execute(select(Message.msisdn).where(Message.campaign_id == campaign_id)).scalars())


def test_launch_writes_reachable_recipients_and_counts_opted_out_apart(people):
    engine, template_id = people
    with engine.begin() as conn:
        consent.opt_out(conn, ["+998901000002"], "sms", source="keyword", actor="test")
    campaign_id = _campaign(engine, template_id)
    launched = campaigns.launch(engine, campaign_id, actor="test")
    assert launched["recipients"] == 3
    assert launched["set_aside"] == {"opted_out": 1}
    assert "+998901000002" not in _recipients(engine, campaign_id)


def test_a_branch_campaign_reaches_only_subscribers_of_its_branch(people):
    engine, template_id = people
    campaign_id = _campaign(engine, template_id, branch="north")
    campaigns.launch(engine, campaign_id, actor="test")
    assert _recipients(engine, campaign_id) == ["+998901000001", "+998901000002"]


def test_a_branch_campaign_cannot_use_another_branch_segment(people):
    engine, template_id = people
    with pytest.raises(campaigns.CampaignError, match="belongs to another branch"):
        _campaign(engine, template_id, branch="north", segment_branch="south")
