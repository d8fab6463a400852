"""Signing in to the web UI over real HTTP: sessions in cookies, XSRF on every form, pages by role,
branch scope for a signed-in user's API calls."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from engage.engine.store.schema import UserSession
from engage.engine.users.signin import LOCKED, WRONG
from engage.web.sessions_web import SESSION_COOKIE, cookie_secret, safe_next
from tests.audience_people import add_people
from tests.fixtures.web import PASSWORD, Browser, add_user, serving, signed_in

TASHKENT = {"field": "city", "op": "eq", "value": "Tashkent"}
pytestmark = pytest.mark.usefixtures("quick_hashes")


def _error_of(reply) -> str:
    return reply.body.split('id="error" role="alert">', 1)[1].split("<", 1)[0]


def test_signing_in_sets_a_session_cookie_and_reaches_the_dashboard(site):
    engine, base = site
    add_user(engine, "ann@example.com", "marketer")
    browser = Browser(base)
    reply = browser.sign_in("Ann@Example.com")
    assert (reply.status, reply.headers["Location"]) == (303, "/dashboard")
    cookie = next(h for h in reply.headers.get_all("Set-Cookie") if h.startswith(f"{SESSION_COOKIE}="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "expires" not in cookie.lower()
    page = browser.get("/campaigns")
    assert page.status == 200 and "ann@example.com (marketer)" in page.body


def test_signing_in_returns_to_the_page_asked_for_but_never_to_another_site(site):
    engine, base = site
    add_user(engine, "ann@example.com")
    assert Browser(base).sign_in("ann@example.com", next_path="/campaigns/7").headers["Location"] == "/campaigns/7"
    assert Browser(base).sign_in("ann@example.com", next_path="//evil.example/x").headers["Location"] == "/dashboard"


@pytest.mark.parametrize(("asked", "given"), [
    ("/campaigns/3?tab=counts", "/campaigns/3?tab=counts"), (None, "/dashboard"), ("", "/dashboard"),
    ("https://evil.example/", "/dashboard"), ("//evil.example", "/dashboard"), ("/\\evil.example", "/dashboard"),
    ("campaigns", "/dashboard"), ("/x\r\nSet-Cookie: a=b", "/dashboard"), ("/logout", "/dashboard"),
])
def test_the_page_to_return_to_must_be_a_path_of_this_site(asked, given):
    assert safe_next(asked) == given


def test_a_page_without_a_session_redirects_to_the_sign_in_form(site):
    _, base = site
    reply = Browser(base).get("/campaigns/5")
    assert reply.status == 302 and reply.headers["Location"] == "/login?next=%2Fcampaigns%2F5"
    form = Browser(base).get("/login?next=%2Fcampaigns%2F5")
    assert form.status == 200 and 'name="next" value="/campaigns/5"' in form.body and 'name="_xsrf"' in form.body


def test_a_post_without_the_xsrf_token_is_refused(site):
    engine, base = site
    add_user(engine, "ann@example.com")
    browser = Browser(base)
    browser.get("/login")
    assert browser.post_form("/login", {"email": "ann@example.com", "password": PASSWORD}, xsrf=False).status == 403
    assert browser.cookie(SESSION_COOKIE) is None
    browser.sign_in("ann@example.com")
    assert browser.post_form("/logout", {}, xsrf=False).status == 403
    assert browser.get("/campaigns").status == 200


def test_a_wrong_password_says_the_same_for_unknown_and_known_emails(site):
    engine, base = site
    add_user(engine, "ann@example.com")
    known = Browser(base).sign_in("ann@example.com", "not the password")
    unknown = Browser(base).sign_in("nobody@example.com", "not the password")
    assert known.status == unknown.status == 401
    assert _error_of(known) == _error_of(unknown) == WRONG


def test_the_form_shows_back_the_email_typed_escaped(site):
    _, base = site
    reply = Browser(base).sign_in('"><script>x()</script>@example.com', "not the password")
    assert "<script>x()" not in reply.body and "&lt;script&gt;x()" in reply.body


def test_a_locked_account_is_refused_even_with_the_right_password(site):
    engine, base = site
    add_user(engine, "ann@example.com")
    browser = Browser(base)
    for _ in range(5):
        browser.sign_in("ann@example.com", "not the password")
    reply = browser.sign_in("ann@example.com")
    assert reply.status == 401 and _error_of(reply) == LOCKED.replace("'", "&#39;")
    assert browser.cookie(SESSION_COOKIE) is None
    assert browser.get("/campaigns").status == 302


def test_signing_out_ends_the_session(site):
    engine, base = site
    browser = signed_in(engine, base, "analyst")
    stolen = browser.cookie(SESSION_COOKIE)
    reply = browser.post_form("/logout", {})
    assert (reply.status, reply.headers["Location"]) == (303, "/login")
    with engine.connect() as conn:
        assert conn.execute(select(UserSession.id)).all() == []
    replay = Browser(base)
    replay.request("GET", "/login")
    reply = replay.request("GET", "/campaigns", headers={"Cookie": f"{SESSION_COOKIE}={stolen}"})
    assert reply.status == 302


@pytest.mark.parametrize("limit", ["idle", "absolute"])
def test_an_expired_session_redirects_to_the_sign_in_form(site, limit):
    engine, base = site
    browser = signed_in(engine, base, "analyst")
    past = datetime.now(UTC) - timedelta(minutes=31)
    with engine.begin() as conn:
        conn.execute(update(UserSession.__table__).values(
            **({"last_seen_at": past} if limit == "idle" else {"expires_at": past})))
    reply = browser.get("/campaigns")
    assert reply.status == 302 and reply.headers["Location"].startswith("/login?next=")


def test_a_session_cookie_not_signed_by_the_server_is_ignored(site):
    engine, base = site
    add_user(engine, "ann@example.com")
    reply = Browser(base).request("GET", "/campaigns", headers={"Cookie": f"{SESSION_COOKIE}=forged-token"})
    assert reply.status == 302


def test_a_partner_cannot_open_pages(site):
    engine, base = site
    browser = signed_in(engine, base, "partner")
    assert browser.get("/campaigns").status == 403
    assert browser.get("/login").status == 200  # may sign in as someone else


def test_a_disabled_user_is_signed_out_at_once(site):
    from engage.engine.users import disable

    engine, base = site
    browser = signed_in(engine, base, "marketer", email="ann@example.com")
    with engine.begin() as conn:
        disable(conn, "ann@example.com", actor="admin@example.com")
    assert browser.get("/campaigns").status == 302


def test_a_branch_marketers_segment_count_is_limited_to_their_branch(site):
    engine, base = site
    add_people(engine)
    north = signed_in(engine, base, "marketer", branch="north")
    hq = signed_in(engine, base, "marketer")
    reply = north.post_json("/api/v1/segments/count", {"definition": TASHKENT})
    assert reply.status == 200 and reply.json()["matching"] == 2
    assert hq.post_json("/api/v1/segments/count", {"definition": TASHKENT}).json()["matching"] == 4


def test_a_session_api_call_that_changes_something_needs_the_xsrf_header(site):
    engine, base = site
    browser = signed_in(engine, base, "marketer")
    body = {"name": "tashkent", "definition": TASHKENT}
    assert browser.post_json("/api/v1/segments", body, xsrf=False).status == 403
    reply = browser.post_json("/api/v1/segments", body)
    assert reply.status == 201


def test_a_role_without_the_right_gets_a_403_from_the_api(site):
    engine, base = site
    analyst = signed_in(engine, base, "analyst")
    assert analyst.post_json("/api/v1/segments/count", {"definition": TASHKENT}).status == 200
    reply = analyst.post_json("/api/v1/segments", {"name": "x", "definition": TASHKENT})
    assert reply.status == 403 and "analyst" in reply.json()["error"]
    assert signed_in(engine, base, "support").post_json("/api/v1/segments/count",
                                                        {"definition": TASHKENT}).status == 403


def test_a_segment_saved_in_a_session_is_audited_under_the_users_email(site):
    from engage.engine.store.schema import AuditEntry

    engine, base = site
    browser = signed_in(engine, base, "marketer", email="ann@example.com")
    assert browser.post_json("/api/v1/segments", {"name": "mine", "definition": TASHKENT}).status == 201
    with engine.connect() as conn:
        actors = conn.execute(select(AuditEntry.actor).where(AuditEntry.object_type == "segment")).scalars().all()
    assert actors == ["ann@example.com"]


def test_a_branch_user_sees_only_their_branchs_campaigns(site):
    from engage.engine import campaigns
    from engage.engine.segments import store as segments
    from engage.engine.templates import store as templates

    engine, base = site
    with engine.begin() as conn:
        sid = segments.create(conn, "s", {"field": "city", "value": "X"}, actor="t")
        tid = templates.create(conn, "t", {"en": "hi"}, default_language="en", actor="t")
        south = campaigns.create(conn, name="South only", segment_id=sid, template_id=tid, sender_id="Engage",
                                 actor="t", branch="south")
    north = signed_in(engine, base, "analyst", branch="north")
    assert "South only" not in north.get("/campaigns").body
    assert north.get(f"/campaigns/{south}").status == 404
    assert north.get(f"/api/v1/campaigns/{south}").status == 404
    assert north.get("/api/v1/campaigns").json()["campaigns"] == []
    assert "South only" in signed_in(engine, base, "analyst", branch="south").get("/campaigns").body


def test_the_campaigns_api_needs_a_token_or_a_session(engine):
    with serving(engine, tokens="hq-token") as base:
        assert Browser(base).get("/api/v1/campaigns").status == 401
        reply = Browser(base).request("GET", "/api/v1/campaigns", headers={"Authorization": "Bearer hq-token"})
        assert reply.status == 200 and reply.json() == {"campaigns": []}


def test_the_cookie_secret_is_made_once_and_readable_only_by_its_owner(tmp_path, monkeypatch):
    monkeypatch.delenv("ENGAGE_COOKIE_SECRET", raising=False)
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    first = cookie_secret()
    assert len(first) >= 40 and cookie_secret() == first
    path = tmp_path / "home" / "cookie_secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["cookie_secret"]
    monkeypatch.setenv("ENGAGE_COOKIE_SECRET", "from the environment")
    assert cookie_secret() == "from the environment"
