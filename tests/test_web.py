"""The web process serves campaigns and their counts, as pages and as JSON, over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, update

from engage.engine import campaigns
from engage.engine import statuses as st
from engage.engine.segments import store as segments
from engage.engine.store.schema import Campaign, Message
from engage.engine.templates import store as templates
from tests.fixtures.web import signed_in


def _campaign(engine, name: str) -> int:
    """A campaign that has sent: a draft's page shows no results, as a draft has sent nothing."""
    with engine.begin() as conn:
        sid = segments.create(conn, f"s-{name}", {"field": "city", "value": "X"}, actor="t")
        tid = templates.create(conn, f"t-{name}", {"en": "hi"}, default_language="en", actor="t")
        cid = campaigns.create(conn, name=name, segment_id=sid, template_id=tid, sender_id="Engage", actor="t")
        conn.execute(insert(Message.__table__), [
            {"campaign_id": cid, "subscriber_id": i, "msisdn": f"+99890100000{i}", "status": status,
             "price": "0.020000", "currency": "USD",
             "submitted_at": None if status == "failed" else datetime(2026, 11, 22, tzinfo=UTC)}
            for i, status in enumerate(["delivered", "delivered", "failed", "submitted"])])
        conn.execute(update(Campaign).where(Campaign.id == cid).values(status=st.CAMPAIGN_RUNNING))
    return cid


def test_campaign_page_shows_counts_by_status_with_names_escaped(site):
    engine, base = site
    cid = _campaign(engine, "<script>alert(1)</script>")
    html = signed_in(engine, base, "analyst").get(f"/campaigns/{cid}").body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)</script>" not in html
    assert 'data-status="delivered">2<' in html


def test_campaigns_api_gives_counts_as_json(site):
    engine, base = site
    cid = _campaign(engine, "Spring")
    data = signed_in(engine, base, "analyst").get(f"/api/v1/campaigns/{cid}").json()
    assert data["name"] == "Spring"
    assert (data["counts"]["delivered"], data["counts"]["failed"], data["counts"]["submitted"]) == (2, 1, 1)


def test_campaign_page_and_api_show_what_the_accepted_messages_cost(site):
    engine, base = site
    cid = _campaign(engine, "Priced")
    browser = signed_in(engine, base, "marketer")
    html = browser.get(f"/campaigns/{cid}").body
    data = browser.get(f"/api/v1/campaigns/{cid}").json()
    assert data["cost"] == {"USD": "0.060000"}
    assert '<span id="cost">0.060000 USD</span>' in html


def test_an_unknown_campaign_is_a_404(site):
    engine, base = site
    browser = signed_in(engine, base, "support")
    assert browser.get("/api/v1/campaigns/999").status == 404
    assert browser.get("/campaigns/999").status == 404
