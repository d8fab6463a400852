"""What an approver approved is what is sent, its audience too: the submission records the reachable
audience the approver was shown, and a run whose frozen audience grew more than
ENGAGE_APPROVAL_TOLERANCE (default 10%) past it (an import, a partner's upsert retagging subscribers
into the segment) sends nothing and goes back to awaiting approval, audited with how it grew; so does
a run of a campaign that needed no approval whose audience now passes ENGAGE_APPROVAL_ABOVE."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from engage.engine import statuses as st
from engage.engine.campaigns import CampaignError, lifecycle
from engage.engine.campaigns.launching import launch_run
from engage.engine.store.schema import AuditEntry, Campaign, Message, Subscriber
from tests.campaign_setup import add_subscribers, make_campaign


def _more_subscribers(engine, first: int, n: int) -> None:
    """Subscribers the segment (everyone) now reaches, as an import writes them."""
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [
            {"id": i, "msisdn": f"+99890{i:07d}", "first_name": f"New{i}", "language": "en", "attributes": {}}
            for i in range(first, first + n)])


def _approved(engine, **options) -> int:
    """A marketer's campaign on everyone, submitted and approved by a second person."""
    campaign_id = make_campaign(engine, actor="maker", **options)
    with engine.begin() as conn:
        assert lifecycle.submit(conn, campaign_id, actor="maker", role="marketer") == st.CAMPAIGN_AWAITING_APPROVAL
        lifecycle.approve(conn, campaign_id, actor="approver")
    return campaign_id


def _status(engine, campaign_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(select(Campaign.status).where(Campaign.id == campaign_id)).scalar_one()


def _sent(engine, campaign_id: int) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(Message.id).where(Message.campaign_id == campaign_id)).all())


def _sent_back(engine) -> list[dict]:
    with engine.connect() as conn:
        return list(conn.execute(select(AuditEntry.details).where(AuditEntry.action == "campaign.sent_back")
                                 .order_by(AuditEntry.id)).scalars())


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def ten(engine):
    add_subscribers(engine, 10)
    return engine


def test_a_submission_records_the_audience_the_approver_is_shown(ten):
    campaign_id = _approved(ten)
    with ten.connect() as conn:
        assert conn.execute(select(Campaign.submitted_content).where(
            Campaign.id == campaign_id)).scalar_one()["audience"] == 10


def test_a_run_whose_audience_grew_past_the_tolerance_sends_nothing_and_goes_back_for_approval(ten):
    campaign_id = _approved(ten)
    _more_subscribers(ten, 11, 1_000)  # retagged into the segment after approval
    launched = launch_run(ten, campaign_id, _now(), actor="scheduler")
    assert launched["sent_back"] == ["audience"]
    assert _status(ten, campaign_id) == st.CAMPAIGN_AWAITING_APPROVAL
    assert _sent(ten, campaign_id) == 0
    [entry] = _sent_back(ten)
    assert entry["changed"] == ["audience"]
    assert entry["why"].startswith("its audience grew from 10 to 1010")


def test_a_run_whose_audience_grew_within_the_tolerance_is_sent(ten):
    campaign_id = _approved(ten)
    _more_subscribers(ten, 11, 1)
    assert launch_run(ten, campaign_id, _now(), actor="scheduler")["recipients"] == 11
    assert _status(ten, campaign_id) == st.CAMPAIGN_RUNNING


def test_the_tolerance_is_set_by_engage_approval_tolerance(ten, monkeypatch):
    monkeypatch.setenv("ENGAGE_APPROVAL_TOLERANCE", "0%")
    campaign_id = _approved(ten)
    _more_subscribers(ten, 11, 1)
    assert launch_run(ten, campaign_id, _now(), actor="scheduler")["sent_back"] == ["audience"]


def test_sending_now_a_campaign_whose_audience_grew_is_refused_saying_how_it_grew(ten):
    campaign_id = _approved(ten)
    _more_subscribers(ten, 11, 100)
    with pytest.raises(CampaignError, match="its audience grew from 10 to 110"):
        lifecycle.send_now(ten, campaign_id, actor="maker")
    assert _sent(ten, campaign_id) == 0


def test_a_campaign_that_needed_no_approval_goes_back_when_its_audience_passes_the_threshold(ten, monkeypatch):
    monkeypatch.setenv("ENGAGE_APPROVAL_ABOVE", "50")
    campaign_id = make_campaign(ten, actor="admin")
    with ten.begin() as conn:
        assert lifecycle.submit(conn, campaign_id, actor="admin", role="admin") == st.CAMPAIGN_SCHEDULED
    _more_subscribers(ten, 11, 41)
    launched = launch_run(ten, campaign_id, _now(), actor="scheduler")
    assert launched["sent_back"] == ["audience"]
    assert _status(ten, campaign_id) == st.CAMPAIGN_AWAITING_APPROVAL
    assert "its audience grew from 10 to 51" in _sent_back(ten)[0]["why"]


def test_each_run_of_a_recurring_campaign_is_compared_with_the_approved_audience(ten):
    campaign_id = _approved(ten)
    _more_subscribers(ten, 11, 1)  # 11: within 10% of the 10 approved
    first = _now()
    assert launch_run(ten, campaign_id, first, actor="scheduler")["recipients"] == 11
    with ten.begin() as conn:  # the run done, more to come (completion)
        conn.execute(update(Campaign).where(Campaign.id == campaign_id).values(status=st.CAMPAIGN_SCHEDULED))
    _more_subscribers(ten, 12, 1)  # 12: within 10% of the last run's 11, not of the 10 approved
    launched = launch_run(ten, campaign_id, first + timedelta(days=1), actor="scheduler")
    assert launched["sent_back"] == ["audience"]
    assert "its audience grew from 10 to 12" in _sent_back(ten)[0]["why"]
