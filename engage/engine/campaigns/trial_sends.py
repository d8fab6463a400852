"""Test sends: a campaign's message sent to a few staff numbers through the real route, before the
real audience gets it. Each test is a campaign of its own (kind "test"), so its messages never mix
into the real campaign's figures, and its delivery shows in `campaign show` like any other. Staff
numbers need not be subscribers: those who are not see the template filled with a sample recipient.
Tests skip approval, caps, quiet hours and the control group; they are audited.

A staff number is linked to a subscriber only within the campaign's branch, and no history criterion
counts test campaigns (segments.kinds.history): otherwise a test to a guessed number, then a count of
received_campaign AND first_name=..., would tell a role shown numbers masked whose number it is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, insert, select

from engage import config
from engage.engine import statuses as st
from engage.engine.audit import audit
from engage.engine.campaigns.records import CampaignError
from engage.engine.phones import InvalidNumber, to_e164
from engage.engine.store.schema import Campaign, Message, Subscriber

TEST_KIND = "test"
MAX_NUMBERS = 20  # a test goes to staff, not to an audience


def send_test(engine: Engine, campaign_id: int, numbers: list[str], *, actor: str, arm: str = "A") -> dict[str, Any]:
    """Send campaign `campaign_id`'s message (arm `arm`) to `numbers`; returns the test campaign."""
    region = config.load().default_region
    if not numbers or len(numbers) > MAX_NUMBERS:
        raise CampaignError(f"a test send goes to 1 to {MAX_NUMBERS} numbers, got {len(numbers)}")
    try:
        wanted = list(dict.fromkeys(to_e164(n, region) for n in numbers))
    except InvalidNumber as exc:
        raise CampaignError(f"numbers: {exc}") from None
    with engine.begin() as conn:
        c = conn.execute(select(Campaign.__table__).where(Campaign.id == campaign_id)).first()
        if c is None:
            raise CampaignError(f"campaign {campaign_id} does not exist")
        query = select(Subscriber.msisdn, Subscriber.id).where(Subscriber.msisdn.in_(wanted))
        if c.branch is not None:
            query = query.where(Subscriber.branch == c.branch)
        known = dict(conn.execute(query).all())
        test_id = conn.execute(insert(Campaign.__table__).values(
            name=f"{c.name} (test)"[:200], segment_id=c.segment_id, template_id=c.template_id, sender_id=c.sender_id,
            branch=c.branch, kind=TEST_KIND, status=st.CAMPAIGN_RUNNING, created_by=actor, set_aside={},
            max_parts=c.max_parts, audience_size=len(wanted))).inserted_primary_key[0]
        conn.execute(insert(Message.__table__), [
            {"campaign_id": test_id, "subscriber_id": known.get(n, 0), "msisdn": n, "status": st.PENDING, "arm": arm}
            for n in wanted])
        audit(conn, actor, "campaign.test_send", "campaign", campaign_id, test_campaign=test_id, numbers=wanted)
    return {"campaign_id": campaign_id, "test_campaign_id": test_id, "numbers": wanted,
            "not_subscribers": [n for n in wanted if n not in known]}
