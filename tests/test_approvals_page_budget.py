"""The approvals page estimates every waiting campaign, one after another: together within one time
budget for the page, so that many heavy audiences do not make it run without end. A campaign the
budget did not reach is listed with the reason, and can still be decided."""

from __future__ import annotations

import html
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import update

from engage.engine import campaigns
from engage.engine.segments import store as segments
from engage.engine.store.schema import Campaign
from engage.engine.templates import store as templates
from engage.web import campaign_pages
from tests.fixtures.web import serving, signed_in
from tests.test_segment_limits import SLOW, many_people


@pytest.fixture
def waiting(engine, monkeypatch):
    """Two campaigns waiting for approval, each on a segment testing 50,000 numbers against 4,000
    prefixes; a page budget of 1 s."""
    many_people(engine)
    with engine.begin() as conn:
        segment_id = segments.create(conn, "slow", {"or": [SLOW] * 8}, actor="m")
        template_id = templates.create(conn, "t", {"en": "Hi"}, default_language="en", actor="m")
        ids = [campaigns.create(conn, name=name, segment_id=segment_id, template_id=template_id,
                                sender_id="Shop", actor="m") for name in ("first", "second")]
        for n, campaign_id in enumerate(ids):
            conn.execute(update(Campaign.__table__).where(Campaign.id == campaign_id).values(
                status="awaiting_approval", submitted_by="maker@example.com",
                submitted_at=datetime(2026, 1, n + 1, tzinfo=UTC)))
    monkeypatch.setattr(campaign_pages, "APPROVALS_SECONDS", 1.0)
    with serving(engine) as base:
        yield engine, base, ids


def test_the_approvals_page_estimates_within_its_budget_and_says_which_it_did_not_reach(waiting):
    engine, base, (first, second) = waiting
    approver = signed_in(engine, base, "approver")
    started = time.perf_counter()
    page = approver.get("/approvals")
    assert time.perf_counter() - started < 5
    assert page.status == 200
    rows = html.unescape(page.body).split('<article class="approval" data-campaign="')[1:]
    assert rows[0].startswith(f'{first}"') and "the count took longer than 1 s" in rows[0]
    assert rows[1].startswith(f'{second}"') and "estimate not computed: the page's 1 s for estimates ran out" in rows[1]
    assert f'action="/campaigns/{second}/approve"' in rows[1]
