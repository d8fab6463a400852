"""A draft in the browser: a marketer opens it in the wizard with its saved values, sees a bad value
refused beside its field with everything typed kept, fixes it and saves; a draft is deleted once the
browser's confirmation is accepted, and kept when it is dismissed; an unused template is deleted
from its page the same way."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engage.engine.campaigns.launching import launch_run
from engage.engine.store.schema import Campaign, Template
from engage.engine.templates import store as templates
from tests.campaign_setup import add_subscribers, make_campaign
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user

BAD_SENDER = "sender id 'MyVeryLongBrand': alphanumeric sender ids have at most 11 characters"


@pytest.fixture
def draft(site, quick_hashes, page):
    engine, base = site
    add_subscribers(engine, 3)
    campaign_id = make_campaign(engine, name="Spring offer", actor="mara@example.com", max_rate=40)
    add_user(engine, "mara@example.com", "marketer")
    sign_in(page, base, "mara@example.com", f"/campaigns/{campaign_id}")
    return engine, base, page, campaign_id


def stored(engine, campaign_id):
    with engine.connect() as conn:
        return conn.execute(select(Campaign.name, Campaign.sender_id, Campaign.max_rate).where(
            Campaign.id == campaign_id)).first()


def test_the_wizard_opens_a_draft_with_its_saved_values(draft):
    _, base, page, campaign_id = draft
    screenshot(page, "campaign-draft-actions")
    page.click("#edit")
    page.wait_for_url(f"{base}/campaigns/{campaign_id}/edit")
    expect(page.locator("input[name=name]")).to_have_value("Spring offer")
    page.click("#next")
    expect(page.locator("input[name=sender]")).to_have_value("Shop")
    page.click("#next")
    expect(page.locator("input[name=max_rate]")).to_have_value("40")


def test_a_draft_can_be_saved_from_any_step(draft):
    _, base, page, campaign_id = draft
    page.goto(f"{base}/campaigns/{campaign_id}/edit")
    expect(page.locator("#save")).to_be_visible()
    page.fill("input[name=name]", "Renamed")
    page.click("#save")
    expect(page.locator("#done")).to_contain_text("saved (name changed)")


def test_a_bad_sender_id_is_shown_beside_its_field_and_what_was_typed_is_kept(draft):
    _, base, page, campaign_id = draft
    page.goto(f"{base}/campaigns/{campaign_id}/edit")
    page.fill("input[name=name]", "Summer offer")
    page.click("#next")
    page.fill("input[name=sender]", "MyVeryLongBrand")
    page.click("#save")
    expect(page.locator("label:has(input[name=sender]) + .field-error")).to_have_text(BAD_SENDER)
    expect(page.locator("input[name=sender]")).to_be_visible()  # the page opens on the step with the mistake
    expect(page.locator("input[name=sender]")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("input[name=sender]")).to_have_value("MyVeryLongBrand")
    expect(page.locator("input[name=name]")).to_have_value("Summer offer")
    screenshot(page, "campaign-edit-refused")


def test_a_fixed_sender_id_is_saved_with_the_other_changes(draft):
    engine, base, page, campaign_id = draft
    page.goto(f"{base}/campaigns/{campaign_id}/edit")
    page.fill("input[name=name]", "Summer offer")
    page.click("#next")
    page.fill("input[name=sender]", "MyVeryLongBrand")
    page.click("#save")
    page.locator(".field-error:not([hidden])").wait_for()
    page.fill("input[name=sender]", "Bazaar")
    page.click("#save")
    page.wait_for_url(re.compile(rf"/campaigns/{campaign_id}\?done="))
    expect(page.locator("#done")).to_contain_text("saved")
    assert tuple(stored(engine, campaign_id)) == ("Summer offer", "Bazaar", 40)


def test_a_draft_is_deleted_once_the_confirmation_is_accepted(draft):
    engine, base, page, campaign_id = draft
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.click("#delete-draft button")
    page.wait_for_url(f"{base}/campaigns?**")
    expect(page.locator("#done")).to_have_text("draft “Spring offer” deleted")
    assert asked == ["Delete the draft “Spring offer”? This cannot be undone."]
    expect(page.locator(f"tr[data-campaign='{campaign_id}']")).to_have_count(0)
    assert stored(engine, campaign_id) is None


def test_a_draft_is_kept_when_the_confirmation_is_dismissed(draft):
    engine, base, page, campaign_id = draft
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#delete-draft button")
    expect(page.locator("#edit")).to_be_visible()
    assert page.url.startswith(f"{base}/campaigns/{campaign_id}")
    assert stored(engine, campaign_id) is not None


def test_an_unused_template_is_deleted_from_its_page(draft):
    engine, base, page, _ = draft
    with engine.begin() as conn:
        template_id = templates.create(conn, "Spare", {"en": "Hello"}, default_language="en", actor="mara")
    page.goto(f"{base}/templates/{template_id}")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#delete-template button")
    expect(page.locator("#done")).to_have_text("Template “Spare” deleted.")
    with engine.connect() as conn:
        assert conn.execute(select(Template.id).where(Template.id == template_id)).first() is None


@pytest.fixture
def running(site, quick_hashes, page):
    engine, base = site
    add_subscribers(engine, 3)
    campaign_id = make_campaign(engine, name="Flash sale", actor="mara@example.com")
    launch_run(engine, campaign_id, datetime.now(UTC), actor="t")
    add_user(engine, "mara@example.com", "marketer")
    sign_in(page, base, "mara@example.com", f"/campaigns/{campaign_id}")
    return engine, page, campaign_id


def _status(engine, campaign_id):
    with engine.connect() as conn:
        return conn.execute(select(Campaign.status).where(Campaign.id == campaign_id)).scalar_one()


def test_cancelling_a_running_campaign_asks_first_and_a_no_leaves_it_running(running):
    engine, page, campaign_id = running
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("form[data-action=cancel] button")
    expect(page.locator("form[data-action=pause]")).to_be_visible()
    assert asked == ["Cancel “Flash sale”? What is not sent yet will not be sent. This cannot be undone."]
    assert _status(engine, campaign_id) == "running"


def test_cancelling_a_running_campaign_once_confirmed_cancels_it(running):
    engine, page, campaign_id = running
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("form[data-action=cancel] button")
    expect(page.locator("#done")).to_contain_text("cancelled")
    assert _status(engine, campaign_id) == "cancelled"
