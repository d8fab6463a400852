"""The analysts' pages over real HTTP: a campaign's effectiveness report with its uplift, its tables as
CSV, how it is judged changed and recomputed, campaigns compared; only analysts and admins read
them, a branch's users only their branch's campaigns."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import insert, select, update

from engage.engine import statuses as st
from engage.engine.analytics import consumers
from engage.engine.analytics.effectiveness import refresh as er
from engage.engine.events import record_batches
from engage.engine.providers.records import add_smpp
from engage.engine.segments import store as segments_store
from engage.engine.store.schema import AuditEntry, Campaign, Message, RoutePrice
from tests.effectiveness_data import LATER, Story
from tests.fixtures.web import signed_in


def planted(engine, name: str = "Spring bonus", *, treated: int = 900, control: int = 100, kind: str | None = None):
    """3000 sent (30 % recharge) against 1000 held back (10 %): a real effect."""
    story = Story(engine, name=name)
    story.many(3000, converted=treated)
    story.many(1000, converted=control, status="control")
    if kind:
        with engine.begin() as conn:
            conn.execute(update(Campaign).where(Campaign.id == story.campaign_id).values(
                analytics={"conversion": {"kind": kind, "days": 7}}))
    er.refresh(engine, story.campaign_id, now=LATER)
    return story.campaign_id


def csv_rows(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))


def test_an_analyst_reads_the_uplift_against_the_control_group_in_words(site):
    engine, base = site
    cid = planted(engine)
    page = signed_in(engine, base, "analyst").get(f"/campaigns/{cid}/effectiveness")
    assert page.status == 200
    assert re.search(r'id="treated-rate">30.0 %<', page.body) and re.search(r'id="control-rate">10.0 %<', page.body)
    assert 'class="verdict yes"' in page.body and "sending raised it by 20.0 points" in page.body


def test_a_planted_null_is_said_to_cover_zero(site):
    engine, base = site
    cid = planted(engine, treated=300, control=100)
    page = signed_in(engine, base, "admin").get(f"/campaigns/{cid}/effectiveness").body
    assert 'class="verdict no"' in page and "no measurable effect yet: the interval" in page


def test_marketers_and_support_are_refused_the_report_and_its_tables(site):
    engine, base = site
    cid = planted(engine)
    for role in ("marketer", "support", "approver"):
        browser = signed_in(engine, base, role)
        assert browser.get(f"/campaigns/{cid}/effectiveness").status == 403
        assert browser.get(f"/campaigns/{cid}/effectiveness/groups.csv").status == 403
        assert browser.get("/analytics").status == 403


def test_an_analyst_of_another_branch_finds_no_such_report(site):
    engine, base = site
    cid = planted(engine)
    with engine.begin() as conn:
        conn.execute(update(Campaign).where(Campaign.id == cid).values(branch="north"))
    south = signed_in(engine, base, "analyst", branch="south")
    assert south.get(f"/campaigns/{cid}/effectiveness").status == 404
    assert f'value="{cid}"' not in south.get("/analytics").body
    assert f'data-campaign="{cid}"' not in south.get(f"/analytics/compare?id={cid}").body
    assert signed_in(engine, base, "analyst", branch="north").get(f"/campaigns/{cid}/effectiveness").status == 200


def test_every_table_of_the_report_downloads_as_csv(site):
    engine, base = site
    cid = planted(engine)
    browser = signed_in(engine, base, "analyst")
    page = browser.get(f"/campaigns/{cid}/effectiveness").body
    names = re.findall(rf'href="/campaigns/{cid}/effectiveness/([a-z_]+)\.csv"', page)
    assert set(names) >= {"summary", "funnel", "arms", "groups", "curve"}
    for name in names:
        reply = browser.get(f"/campaigns/{cid}/effectiveness/{name}.csv")
        assert reply.status == 200 and reply.headers["Content-Type"].startswith("text/csv")
    summary = csv_rows(browser.get(f"/campaigns/{cid}/effectiveness/summary.csv").body)[0]
    assert (summary["treated_recipients"], summary["control_recipients"]) == ("3000", "1000")
    assert summary["conversion_uplift_significant"] == "true"
    assert browser.get(f"/campaigns/{cid}/effectiveness/nothing.csv").status == 404


def test_a_name_a_spreadsheet_would_run_as_a_formula_is_written_as_text(site):
    engine, base = site
    cid = planted(engine, name="=HYPERLINK(\"http://evil\")")
    rows = csv_rows(signed_in(engine, base, "analyst").get(f"/campaigns/{cid}/effectiveness/summary.csv").body)
    assert rows[0]["name"] == "'=HYPERLINK(\"http://evil\")"


def test_a_campaign_name_is_escaped_on_the_report(site):
    engine, base = site
    cid = planted(engine, name="<script>alert(1)</script>")
    page = signed_in(engine, base, "analyst").get(f"/campaigns/{cid}/effectiveness").body
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_conversion_kind_nobody_has_is_refused_beside_its_field_and_what_was_typed_is_kept(site):
    engine, base = site
    cid = planted(engine)
    browser = signed_in(engine, base, "analyst")
    reply = browser.post_form(f"/campaigns/{cid}/effectiveness", {
        "conversion_kind": "teleport", "conversion_days": "5", "response_hours": "48", "groups": "region",
        "do": "save"})
    assert reply.status == 400
    assert "conversion.kind: no usage event has the kind &#x27;teleport&#x27;" in reply.body
    assert 'value="teleport"' in reply.body and 'aria-invalid="true"' in reply.body
    with engine.connect() as conn:
        assert conn.execute(select(Campaign.analytics).where(Campaign.id == cid)).scalar() is None


def test_saved_settings_are_audited_and_the_figures_recomputed_under_them(site):
    engine, base = site
    cid = planted(engine)
    browser = signed_in(engine, base, "analyst")
    reply = browser.post_form(f"/campaigns/{cid}/effectiveness", {
        "conversion_kind": "data", "conversion_days": "3", "response_hours": "24", "groups": ["region", "age_band"],
        "do": "save"})
    assert reply.status == 303 and reply.headers["Location"].endswith("?done=saved")
    with engine.connect() as conn:
        stored = conn.execute(select(Campaign.analytics).where(Campaign.id == cid)).scalar()
        audited = conn.execute(select(AuditEntry.action).where(AuditEntry.object_id == str(cid))).scalars().all()
    assert stored["conversion"] == {"kind": "data", "days": 3} and stored["response_hours"] == 24
    assert "campaign.analytics" in audited
    page = browser.get(f"/campaigns/{cid}/effectiveness").body
    assert "<strong>data</strong> within 3 days" in page  # nobody used data: no conversions now
    assert re.search(r'id="treated-rate">0.0 %<', page)
    assert 'id="group-age_band"' in page and 'id="group-contract_type"' not in page


def test_campaigns_judged_on_different_conversions_are_compared_with_a_warning(site):
    engine, base = site
    first, second = planted(engine, "Recharge push"), planted(engine, "Data push", kind="data")
    browser = signed_in(engine, base, "analyst")
    page = browser.get(f"/analytics/compare?id={first}&id={second}").body
    assert f'data-campaign="{first}"' in page and f'data-campaign="{second}"' in page
    assert 'id="not-comparable"' in page
    rows = csv_rows(browser.get(f"/analytics/compare.csv?id={first}&id={second}").body)
    assert [r["name"] for r in rows] == ["Recharge push", "Data push"]
    assert browser.get("/analytics/compare?id=x1").status == 400


def test_the_analytics_page_lists_only_campaigns_that_have_sent(site):
    engine, base = site
    sent = planted(engine, "Sent one")
    page = signed_in(engine, base, "analyst").get("/analytics").body
    assert f'href="/campaigns/{sent}/effectiveness"' in page
    assert page.count('name="id"') == 1


def test_the_campaign_page_links_analysts_to_the_report_and_not_marketers(site):
    engine, base = site
    cid = planted(engine)
    link = f'href="/campaigns/{cid}/effectiveness"'
    assert link in signed_in(engine, base, "analyst").get(f"/campaigns/{cid}").body
    assert link not in signed_in(engine, base, "marketer").get(f"/campaigns/{cid}").body


def test_the_report_shows_delivery_by_provider_and_network_as_the_events_worker_folded_it(site):
    engine, base = site
    cid = planted(engine)
    with engine.begin() as conn:
        provider = add_smpp(conn, name="Tashkent SMSC", host="127.0.0.1", port=2775, system_id="e", password="p",
                            actor="test")
        conn.execute(update(Message).where(Message.campaign_id == cid, Message.status == "delivered").values(
            provider_id=provider, network="434-04"))
        ids = conn.execute(select(Message.id).where(Message.campaign_id == cid, Message.status == "delivered")
                           ).scalars().all()
        record_batches(conn, st.SUBMITTED, cid, ids)
        record_batches(conn, st.DELIVERED, cid, ids[:2400])
    consumers.run_once(engine, only=["delivery_stats"])
    browser = signed_in(engine, base, "analyst")
    page = browser.get(f"/campaigns/{cid}/effectiveness").body
    row = re.search(r'<table id="delivery-providers">.*?</table>', page, re.S).group(0)
    assert "Tashkent SMSC" in row and ">3000<" in row and ">2400<" in row and "80.0 %" in row
    assert "MCC-MNC 434-04" in re.search(r'<table id="delivery-networks">.*?</table>', page, re.S).group(0)
    rows = csv_rows(browser.get(f"/campaigns/{cid}/effectiveness/delivery_providers.csv").body)
    assert [(r["name"], r["submitted"], r["delivered"]) for r in rows] == [("Tashkent SMSC", "3000", "2400")]


def test_two_prefixes_of_one_network_are_one_row_of_delivery(site):
    engine, base = site
    cid = planted(engine)
    with engine.begin() as conn:
        provider = add_smpp(conn, name="SMSC", host="127.0.0.1", port=2775, system_id="e", password="p", actor="t")
        conn.execute(insert(RoutePrice), [{"provider_id": provider, "prefix": prefix, "mcc_mnc": "",
                                           "network": "Beeline", "price": Decimal("0.01"), "currency": "USD",
                                           "valid_from": LATER - timedelta(days=90)}
                                          for prefix in ("99890", "99891")])
        ids = conn.execute(select(Message.id).where(Message.campaign_id == cid, Message.status == "delivered")
                           .order_by(Message.id)).scalars().all()
        for half, prefix in ((ids[:1000], "99890"), (ids[1000:], "99891")):
            conn.execute(update(Message).where(Message.id.in_(half)).values(provider_id=provider, network=prefix))
        record_batches(conn, st.SUBMITTED, cid, ids)
        record_batches(conn, st.DELIVERED, cid, ids)
    consumers.run_once(engine, only=["delivery_stats"])
    analyst = signed_in(engine, base, "analyst")
    rows = csv_rows(analyst.get(f"/campaigns/{cid}/effectiveness/delivery_networks.csv").body)
    assert [(r["name"], r["submitted"], r["delivered"]) for r in rows] == [("Beeline", "3000", "3000")]


def test_an_analyst_breaks_the_results_down_by_a_saved_segment(site):
    engine, base = site
    cid = planted(engine)
    with engine.begin() as conn:
        everyone = segments_store.create(conn, "Everyone with a number", {"field": "msisdn", "op": "starts_with",
                                                                          "value": "+998"}, actor="t")
    browser = signed_in(engine, base, "analyst")
    assert f'name="segments" value="{everyone}"' in browser.get(f"/campaigns/{cid}/effectiveness").body
    reply = browser.post_form(f"/campaigns/{cid}/effectiveness", {
        "conversion_kind": "recharge", "conversion_days": "7", "response_hours": "72", "groups": "region",
        "segments": [str(everyone)], "do": "save"})
    assert reply.status == 303
    page = browser.get(f"/campaigns/{cid}/effectiveness").body
    assert "By segment “Everyone with a number”" in page
    assert f'name="segments" value="{everyone}" checked' in page
    table = re.search(rf'<table class="groups" data-dimension="segment:{everyone}">.*?</table>', page, re.S).group(0)
    assert "In the segment" in table and ">3000<" in table
