"""Admin pages in the browser: an admin creates a user who can then sign in, disables them, and finds
both in the audit log by filtering; other roles are refused both pages."""

from __future__ import annotations

import re
import urllib.parse

import pytest
from playwright.sync_api import expect

from engage.engine import audit_log
from engage.engine.users import api_tokens
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import Browser, add_user


@pytest.fixture
def admin(site, quick_hashes, page):
    engine, base = site
    add_user(engine, "root@example.com", "admin")
    sign_in(page, base, "root@example.com", "/users")
    return engine, base, page


def test_an_admin_clicking_disable_on_their_own_row_is_told_why_not_and_stays_signed_in(admin):
    engine, base, page = admin
    add_user(engine, "second@example.com", "admin")
    page.reload()
    page.locator("tr[data-email='root@example.com'] button[value=disable]").click()
    expect(page.locator("#error")).to_contain_text("you cannot disable your own account")
    page.goto(base + "/users")
    expect(page.locator("tr[data-email='root@example.com']")).not_to_contain_text("disabled")


def test_an_admin_creates_a_user_who_can_sign_in_and_then_disables_them(admin):
    engine, base, page = admin
    form = page.locator("#new-user")
    form.locator("input[name=email]").fill("new@example.com")
    form.locator("select[name=role]").select_option("analyst")
    form.locator("input[name=password]").fill("a long enough password")
    form.locator("button[type=submit]").click()
    expect(page.locator("#done")).to_have_text("new@example.com created.")
    assert Browser(base).sign_in("new@example.com", "a long enough password").status == 303
    page.locator("tr[data-email='new@example.com'] button[value=disable]").click()
    expect(page.locator("tr[data-email='new@example.com']")).to_contain_text("disabled")
    screenshot(page, "users")
    with engine.connect() as conn:
        actions = [e["action"] for e in audit_log.entries(conn, actor="root@example.com", action="user.")]
    assert actions == ["user.disable", "user.create", "user.sign_in"]  # newest first


def test_the_audit_log_filters_by_action(admin):
    _, base, page = admin
    page.goto(f"{base}/audit?action=user.sign_in")
    expect(page.locator("#audit tbody tr").first).to_contain_text("root@example.com")
    expect(page.locator("#audit tbody")).not_to_contain_text("user.create")


@pytest.mark.parametrize("path", ["/users", "/audit"])
def test_other_roles_are_refused_the_admin_pages(site, quick_hashes, path):
    engine, base = site
    add_user(engine, "mara@example.com", "marketer")
    browser = Browser(base)
    browser.sign_in("mara@example.com")
    assert browser.get(path).status == 403


def _issued_secret(body: str) -> str:
    found = re.search(r'<code id="secret">(eng_[^<]+)</code>', body)
    assert found, "the page shows no new secret"
    return found.group(1)


def test_an_admin_creates_a_token_whose_secret_is_shown_once_then_revokes_it(site, quick_hashes):
    engine, base = site
    add_user(engine, "root@example.com", "admin")
    add_user(engine, "crm@example.com", "partner")
    admin = Browser(base)
    admin.sign_in("root@example.com")
    fields = {"action": "token_create", "email": "crm@example.com", "token_name": "CRM sync", "expires_days": "90"}
    assert admin.post_form("/users", fields, xsrf=False).status == 403
    reply = admin.post_form("/users", fields)
    assert reply.status == 200 and reply.headers["Cache-Control"] == "no-store"
    secret = _issued_secret(reply.body)
    listing = admin.get("/users").body
    assert secret not in listing and secret[:12] in listing and 'id="secret"' not in listing
    with engine.connect() as conn:
        token = api_tokens.find(conn, secret)
    assert token.name == "CRM sync" and token.expires_at is not None
    reply = admin.post_form("/users", {"action": "token_revoke", "token_id": str(token.id)})
    assert reply.status == 302 and "revoked" in urllib.parse.unquote_plus(reply.headers["Location"])
    assert 'class="state">revoked' in admin.get("/users").body
    with engine.connect() as conn:
        entries = audit_log.entries(conn, actor="root@example.com", action="api_token.")
        assert api_tokens.resolve(conn, secret) is None
    assert [e["action"] for e in entries] == ["api_token.revoke", "api_token.create"]
    assert secret not in str(entries)


@pytest.mark.parametrize(("fields", "words"), [
    ({"email": "crm@example.com", "token_name": ""}, "name"),
    ({"email": "crm@example.com", "token_name": "x", "expires_days": "soon"}, "expires_days"),
    ({"email": "nobody@example.com", "token_name": "x"}, "no user"),
])
def test_a_bad_token_request_is_named_on_the_users_page(site, quick_hashes, fields, words):
    engine, base = site
    add_user(engine, "root@example.com", "admin")
    add_user(engine, "crm@example.com", "partner")
    admin = Browser(base)
    admin.sign_in("root@example.com")
    reply = admin.post_form("/users", {"action": "token_create", **fields})
    assert reply.status == 302 and words in urllib.parse.unquote_plus(reply.headers["Location"])


def test_other_roles_cannot_create_tokens(site, quick_hashes):
    engine, base = site
    add_user(engine, "mara@example.com", "marketer")
    browser = Browser(base)
    browser.sign_in("mara@example.com")
    reply = browser.post_form("/users", {"action": "token_create", "email": "mara@example.com", "token_name": "x"})
    assert reply.status == 403
    with engine.connect() as conn:
        assert api_tokens.list_all(conn) == {}
