"""A user tied to a branch sees only that branch: another branch's campaign is not listed, its page is
not found, and its live figures are refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from engage.engine import campaigns
from engage.engine.segments import store as segments
from engage.engine.templates import store as templates
from tests.fixtures.browser import sign_in
from tests.fixtures.web import add_user


@pytest.fixture
def branches(site, quick_hashes, page):
    engine, base = site
    with engine.begin() as conn:
        template_id = templates.create(conn, "t", {"en": "Hi"}, default_language="en", actor="t")
        ids = {}
        for branch in ("north", "south"):
            segment_id = segments.create(conn, f"all {branch}", {"kind": "all"}, actor="t", branch=branch)
            ids[branch] = campaigns.create(conn, name=f"{branch} offer", segment_id=segment_id,
                                           template_id=template_id, sender_id="Shop", actor="t", branch=branch)
    add_user(engine, "nora@example.com", "marketer", branch="north")
    sign_in(page, base, "nora@example.com", "/campaigns")
    return base, page, ids


def test_the_campaign_list_shows_only_the_users_branch(branches):
    _, page, _ = branches
    expect(page.locator("body")).to_contain_text("north offer")
    expect(page.locator("body")).not_to_contain_text("south offer")


def test_another_branchs_campaign_page_is_not_found(branches):
    base, page, ids = branches
    assert page.goto(f"{base}/campaigns/{ids['south']}").status == 404


def test_another_branchs_live_figures_are_refused(branches):
    base, page, ids = branches
    page.goto(f"{base}/campaigns/{ids['north']}")
    code = page.evaluate(f"""() => new Promise(done => {{
        const ws = new WebSocket(`ws://${{location.host}}/campaigns/{ids['south']}/live`);
        ws.onmessage = () => done('message'); ws.onclose = e => done(e.code);
    }})""")
    assert code == 4403
