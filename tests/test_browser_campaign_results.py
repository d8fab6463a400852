"""A campaign's results page, filled live from its websocket: A/B arms and the control group side by
side, networks by name, messages over time with axes, units and a legend; and tables with nothing in
them yet say so."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import insert, select, update

from engage.engine.campaigns.launching import launch_run
from engage.engine.events import record
from engage.engine.providers.records import add_smpp
from engage.engine.store.schema import Event, Message
from tests.campaign_setup import add_subscribers, make_campaign
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user

SPLIT = [{"arm": "A", "share": 50}, {"arm": "B", "share": 50}]


@pytest.fixture
def tested(site, quick_hashes):
    """An A/B campaign to 40 subscribers (+99890...) with a quarter held back, sent through one
    provider that priced nothing: arm A's messages delivered but one failed, arm B's all delivered,
    one reply in each arm; its events spread over ten minutes. Returns (base, campaign id, groups)."""
    engine, base = site
    add_subscribers(engine, 40)
    add_user(engine, "mara@example.com", "marketer")
    campaign_id = make_campaign(engine, name="Spring split", variants={"B": "Hello {{ first_name }}"},
                                arms=SPLIT, control_share=0.25)
    launch_run(engine, campaign_id, datetime.now(UTC), actor="t")
    with engine.begin() as conn:
        provider_id = add_smpp(conn, name="alpha", host="127.0.0.1", port=2775, system_id="a", password="p",
                               actor="t")
        groups = {"A": [], "B": [], "control": []}
        for message_id, arm, status in conn.execute(select(Message.id, Message.arm, Message.status).where(
                Message.campaign_id == campaign_id).order_by(Message.id)):
            groups["control" if status == "control" else arm].append(message_id)
        sent = groups["A"] + groups["B"]
        conn.execute(update(Message.__table__).where(Message.id.in_(sent)).values(
            provider_id=provider_id, status="delivered", submitted_at=datetime.now(UTC)))
        conn.execute(update(Message.__table__).where(Message.id == groups["A"][0]).values(status="failed"))
        record(conn, "replied", [{"campaign_id": campaign_id, "message_id": groups[arm][1]} for arm in ("A", "B")])
        start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
        conn.execute(insert(Event.__table__), [
            {"kind": "delivered", "campaign_id": campaign_id, "message_id": m, "at": start + timedelta(seconds=15 * i)}
            for i, m in enumerate(sent)])
    return base, campaign_id, groups


def open_results(page, base, campaign_id):
    sign_in(page, base, "mara@example.com", f"/campaigns/{campaign_id}")
    expect(page.locator("#arms tr[data-arm]")).to_have_count(3)  # the first push has arrived


def cells(page, arm):
    return page.locator(f"#arms tr[data-arm='{arm}'] td")


def test_arms_are_compared_side_by_side_with_counts_delivery_and_replies(page, tested):
    base, campaign_id, groups = tested
    open_results(page, base, campaign_id)
    a, b = len(groups["A"]), len(groups["B"])
    expect(cells(page, "A")).to_have_text(["Arm A", "50 %", str(a), str(a - 1), str(a - 1),
                                           f"{100 * (a - 1) / a:.1f} %", "1", f"{100 / (a - 1):.1f} %"])
    expect(cells(page, "B")).to_have_text(["Arm B", "50 %", str(b), str(b), str(b), "100.0 %", "1",
                                           f"{100 / b:.1f} %"])


def test_the_control_group_shows_who_was_held_back_and_that_they_got_no_message(page, tested):
    base, campaign_id, groups = tested
    open_results(page, base, campaign_id)
    expect(cells(page, "control")).to_have_text(["Control group", "25 %", str(len(groups["control"])),
                                                 "held back: sent no message"])
    screenshot(page, "campaign-results-arms")


def test_networks_are_named_not_numbered(page, tested):
    base, campaign_id, groups = tested
    open_results(page, base, campaign_id)
    expect(page.locator("#networks tbody tr td").first).to_have_text("Beeline (UZ)")
    expect(page.locator("#rate-networks g[data-name='Beeline (UZ)']")).to_have_count(1)


def test_messages_over_time_have_a_time_axis_a_count_axis_with_its_unit_and_a_legend(page, tested):
    base, campaign_id, groups = tested
    open_results(page, base, campaign_id)
    timeline = page.locator("#timeline")
    expect(timeline.locator("polyline[data-kind=delivered]")).to_have_count(1)
    expect(timeline.locator(".axis.y text.title")).to_have_text(re.compile(r"^messages per \d+ s$"))
    expect(timeline.locator(".axis.y text[data-value='0']")).to_have_text("0")
    expect(timeline.locator(".axis.x text[data-at]").first).to_have_attribute("data-at", "2026-12-01T09:00:00.000Z")
    expect(timeline.locator(".axis.x text.title")).to_contain_text("time (")
    sent = len(groups["A"]) + len(groups["B"])
    expect(page.locator("#timeline-legend li[data-kind=delivered]")).to_have_text(f"delivered {sent}")


def test_rates_are_charted_in_percent_and_costs_in_their_currency(page, tested):
    base, campaign_id, _ = tested
    open_results(page, base, campaign_id)
    expect(page.locator("#rate-providers text.scale")).to_have_text(["0 %", "100 %"])
    expect(page.locator("figure", has=page.locator("#cost-providers")).locator("figcaption")).to_contain_text(
        "currency")


@pytest.fixture
def plain(site, quick_hashes):
    """A campaign without arms or control group, launched: its messages wait, none routed yet."""
    engine, base = site
    add_subscribers(engine, 3)
    add_user(engine, "mara@example.com", "marketer")
    campaign_id = make_campaign(engine, name="Plain")
    launch_run(engine, campaign_id, datetime.now(UTC), actor="t")
    return base, campaign_id


def test_a_campaign_without_arms_says_so_and_offers_a_split_next_time(page, plain):
    base, campaign_id = plain
    sign_in(page, base, "mara@example.com", f"/campaigns/{campaign_id}")
    expect(page.locator("#no-arms")).to_contain_text("no A/B arms and no control group")
    expect(page.locator("#no-arms a")).to_have_attribute("href", "/campaigns/new")


def test_tables_with_nothing_sent_yet_say_so(page, plain):
    base, campaign_id = plain
    sign_in(page, base, "mara@example.com", f"/campaigns/{campaign_id}")
    for table in ("providers", "networks"):
        expect(page.locator(f"#{table} tbody tr.empty")).to_contain_text("Nothing sent yet")
    expect(page.locator("#timeline text.empty")).to_contain_text("Nothing sent yet")
    screenshot(page, "campaign-results-nothing-sent")


def test_the_comparison_fits_a_tablet_without_the_page_scrolling_sideways(page, tested):
    base, campaign_id, _ = tested
    page.set_viewport_size({"width": 768, "height": 1024})
    open_results(page, base, campaign_id)
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") == 0
    screenshot(page, "campaign-results-arms-768")
