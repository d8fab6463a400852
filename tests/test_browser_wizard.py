"""The campaign wizard in the browser, in steps (audience, message, schedule and delivery rules,
review): every mistake of a step at once beside its field, a schedule with no time left refused in
a sentence, what is typed kept over a reload, Back then Create leading to the one campaign, the A/B
share offered only for a template with an arm B, and a review of what will go out before creating."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from engage.engine.segments import store as segments
from engage.engine.store.schema import Campaign
from engage.engine.templates import store as templates
from tests.campaign_setup import add_subscribers, make_campaign
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user

ZONE = "Asia/Tashkent"  # the installation's default in tests


@pytest.fixture
def wizard(site, quick_hashes, page):
    engine, base = site
    add_subscribers(engine, 3)
    campaign_id = make_campaign(engine, actor="mara@example.com")  # also a segment and a template
    with engine.begin() as conn:
        templates.create(conn, "Split", {"en": "Hello A", "ru": "Привет A"}, default_language="en", actor="t",
                         arms={"B": {"en": "Hello B", "ru": "Привет B"}})
        segments.create(conn, "Everyone", {"kind": "all"}, actor="t")
    add_user(engine, "mara@example.com", "marketer")
    sign_in(page, base, "mara@example.com", "/campaigns/new")
    return engine, base, page, campaign_id


def campaigns(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Campaign).where(Campaign.kind != "test")).scalar()


def fill_audience(page, name="Spring") -> None:
    page.fill("input[name=name]", name)
    page.locator("select[name=segment]").select_option(label="Everyone")
    page.click("#next")


def fill_message(page, template="Split", sender="Shop") -> None:
    page.locator("select[name=template]").select_option(label=f"{template} (en, ru; A/B arms A, B)"
                                                        if template == "Split" else template)
    page.fill("input[name=sender]", sender)


def later(minutes: int) -> str:
    """A wall time in the zone of the form (the user's: the installation's here), as datetime-local takes it."""
    return (datetime.now(UTC) + timedelta(minutes=minutes)).astimezone(ZoneInfo(ZONE)).strftime("%Y-%m-%dT%H:%M")


def test_the_wizard_shows_one_step_at_a_time_and_marks_where_you_are(wizard):
    _, _, page, _ = wizard
    expect(page.locator("fieldset[data-step='1']")).to_be_visible()
    expect(page.locator("fieldset[data-step='2']")).to_be_hidden()
    expect(page.locator("#steps li[aria-current=step]")).to_have_text("1 · Audience")
    expect(page.locator("#create")).to_be_hidden()


def test_every_mistake_of_a_step_is_shown_at_once_beside_its_field(wizard):
    _, _, page, _ = wizard
    fill_audience(page)
    page.fill("input[name=sender]", "MyVeryLongBrand")
    page.fill("input[name=max_parts]", "40")
    page.click("#next")
    page.click("#next")  # step 2 is checked on leaving it: the template is missing too
    expect(page.locator("#error-sender")).to_have_text(
        "sender id 'MyVeryLongBrand': alphanumeric sender ids have at most 11 characters")
    expect(page.locator("#error-template")).to_contain_text("choose the template")
    expect(page.locator("#error-max_parts")).to_contain_text("from 1 to 10")
    expect(page.locator("#error")).to_contain_text("3 things to fix")
    expect(page.locator("fieldset[data-step='2']")).to_be_visible()
    expect(page.locator("input[name=sender]")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("input[name=sender]")).to_have_value("MyVeryLongBrand")


def test_a_send_time_in_the_past_is_refused_in_a_sentence_at_the_schedule_step(wizard):
    engine, _, page, _ = wizard
    fill_audience(page)
    fill_message(page)
    page.click("#next")
    page.locator("#schedule").select_option("at")
    page.fill("input[name=at]", later(-5))
    page.click("#next")
    expect(page.locator("#error-at")).to_contain_text("is in the past (it is now")
    expect(page.locator("#error-at")).to_contain_text(ZONE)
    expect(page.locator("fieldset[data-step='3']")).to_be_visible()
    assert campaigns(engine) == 1  # the fixture's


def test_the_review_shows_each_message_per_language_and_arm_with_its_parts_when_and_cost(wizard):
    _, _, page, _ = wizard
    fill_audience(page)
    fill_message(page)
    page.fill("input[name=arm_b_percent]", "30")
    page.click("#next")
    page.locator("#schedule").select_option("at")
    page.fill("input[name=at]", later(120))
    page.fill("input[name=quiet_hours]", "")
    page.click("#next")
    review = page.locator("#review")
    expect(review.locator(".preview")).to_have_count(4)
    expect(review.locator(".preview[data-arm=B][data-language=ru] blockquote")).to_have_text("Привет B")
    expect(review.locator(".preview[data-arm=B][data-language=ru] .parts")).to_contain_text("UCS-2")
    expect(review.locator(".preview[data-arm=A][data-language=en] .parts")).to_contain_text("GSM-7 · 1 part")
    expect(review.locator(".review-when")).to_contain_text(f"Once at {later(120).replace('T', ' ')} {ZONE}")
    expect(review.locator(".review-arms")).to_have_text("arm A 70 %, arm B 30 % of those who get a message")
    expect(review.locator(".review-audience")).to_contain_text("3 will get a message")
    expect(review.locator(".review-cost")).to_be_visible()
    expect(page.locator("#create")).to_be_visible()
    screenshot(page, "wizard-review")


def test_a_send_time_inside_quiet_hours_is_warned_of_with_when_it_goes(wizard):
    _, _, page, _ = wizard
    fill_audience(page)
    fill_message(page)
    page.click("#next")
    page.locator("#schedule").select_option("daily")
    page.fill("input[name=time]", "23:30")
    page.fill("input[name=quiet_hours]", "21:00-09:00")
    page.click("#next")
    expect(page.locator("#review .warning")).to_contain_text(
        "is inside quiet hours 21:00-09:00: messages are held until")


def test_a_reload_keeps_every_field_and_the_step(wizard):
    _, _, page, _ = wizard
    fill_audience(page, name="Kept")
    fill_message(page)
    page.reload()
    expect(page.locator("fieldset[data-step='2']")).to_be_visible()
    expect(page.locator("input[name=sender]")).to_have_value("Shop")
    page.click("#back")
    expect(page.locator("input[name=name]")).to_have_value("Kept")


def test_back_then_create_again_leads_to_the_one_campaign(wizard):
    engine, base, page, _ = wizard
    fill_audience(page, name="Once")
    fill_message(page)
    page.click("#next")
    page.click("#next")
    page.click("#create")
    expect(page.locator("#done")).to_have_text("Campaign created as a draft.")
    made = page.url.split("?")[0]
    page.go_back()
    expect(page.locator("#create")).to_be_visible()
    page.click("#create")
    expect(page.locator("#done")).to_contain_text("was already created from this form")
    assert page.url.split("?")[0] == made
    assert campaigns(engine) == 2  # the fixture's and this one


def test_a_fresh_visit_starts_an_empty_form(wizard):
    _, base, page, _ = wizard
    fill_audience(page, name="Left")
    page.goto(f"{base}/campaigns")
    page.goto(f"{base}/campaigns/new")
    expect(page.locator("input[name=name]")).to_have_value("")


def test_the_ab_share_is_offered_only_for_a_template_with_an_arm_b(wizard):
    _, _, page, _ = wizard
    fill_audience(page)
    page.locator("select[name=template]").select_option(label="t offer (en)")
    expect(page.locator("input[name=arm_b_percent]")).to_be_hidden()
    fill_message(page)
    expect(page.locator("input[name=arm_b_percent]")).to_be_visible()


def test_the_draft_page_shows_its_review_instead_of_empty_figures(wizard):
    _, base, page, campaign_id = wizard
    page.goto(f"{base}/campaigns/{campaign_id}")
    expect(page.locator(".review .preview blockquote")).to_have_text("Hi Alexander")
    expect(page.locator(".review-audience")).to_contain_text("s offer")
    expect(page.locator("#counts")).to_have_count(0)


def test_a_test_send_from_the_campaign_page_makes_a_test_campaign(wizard):
    _, base, page, campaign_id = wizard
    page.goto(f"{base}/campaigns/{campaign_id}")
    page.fill("#test-send input[name=numbers]", "+998901234567, 998 97 111 22 33")
    page.click("#test-send button")
    expect(page.locator("#done")).to_contain_text("test sent to 2 numbers as campaign")
