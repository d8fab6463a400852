"""The marketing journey in the browser, end to end through real workers and the SMPP simulator:
a marketer builds a segment and sees the count change, writes a template and sees the parts counter
react to a Cyrillic letter, creates the campaign in the wizard and submits it; an approver approves
it; the scheduler launches it, it is sent, and its page, live over a websocket, shows the progress bar
at 100 % and the charts filled."""

from __future__ import annotations

import re
import threading
import uuid

from playwright.sync_api import expect

from engage.engine.providers.records import add_smpp
from engage.workers import runner
from tests.audience_people import add_people
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user


def test_a_marketer_and_an_approver_take_a_campaign_from_segment_to_delivered(site, quick_hashes, page,
                                                                            smsc_factory):
    engine, base = site
    sim = smsc_factory(receipt_delay=0.01)
    add_people(engine)
    add_user(engine, "mara@example.com", "marketer")
    add_user(engine, "abe@example.com", "approver")
    with engine.begin() as conn:
        add_smpp(conn, name="sim", host="127.0.0.1", port=sim.port, system_id="engage", password="secret",
                 actor="test")
    stop = threading.Event()
    workers = runner.start(["receipts", "send", "dispatch", "scheduler"], engine,
                           f"memory://journey-{uuid.uuid4().hex[:8]}", stop)
    try:
        sign_in(page, base, "mara@example.com", "/segments/new")
        count = page.locator("#count")
        expect(count).to_have_attribute("data-reachable", "5")
        row = page.locator(".criterion").first
        row.locator("[data-param=field]").select_option("city")
        row.locator("[data-param=value]").fill("Tashkent")
        expect(count).to_have_attribute("data-reachable", "4")
        page.fill("#segment-name", "Tashkent")
        page.click("#save")
        page.locator("#saved").filter(has_text="4 reachable").wait_for()

        page.goto(f"{base}/templates/new")
        page.fill("input[name=name]", "Hello")
        box = page.locator("fieldset.variant textarea").first
        box.fill("Hi {{ first_name }}!")
        meter = page.locator("fieldset.variant .meter").first
        expect(meter).to_contain_text("GSM-7")
        box.type(" Й")
        expect(meter).to_contain_text("UCS-2")
        box.fill("Hi {{ first_name }}!")
        expect(meter).to_contain_text("GSM-7")
        page.click("#save")
        page.locator("#done").wait_for()

        page.goto(f"{base}/campaigns/new")
        page.fill("input[name=name]", "Tashkent hello")
        page.locator("select[name=segment]").select_option(label="Tashkent")
        page.click("#next")
        page.locator("select[name=template]").select_option(label="Hello (en)")
        page.fill("input[name=sender]", "Shop")
        page.click("#next")
        page.fill("input[name=quiet_hours]", "")
        page.click("#next")
        expect(page.locator("#review .review-audience")).to_contain_text("4 will get a message")
        page.click("#create")
        expect(page.locator("#status")).to_have_attribute("data-status", "draft")
        campaign_path = page.url.split("?")[0].removeprefix(base)
        page.click("button[value=submit]")
        expect(page.locator("#status")).to_have_attribute("data-status", "awaiting_approval")
        page.click("text=Sign out")

        sign_in(page, base, "abe@example.com", "/approvals")
        page.locator("#approvals").get_by_role("button", name="Approve").click()
        expect(page.locator("#done")).to_have_text("Campaign approved.")
        # approving lands on the campaign's page, which reloads itself once sending starts: no goto races it
        expect(page).to_have_url(re.compile(re.escape(campaign_path) + r"(\?|$)"))
        expect(page.locator("#status")).to_have_attribute("data-status", "completed",
                                                          timeout=60_000)  # pushed by the websocket
        expect(page.locator(".bar span")).to_have_attribute("style", re.compile(r"width: ?100%"))
        expect(page.locator("#timeline polyline[data-kind=delivered]")).to_have_count(1)
        expect(page.locator("#providers tbody tr")).to_contain_text(["sim"])
        expect(page.locator("#counts td[data-status=delivered]")).to_have_text("4")
        expect(page.locator("button[value=pause]")).to_have_count(0)  # a completed campaign has no actions
        screenshot(page, "campaign-completed")
    finally:
        stop.set()
        for thread in workers:
            thread.join(timeout=30)
    assert sorted(r.destination for r in sim.received) == ["998901000001", "998901000002", "998901000004",
                                                           "998901000005"]
