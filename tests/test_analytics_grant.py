"""The analytics grant: an admin lets one marketer read the effectiveness reports without making them an
analyst, on the /users page or with `engage user grant`, and withdraws it; the reports, their CSV tables,
the header's link and the campaign page's link follow the grant from the next request on; every change
is audited with the grants before and after; a role that reads them already, or a partner, is given none."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engage.engine.analytics.effectiveness import refresh as er
from engage.engine.store.schema import AuditEntry
from engage.engine.users import UserError, get_user, grants
from engage.engine.users.roles import may_read_analytics
from tests.effectiveness_data import LATER, Story
from tests.fixtures.web import Browser, add_user, signed_in

MARA = "mara@example.com"


def reported(engine) -> int:
    """A campaign sent to 200 (30 recharged) against 100 held back (5 recharged), its figures computed."""
    story = Story(engine, name="Spring bonus")
    story.many(200, converted=30)
    story.many(100, converted=5, status="control")
    er.refresh(engine, story.campaign_id, now=LATER)
    return story.campaign_id


def give(engine, email: str = MARA) -> None:
    with engine.begin() as conn:
        grants.grant(conn, email, "analytics", actor="ada@example.com")


def withdraw(engine, email: str = MARA) -> None:
    with engine.begin() as conn:
        grants.revoke(conn, email, "analytics", actor="ada@example.com")


def marketer(engine, base: str) -> Browser:
    return signed_in(engine, base, "marketer", email=MARA)


def test_a_granted_marketer_opens_a_report_and_downloads_its_csv(site):
    engine, base = site
    cid = reported(engine)
    browser = marketer(engine, base)
    give(engine)
    page = browser.get(f"/campaigns/{cid}/effectiveness")
    assert page.status == 200
    assert re.search(r'id="treated-rate">15.0 %<', page.body)
    table = browser.get(f"/campaigns/{cid}/effectiveness/summary.csv")
    assert table.status == 200 and table.headers["Content-Type"].startswith("text/csv")
    assert browser.get("/analytics").status == 200
    assert browser.get(f"/analytics/compare.csv?id={cid}").status == 200


def test_an_ungranted_marketer_is_refused_every_analytics_page(site):
    engine, base = site
    cid = reported(engine)
    browser = marketer(engine, base)
    for path in (f"/campaigns/{cid}/effectiveness", f"/campaigns/{cid}/effectiveness/summary.csv", "/analytics",
                 f"/analytics/compare?id={cid}", f"/analytics/compare.csv?id={cid}"):
        assert browser.get(path).status == 403, path
    assert browser.post_form(f"/campaigns/{cid}/effectiveness", {"do": "refresh"}).status == 403


def test_a_withdrawn_grant_is_refused_at_the_very_next_request_of_the_same_session(site):
    engine, base = site
    cid = reported(engine)
    browser = marketer(engine, base)
    give(engine)
    assert browser.get(f"/campaigns/{cid}/effectiveness").status == 200
    withdraw(engine)
    assert browser.get(f"/campaigns/{cid}/effectiveness").status == 403
    assert browser.get(f"/campaigns/{cid}/effectiveness/summary.csv").status == 403


def test_the_header_and_the_campaign_page_link_the_reports_only_while_granted(site):
    engine, base = site
    cid = reported(engine)
    browser = marketer(engine, base)
    page = browser.get(f"/campaigns/{cid}").body
    assert 'href="/analytics"' not in page and 'id="effectiveness-link"' not in page
    give(engine)
    page = browser.get(f"/campaigns/{cid}").body
    assert 'href="/analytics"' in page and f'href="/campaigns/{cid}/effectiveness"' in page


def test_a_grant_given_and_withdrawn_is_audited_with_the_grants_before_and_after(engine):
    user_id = add_user(engine, MARA)
    give(engine)
    withdraw(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(AuditEntry.actor, AuditEntry.object_id, AuditEntry.details)
                            .where(AuditEntry.action == "user.grants").order_by(AuditEntry.id)).all()
    assert [(r.actor, r.object_id, r.details["before"], r.details["after"]) for r in rows] == [
        ("ada@example.com", str(user_id), [], ["analytics"]), ("ada@example.com", str(user_id), ["analytics"], [])]


def test_giving_a_grant_held_already_changes_nothing_and_audits_nothing(engine):
    add_user(engine, MARA)
    give(engine)
    with engine.begin() as conn:
        user, changed = grants.grant(conn, MARA, "analytics", actor="ada@example.com")
        audited = conn.execute(select(AuditEntry.id).where(AuditEntry.action == "user.grants")).all()
    assert (user.grants, changed, len(audited)) == ({"analytics"}, False, 1)


@pytest.mark.parametrize("role, words", [("analyst", "a role that reads campaigns' effectiveness reports"),
                                         ("admin", "the analytics grant is for other roles"),
                                         ("partner", "an account for the API only")])
def test_a_role_that_reads_the_reports_already_or_a_partner_is_refused_the_grant_saying_why(engine, role, words):
    add_user(engine, f"{role}@example.com", role)
    with engine.begin() as conn, pytest.raises(UserError, match=words):
        grants.grant(conn, f"{role}@example.com", "analytics", actor="ada@example.com")


def test_an_unknown_grant_is_refused_naming_the_ones_there_are(engine):
    add_user(engine, MARA)
    with engine.begin() as conn, pytest.raises(UserError, match="'billing' is not a grant; one of analytics"):
        grants.grant(conn, MARA, "billing", actor="ada@example.com")


def test_the_engine_asks_the_role_or_the_grant(engine):
    add_user(engine, MARA)
    with engine.connect() as conn:
        before = get_user(conn, MARA)
    give(engine)
    with engine.connect() as conn:
        after = get_user(conn, MARA)
    assert (may_read_analytics(before), may_read_analytics(after), may_read_analytics("marketer")) == (
        False, True, False)


def test_the_command_line_grants_and_revokes(engine, engage_cli):
    add_user(engine, MARA)
    code, rows, _ = engage_cli("user", "grant", MARA, "analytics")
    assert (code, rows[0]["grants"]) == (0, ["analytics"])
    code, rows, err = engage_cli("user", "grant", MARA, "analytics")
    assert (code, rows[0]["grants"]) == (0, ["analytics"]) and "nothing changed" in err
    code, rows, _ = engage_cli("user", "revoke", MARA, "analytics")
    assert (code, rows[0]["grants"]) == (0, [])
    with engine.connect() as conn:
        assert get_user(conn, MARA).grants == frozenset()


def test_the_command_line_refuses_the_grant_to_an_analyst_saying_why(engine, engage_cli):
    add_user(engine, "ann@example.com", "analyst")
    with pytest.raises(SystemExit, match="ann@example.com is an analyst, a role that reads"):
        engage_cli("user", "grant", "ann@example.com", "analytics")


def test_the_users_page_shows_a_grant_checkbox_for_a_marketer_and_the_role_for_an_analyst(site):
    engine, base = site
    add_user(engine, MARA)
    add_user(engine, "ann@example.com", "analyst")
    add_user(engine, "crm@example.com", "partner")
    page = signed_in(engine, base, "admin", email="ada@example.com").get("/users").body
    row = re.search(rf'<tr data-email="{MARA}">.*?</tr>', page, re.S).group(0)
    assert re.search(r'<input type="checkbox" name="grant" value="analytics">', row)
    analyst = re.search(r'<tr data-email="ann@example.com">.*?</tr>', page, re.S).group(0)
    assert "analytics by role" in analyst and 'name="grant"' not in analyst
    partner = re.search(r'<tr data-email="crm@example.com">.*?</tr>', page, re.S).group(0)
    assert 'name="grant"' not in partner


def test_the_users_page_gives_and_withdraws_the_grant(site):
    engine, base = site
    add_user(engine, MARA)
    admin = signed_in(engine, base, "admin", email="ada@example.com")
    given = admin.post_form("/users", {"action": "grants", "email": MARA, "grant": ["analytics"]})
    assert given.status == 302 and "error" not in given.headers["Location"]
    page = admin.get("/users").body
    assert re.search(r'value="analytics" checked>', page)
    with engine.connect() as conn:
        assert get_user(conn, MARA).grants == {"analytics"}
    admin.post_form("/users", {"action": "grants", "email": MARA})  # no box ticked
    with engine.connect() as conn:
        assert get_user(conn, MARA).grants == frozenset()
        actors = conn.execute(select(AuditEntry.actor).where(AuditEntry.action == "user.grants")).scalars().all()
    assert actors == ["ada@example.com", "ada@example.com"]


def test_the_users_page_refuses_a_grant_without_its_form_token(site):
    engine, base = site
    add_user(engine, MARA)
    admin = signed_in(engine, base, "admin", email="ada@example.com")
    assert admin.post_form("/users", {"action": "grants", "email": MARA, "grant": ["analytics"]},
                           xsrf=False).status == 403
    with engine.connect() as conn:
        assert get_user(conn, MARA).grants == frozenset()


def test_only_an_admin_gives_grants_on_the_users_page(site):
    engine, base = site
    browser = marketer(engine, base)
    assert browser.post_form("/users", {"action": "grants", "email": MARA, "grant": ["analytics"]}).status == 403
    with engine.connect() as conn:
        assert get_user(conn, MARA).grants == frozenset()
