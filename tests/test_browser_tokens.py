"""In a real browser: an admin gives a partner (an integration's account) an API token on the users
page; the secret is shown once; with it the partner's system upserts subscribers through /api/v1,
but no page opens with it; revoked on the same page, it stops working."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import Browser, add_user
from tests.test_audience_api import _call


def test_an_admin_gives_a_partner_a_token_that_works_for_the_api_only(site, quick_hashes, page):
    engine, base = site
    add_user(engine, "root@example.com", "admin")
    add_user(engine, "crm@example.com", "partner", branch="north")
    sign_in(page, base, "root@example.com", "/users")

    form = page.locator("#new-token")
    form.locator("select[name=email]").select_option("crm@example.com")
    form.locator("input[name=token_name]").fill("CRM nightly sync")
    form.locator("button[type=submit]").click()
    expect(page.locator("#done")).to_have_text("API token CRM nightly sync created for crm@example.com.")
    secret = page.locator("#secret").inner_text()
    assert secret.startswith("eng_")
    row = page.locator("#tokens tr[data-owner='crm@example.com']")
    expect(row).to_contain_text(secret[:12])
    expect(row.locator(".state")).to_have_text("active")
    screenshot(page, "users-token-issued")

    page.goto(f"{base}/users")  # shown once: not on the page any more
    expect(page.locator("#secret")).to_have_count(0)
    assert secret not in page.content()

    status, body = _call(base, "/api/v1/subscribers", {"subscribers": [{"msisdn": "+998901234567"}]}, token=secret)
    assert status == 200 and body["imported"] == 1, body
    opened = Browser(base).request("GET", "/campaigns", headers={"Authorization": f"Bearer {secret}"})
    assert opened.status == 302 and opened.headers["Location"].startswith("/login")
    status, body = _call(base, "/api/v1/campaigns/1/approve", {}, token=secret)
    assert status == 403 and "partner" in body["error"]

    page.locator("#tokens tr[data-owner='crm@example.com'] button[value=token_revoke]").click()
    expect(page.locator("#done")).to_contain_text("revoked")
    expect(page.locator("#tokens tr[data-owner='crm@example.com'] .state")).to_contain_text("revoked")
    expect(page.locator("#tokens tr[data-owner='crm@example.com'] .last-used")).not_to_have_text("never")
    assert _call(base, "/api/v1/subscribers", {"subscribers": [{"msisdn": "+998901234568"}]}, token=secret)[0] == 401
