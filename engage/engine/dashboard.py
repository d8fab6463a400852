"""The figures on the staff dashboard: today's messages and delivery rate, campaigns running and
scheduled, the day's test sends apart from them, and provider health, all within the viewer's
branch. A few aggregate queries over indexed columns, cheap enough to load with the page.

Test sends and keyword replies are campaigns of their own kinds: a test runs until its few staff
phones have their receipts, and a keyword's replies run for good: listed with the campaigns, they
would read as campaigns running that nobody made."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, func, select

from engage.engine import statuses as st
from engage.engine.campaigns.held import held
from engage.engine.campaigns.kinds import REPLY_KIND
from engage.engine.campaigns.rejections import sent_back
from engage.engine.campaigns.trial_sends import TEST_KIND
from engage.engine.providers.status import read_status
from engage.engine.store.schema import Campaign, Message

TEST_SENDS_SHOWN = 5  # the latest of the last day


def figures(conn: Connection, *, branch: str | None, now: datetime | None = None) -> dict[str, Any]:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    midnight = datetime.combine(now.date(), time(0), tzinfo=UTC)
    today = select(Message.status, func.count()).where(Message.queued_at >= midnight)
    campaigns_query = select(Campaign.id, Campaign.name, Campaign.status, Campaign.next_run_at,
                             Campaign.audience_size).where(Campaign.status.in_(
                                 (st.CAMPAIGN_RUNNING, st.CAMPAIGN_SCHEDULED, st.CAMPAIGN_PAUSED,
                                  st.CAMPAIGN_AWAITING_APPROVAL)), Campaign.kind.not_in((TEST_KIND, REPLY_KIND))
                             ).order_by(Campaign.next_run_at, Campaign.id)
    tests_query = select(Campaign.id, Campaign.name, Campaign.status, Campaign.created_by, Campaign.created_at,
                         Campaign.audience_size).where(Campaign.kind == TEST_KIND,
                                                       Campaign.created_at >= now - timedelta(days=1)).order_by(
        Campaign.id.desc()).limit(TEST_SENDS_SHOWN)
    if branch is not None:
        today = today.join(Campaign, Campaign.id == Message.campaign_id).where(Campaign.branch == branch)
        campaigns_query = campaigns_query.where(Campaign.branch == branch)
        tests_query = tests_query.where(Campaign.branch == branch)
    counts = dict(conn.execute(today.group_by(Message.status)).all())
    # unconfirmed ones count against the rate: nobody knows them delivered
    settled = sum(counts.get(s, 0) for s in (st.DELIVERED, st.UNDELIVERED, st.EXPIRED, st.REJECTED, st.FAILED,
                                             st.UNCONFIRMED))
    active = [dict(r._mapping) for r in conn.execute(campaigns_query).all()]
    waiting = held(conn, [c["id"] for c in active if c["status"] in (st.CAMPAIGN_RUNNING, st.CAMPAIGN_PAUSED)])
    for c in active:
        c["held"] = waiting.get(c["id"])
    return {
        "messages_today": sum(counts.values()), "delivered_today": counts.get(st.DELIVERED, 0),
        "delivery_rate": round(counts.get(st.DELIVERED, 0) / settled, 4) if settled else None,
        "running": [c for c in active if c["status"] in (st.CAMPAIGN_RUNNING, st.CAMPAIGN_PAUSED)],
        "scheduled": [c for c in active if c["status"] == st.CAMPAIGN_SCHEDULED],
        "awaiting_approval": [c for c in active if c["status"] == st.CAMPAIGN_AWAITING_APPROVAL],
        "providers": read_status(conn),
        "sent_back": sent_back(conn, branch=branch),
        "test_sends": [dict(r._mapping) for r in conn.execute(tests_query).all()],
    }
