"""Admin pages in the browser: an admin creates a user who can then sign in, disables them, and finds
both in the audit log by filtering; other roles are refused both pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from engage.engine import audit_log
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import Browser, add_user


@pytest.fixture
def admin(site, quick_hashes, page):
    engine, base = site
    add_user(engine, "root@example.com", "admin")
    sign_in(page, base, "root@example.com", "/users")
    return engine, base, page


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
