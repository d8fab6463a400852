"""A test send reaches staff numbers through the real route, as a campaign of its own, and staff who
are not subscribers see the template filled with a sample recipient."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from engage.engine import statuses as st
from engage.engine.campaigns import CampaignError
from engage.engine.campaigns.trial_sends import send_test
from engage.engine.providers.records import add_smpp
from engage.engine.store.schema import Message, Subscriber
from tests.campaign_scenario import wait_until_done
from tests.campaign_setup import add_subscribers, make_campaign, statuses
from tests.fixtures.backends import running_workers


def test_a_test_send_delivers_to_staff_through_the_real_route(backend, smsc_factory):
    engine, broker_url, _ = backend
    sim = smsc_factory(receipt_delay=0.01)
    add_subscribers(engine, 3)
    with engine.begin() as conn:
        add_smpp(conn, name="sim", host="127.0.0.1", port=sim.port, system_id="engage", password="secret",
                 actor="test")
    campaign_id = make_campaign(engine)
    sent = send_test(engine, campaign_id, ["+998900000001", "998 97 111 22 33"], actor="qa")
    assert sent["not_subscribers"] == ["+998971112233"]
    with running_workers(engine, broker_url):
        counts = wait_until_done(engine, sent["test_campaign_id"])
    assert counts[st.DELIVERED] == 2
    assert sorted(r.destination for r in sim.received) == ["998900000001", "998971112233"]
    with engine.connect() as conn:
        bodies = dict(conn.execute(select(Message.msisdn, Message.body).where(
            Message.campaign_id == sent["test_campaign_id"])).all())
    assert bodies["+998900000001"] == "Hi N1"
    assert bodies["+998971112233"].startswith("Hi ") and bodies["+998971112233"] != "Hi "
    assert statuses(engine, campaign_id) == {}  # the real campaign is untouched


def test_a_test_send_refuses_bad_numbers_naming_them(engine):
    add_subscribers(engine, 1)
    campaign_id = make_campaign(engine)
    with pytest.raises(CampaignError, match="numbers:"):
        send_test(engine, campaign_id, ["12"], actor="qa")


def test_a_branch_campaigns_test_send_links_only_that_branchs_subscribers(engine):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [
            {"id": 1, "msisdn": "+998901000001", "first_name": "North", "branch": "north", "attributes": {}},
            {"id": 2, "msisdn": "+998901000002", "first_name": "South", "branch": "south", "attributes": {}}])
    campaign_id = make_campaign(engine, branch="north")
    sent = send_test(engine, campaign_id, ["+998901000001", "+998901000002"], actor="qa")
    assert sent["not_subscribers"] == ["+998901000002"]
    with engine.connect() as conn:
        linked = dict(conn.execute(select(Message.msisdn, Message.subscriber_id).where(
            Message.campaign_id == sent["test_campaign_id"])).all())
    assert linked == {"+998901000001": 1, "+998901000002": 0}
