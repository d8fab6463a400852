"""A marketer's first campaign, played in the browser at desktop and at tablet width on a fresh
installation, through real workers and the SMPP simulator: the dashboard says what to do first; a
segment, then a template with an arm B; the wizard's steps, with a schedule a minute or two ahead,
quiet hours, an A/B split and a control group, ending on the review; the draft's page; an approver
reading the same review and approving; the campaign delivered and its results comparing the arms and
the control group. What the marketer is shown is checked at each step, every page passes axe-core
(no serious or critical violation), and each step leaves a screenshot in test-artifacts/."""

from __future__ import annotations

import math
import threading
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from engage.engine.providers.records import add_smpp
from engage.engine.store.schema import Campaign
from engage.workers import runner
from tests.campaign_setup import add_subscribers
from tests.fixtures.axe import axe_violations, described
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user

ZONE = "Asia/Tashkent"  # the installation's in tests, and the marketer's
WIDTHS = {"desktop": {"width": 1366, "height": 900}, "tablet": {"width": 768, "height": 1024}}


@pytest.fixture
def at_width(width, chromium):
    context = chromium.new_context(viewport=WIDTHS[width])
    page = context.new_page()
    page.set_default_timeout(20_000)
    yield width, page
    context.close()


def accessible(page, where: str) -> None:
    violations = axe_violations(page)
    assert not violations, described(violations, where)


def step(page, width: str, name: str) -> None:
    accessible(page, name)
    screenshot(page, f"first-campaign-{width}-{name}")


def send_time() -> datetime:
    """The next whole minute at least 50 s ahead: time for the steps from the wizard to the approval
    (about 15 s), a wait of under two minutes after."""
    soon = datetime.now(UTC) + timedelta(seconds=50)
    return datetime.fromtimestamp(math.ceil(soon.timestamp() / 60) * 60, UTC)


# each width once, each database once: the journey waits for its scheduled minute, so four runs would be
# eight minutes of the suite for what two show
@pytest.mark.parametrize(("database_url", "width"), [("postgresql", "desktop"), ("sqlite", "tablet")],
                         indirect=["database_url"])
def test_a_first_time_marketer_gets_a_scheduled_ab_campaign_with_a_control_group_delivered(
        site, quick_hashes, smsc_factory, at_width):
    width, page = at_width
    engine, base = site
    sim = smsc_factory(receipt_delay=0.01)
    add_subscribers(engine, 40)
    add_user(engine, "mara@example.com", "marketer")
    add_user(engine, "abe@example.com", "approver")
    with engine.begin() as conn:
        add_smpp(conn, name="sim", host="127.0.0.1", port=sim.port, system_id="engage", password="secret", actor="t")
    stop = threading.Event()
    workers = runner.start(["receipts", "send", "dispatch", "scheduler"], engine,
                           f"memory://first-{uuid.uuid4().hex[:8]}", stop)
    try:
        sign_in(page, base, "mara@example.com", "/dashboard")
        expect(page.locator("main")).to_contain_text("New campaign")
        step(page, width, "1-dashboard")

        page.goto(f"{base}/segments/new")
        expect(page.locator("#count")).to_have_attribute("data-reachable", "40")
        page.fill("#segment-name", "Everyone")
        page.click("#save")
        page.locator("#saved").filter(has_text="40 reachable").wait_for()
        step(page, width, "2-segment")

        page.goto(f"{base}/templates/new")
        page.fill("input[name=name]", "Spring offer")
        page.locator("fieldset.variant textarea").first.fill("Hi {{ first_name }}, spring prices are here!")
        page.click("#add-variant")
        second = page.locator("fieldset.variant").nth(1)
        second.locator(".lang").fill("en")
        second.locator(".arm").fill("B")
        second.locator("textarea").fill("{{ first_name }}, 20% off this week only.")
        page.click("#save")
        page.locator("#done").wait_for()
        step(page, width, "3-template")

        page.goto(f"{base}/campaigns/new")
        expect(page.locator("#steps li[aria-current=step]")).to_have_text("1 · Audience")
        page.click("#next")  # nothing filled in: every mistake of the step at once
        expect(page.locator("#error-name")).to_be_visible()
        expect(page.locator("#error-segment")).to_be_visible()
        step(page, width, "4-wizard-mistakes")
        page.fill("input[name=name]", "Spring offer")
        page.locator("select[name=segment]").select_option(label="Everyone")
        page.fill("input[name=control_percent]", "20")
        page.click("#next")
        page.locator("select[name=template]").select_option(label="Spring offer (en; A/B arms A, B)")
        page.fill("input[name=sender]", "Shop")
        page.fill("input[name=arm_b_percent]", "50")
        step(page, width, "5-wizard-message")
        page.click("#next")
        at = send_time()
        local = at.astimezone(ZoneInfo(ZONE))
        expect(page.locator("input[name=timezone]")).to_have_value(ZONE)
        page.locator("#schedule").select_option("at")
        page.fill("input[name=at]", local.strftime("%Y-%m-%dT%H:%M"))
        quiet = f"{(local + timedelta(hours=3)):%H:%M}-{(local + timedelta(hours=5)):%H:%M}"
        page.fill("input[name=quiet_hours]", quiet)
        step(page, width, "6-wizard-schedule")
        page.click("#next")
        review = page.locator("#review")
        expect(review.locator(".review-when")).to_have_text(f"Once at {local:%Y-%m-%d %H:%M} {ZONE}")
        expect(review.locator(".review-arms")).to_have_text("arm A 50 %, arm B 50 % of those who get a message")
        expect(review.locator(".review-audience")).to_contain_text("held back as the control group (20 %)")
        expect(review.locator(".preview[data-arm=B] blockquote")).to_have_text("Alexander, 20% off this week only.")
        expect(review.locator(".preview[data-arm=A] .parts")).to_contain_text("GSM-7 · 1 part")
        expect(review.locator(".review-rules")).to_contain_text(f"Quiet hours {quiet}")
        expect(review.locator(".warning")).to_have_count(0)
        step(page, width, "7-wizard-review")
        page.click("#create")

        expect(page.locator("#done")).to_have_text("Campaign created as a draft.")
        expect(page.locator(".review .preview")).to_have_count(2)
        step(page, width, "8-draft")
        page.click("button[value=submit]")
        expect(page.locator("#status")).to_have_attribute("data-status", "awaiting_approval")
        page.click("text=Sign out")

        sign_in(page, base, "abe@example.com", "/approvals")
        waiting = page.locator("article.approval")
        expect(waiting.locator(".review-when")).to_have_text(f"Once at {local:%Y-%m-%d %H:%M} {ZONE}")
        expect(waiting.locator(".preview blockquote").first).to_have_text("Hi Alexander, spring prices are here!")
        step(page, width, "9-approvals")
        waiting.get_by_role("button", name="Approve").click()
        expect(page.locator("#done")).to_have_text("Campaign approved.")
        expect(page.locator("#next-run")).to_contain_text(f"{local:%Y-%m-%d %H:%M} {ZONE}")
        step(page, width, "10-scheduled")

        expect(page.locator("#status")).to_have_attribute("data-status", "completed",
                                                          timeout=240_000)  # pushed by the websocket
        arms = page.locator("#arms tbody")
        expect(arms.locator("tr")).to_have_count(3)
        expect(arms).to_contain_text("Control group")
        step(page, width, "11-results")
    finally:
        stop.set()
        for thread in workers:
            thread.join(timeout=30)
    with engine.connect() as conn:
        set_aside = conn.execute(select(Campaign.set_aside).where(Campaign.name == "Spring offer")).scalar_one()
    held_out = set_aside["control"]
    assert 0 < held_out < 40 and len(sim.received) == 40 - held_out  # the control group got nothing
