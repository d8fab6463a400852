"""/account over real HTTP: a signed-in person sets the zone every page shows times in; an admin sets
anyone's on /users; the pages then show times in it, the zone named (the audit log's filter reading
days as the reader means them, the inbound messages' and USSD menus' times)."""

from __future__ import annotations

import html
import urllib.parse
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, update

from engage.engine import audit_log
from engage.engine.store.schema import AuditEntry, InboundMessage
from engage.engine.store.schema_ussd import UssdMenu
from engage.engine.users import get_user
from engage.engine.users.zones import format_moment, set_timezone
from tests.fixtures.web import Browser, add_user, signed_in
from tests.ussd_helpers import put_menu

pytestmark = pytest.mark.usefixtures("quick_hashes")
LATE_EVENING = datetime(2026, 11, 29, 20, 0, tzinfo=UTC)  # 30 November already in Tashkent (UTC+05:00)


def _zone(engine, email: str) -> str | None:
    with engine.connect() as conn:
        return get_user(conn, email).timezone


def _set(engine, email: str, zone: str) -> None:
    with engine.begin() as conn:
        set_timezone(conn, email, zone, actor="test")


def test_the_account_page_asks_for_a_session(site):
    _, base = site
    reply = Browser(base).get("/account")
    assert reply.status == 302 and reply.headers["Location"] == "/login?next=%2Faccount"


@pytest.mark.parametrize("role", ["marketer", "support", "analyst"])
def test_anyone_with_pages_sets_their_own_zone_and_is_told_it_is_saved(site, role):
    engine, base = site
    browser = signed_in(engine, base, role)
    reply = browser.post_form("/account", {"timezone": "Europe/Berlin"})
    assert reply.status == 303 and reply.headers["Location"] == "/account?saved=1"
    assert _zone(engine, f"{role}@example.com") == "Europe/Berlin"
    assert "times are now shown in Europe/Berlin" in browser.get("/account?saved=1").body


def test_an_unknown_zone_is_refused_on_the_page_naming_it_and_nothing_is_saved(site):
    engine, base = site
    browser = signed_in(engine, base, "marketer")
    reply = browser.post_form("/account", {"timezone": "Europe/Atlantis"})
    assert reply.status == 400
    assert "timezone: 'Europe/Atlantis' is not a time zone" in html.unescape(reply.body)
    assert _zone(engine, "marketer@example.com") is None


def test_choosing_the_installations_zone_clears_ones_own(site, monkeypatch):
    monkeypatch.setenv("ENGAGE_DEFAULT_TIMEZONE", "Asia/Tashkent")
    engine, base = site
    browser = signed_in(engine, base, "marketer")
    _set(engine, "marketer@example.com", "Europe/Berlin")
    browser.post_form("/account", {"timezone": ""})
    assert _zone(engine, "marketer@example.com") is None
    assert "the installation's zone, since you have not chosen one" in html.unescape(browser.get("/account").body)


def test_setting_ones_zone_needs_the_xsrf_token(site):
    engine, base = site
    browser = signed_in(engine, base, "marketer")
    assert browser.post_form("/account", {"timezone": "Europe/Berlin"}, xsrf=False).status == 403
    assert _zone(engine, "marketer@example.com") is None


def test_the_header_links_ones_name_to_the_account_page_naming_the_zone(site):
    engine, base = site
    browser = signed_in(engine, base, "marketer")
    _set(engine, "marketer@example.com", "Asia/Kolkata")
    assert ('<a id="user" href="/account" title="Your account: times are shown in Asia/Kolkata">'
            in browser.get("/dashboard").body)


def test_an_admin_sets_another_users_zone_on_the_users_page(site):
    engine, base = site
    add_user(engine, "mara@example.com", "marketer")
    admin = signed_in(engine, base, "admin")
    reply = admin.post_form("/users", {"action": "timezone", "email": "mara@example.com", "timezone": "Asia/Kolkata"})
    assert reply.status == 302 and "done=" in reply.headers["Location"]
    assert _zone(engine, "mara@example.com") == "Asia/Kolkata"
    with engine.connect() as conn:
        assert audit_log.entries(conn, action="user.set_timezone")[0]["actor"] == "admin@example.com"
    row = admin.get("/users").body.split('data-email="mara@example.com"')[1].split("</tr>")[0]
    assert '<td class="zone">Asia/Kolkata</td>' in row


def test_only_admins_set_another_users_zone(site):
    engine, base = site
    add_user(engine, "mara@example.com", "marketer")
    other = signed_in(engine, base, "approver")
    reply = other.post_form("/users", {"action": "timezone", "email": "mara@example.com", "timezone": "Asia/Kolkata"})
    assert reply.status == 403
    assert _zone(engine, "mara@example.com") is None


def test_the_audit_logs_days_are_the_readers_days(site):
    engine, base = site
    with engine.begin() as conn:
        conn.execute(insert(AuditEntry.__table__).values(at=LATE_EVENING, actor="night@example.com",
                                                         action="campaign.launch", object_type="campaign"))
    admin = signed_in(engine, base, "admin")
    on_the_30th = "/audit?" + urllib.parse.urlencode({"since": "2026-11-30", "until": "2026-11-30"})
    _set(engine, "admin@example.com", "Asia/Tashkent")
    assert "night@example.com" in admin.get(on_the_30th).body
    _set(engine, "admin@example.com", "UTC")
    assert "night@example.com" not in admin.get(on_the_30th).body


def test_the_audit_log_shows_each_time_in_the_readers_zone_named(site):
    engine, base = site
    with engine.begin() as conn:
        conn.execute(insert(AuditEntry.__table__).values(at=LATE_EVENING, actor="night@example.com",
                                                         action="campaign.launch", object_type="campaign"))
    admin = signed_in(engine, base, "admin")
    _set(engine, "admin@example.com", "Asia/Tashkent")
    body = admin.get("/audit?actor=night%40example.com").body
    assert '<td class="when">2026-11-30 01:00:00 Asia/Tashkent (UTC+05:00)</td>' in body


def test_inbound_messages_are_shown_received_in_the_readers_zone_named(site):
    engine, base = site
    with engine.begin() as conn:
        conn.execute(insert(InboundMessage.__table__).values(provider_id=1, source="998901234567", destination="5555",
                                                             text="Balance?", received_at=LATE_EVENING))
    support = signed_in(engine, base, "support")
    _set(engine, "support@example.com", "America/New_York")
    body = support.get("/inbound").body
    assert f'<td class="when">{format_moment(LATE_EVENING, "America/New_York")}</td>' in body
    assert "2026-11-29 15:00 America/New_York (UTC-05:00)" in body


def test_the_ussd_menus_last_change_is_shown_in_the_readers_zone_named(site):
    engine, base = site
    menu_id = put_menu(engine, "name: Club\nscreens:\n  home:\n    type: end\n    text: Welcome\n")
    with engine.begin() as conn:
        conn.execute(update(UssdMenu.__table__).where(UssdMenu.id == menu_id).values(updated_at=LATE_EVENING))
    support = signed_in(engine, base, "support")
    _set(engine, "support@example.com", "Asia/Tashkent")
    assert '<td class="updated">2026-11-30 01:00 Asia/Tashkent (UTC+05:00)' in support.get("/menus").body
