"""What a security review of the web process expects, over real HTTP: a Content-Security-Policy on
every page (scripts only from the site or with the response's nonce, never framed), no sniffing,
no referrer sent off-site, cookies Secure over HTTPS (directly, or behind a proxy that says so when
ENGAGE_BEHIND_PROXY=1), /metrics only for Prometheus' bearer token (ENGAGE_METRICS_TOKEN) or an
admin, and a user's API tokens revoked with their password."""

from __future__ import annotations

import re
import urllib.request

import pytest
from sqlalchemy import select

from engage.cli import main
from engage.engine.store.schema import ApiToken as TokenRow
from engage.engine.users import api_tokens, set_password
from tests.fixtures.web import Browser, add_user, serving, signed_in

pytestmark = pytest.mark.usefixtures("quick_hashes")
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.I)


def csp(reply) -> dict[str, str]:
    policy = reply.headers["Content-Security-Policy"]
    return {d.split()[0]: d.partition(" ")[2] for d in (p.strip() for p in policy.split(";")) if d}


def test_every_page_has_a_content_security_policy_that_refuses_inline_scripts_and_framing(site):
    engine, base = site
    browser = signed_in(engine, base, "admin")
    for path in ("/login", "/dashboard", "/campaigns", "/segments/new", "/templates", "/users", "/audit"):
        policy = csp(browser.get(path))
        assert policy["frame-ancestors"] == "'none'", path
        assert policy["script-src"].startswith("'self' 'nonce-") and "unsafe" not in policy["script-src"], path
        assert policy["object-src"] == "'none'" and policy["base-uri"] == "'none'", path


def test_every_inline_script_of_a_page_carries_that_responses_nonce(site):
    engine, base = site
    browser = signed_in(engine, base, "admin")
    first, second = browser.get("/segments/new"), browser.get("/segments/new")
    nonce = csp(first)["script-src"].split("'nonce-")[1].rstrip("'")
    assert nonce != csp(second)["script-src"].split("'nonce-")[1].rstrip("'")
    scripts = SCRIPT_TAG.findall(first.body)
    assert scripts
    for attributes in scripts:
        assert 'type="application/json"' in attributes or f'nonce="{nonce}"' in attributes, attributes


def test_api_answers_static_files_and_unknown_paths_are_not_sniffed_nor_framed(site):
    engine, base = site
    browser = Browser(base)
    for path in ("/api/v1/campaigns", "/static/engage.css", "/no-such-page", "/api/v1/openapi.json"):
        reply = browser.get(path)
        assert reply.headers["X-Content-Type-Options"] == "nosniff", path
        assert reply.headers["Referrer-Policy"] == "same-origin", path
        assert "frame-ancestors 'none'" in reply.headers["Content-Security-Policy"], path


def _https(browser: Browser, path: str) -> object:
    return browser.request("GET", path, headers={"X-Forwarded-Proto": "https"})


def test_the_xsrf_cookie_is_secure_and_same_site_behind_an_https_proxy(engine, monkeypatch):
    monkeypatch.setenv("ENGAGE_BEHIND_PROXY", "1")
    with serving(engine) as base:
        cookie = _https(Browser(base), "/login").headers["Set-Cookie"]
    assert cookie.startswith("_xsrf=") and "Secure" in cookie and "SameSite=Lax" in cookie


def test_the_session_cookie_is_secure_and_http_only_behind_an_https_proxy(engine, monkeypatch):
    monkeypatch.setenv("ENGAGE_BEHIND_PROXY", "1")
    add_user(engine, "ann@example.com", "marketer")
    with serving(engine) as base:
        browser = Browser(base)
        xsrf = browser.xsrf()
        reply = browser.request("POST", "/login", f"_xsrf={xsrf}&email=ann%40example.com&password=correct+horse+battery"
                                .encode(), {"X-Forwarded-Proto": "https",
                                            "Content-Type": "application/x-www-form-urlencoded"})
    session = next(c for c in reply.headers.get_all("Set-Cookie") if c.startswith("engage_session="))
    assert reply.status == 303 and "Secure" in session and "HttpOnly" in session and "SameSite=Lax" in session


def test_a_forwarded_proto_is_not_believed_without_engage_behind_proxy(engine, monkeypatch):
    monkeypatch.delenv("ENGAGE_BEHIND_PROXY", raising=False)
    with serving(engine) as base:
        cookie = _https(Browser(base), "/login").headers["Set-Cookie"]
    assert cookie.startswith("_xsrf=") and "Secure" not in cookie and "SameSite=Lax" in cookie


# /metrics

def _metrics(base: str, token: str | None = None) -> int:
    request = urllib.request.Request(f"{base}/metrics", headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_metrics_without_a_token_or_an_admin_session_is_a_401(engine, monkeypatch):
    monkeypatch.setenv("ENGAGE_METRICS_TOKEN", "prometheus-secret")
    with serving(engine) as base:
        assert _metrics(base) == 401
        assert _metrics(base, "not-the-secret") == 401


def test_metrics_answers_prometheus_bearer_token(engine, monkeypatch):
    monkeypatch.setenv("ENGAGE_METRICS_TOKEN", "prometheus-secret")
    with serving(engine) as base:
        assert _metrics(base, "prometheus-secret") == 200


def test_metrics_answers_an_admin_session_and_refuses_other_roles(site):
    engine, base = site
    assert signed_in(engine, base, "admin").get("/metrics").status == 200
    assert signed_in(engine, base, "marketer").get("/metrics").status == 403


# API tokens go with the password

def _token(engine, email="crm@example.com") -> str:
    user_id = add_user(engine, email, "marketer")
    with engine.begin() as conn:
        return api_tokens.issue(conn, user_id, "CRM sync", created_by="root@example.com")


def _revoked(engine) -> list[bool]:
    with engine.connect() as conn:
        return [moment is not None for moment in conn.execute(select(TokenRow.revoked_at)).scalars()]


def test_a_password_change_revokes_the_users_api_tokens(engine):
    secret = _token(engine)
    with engine.begin() as conn:
        set_password(conn, "crm@example.com", "a new password of theirs", actor="root@example.com")
    with engine.begin() as conn:
        assert api_tokens.resolve(conn, secret) is None
    assert _revoked(engine) == [True]


def test_engage_user_set_password_revokes_the_users_api_tokens(engine, database_url, monkeypatch, capsys):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", database_url)
    monkeypatch.setenv("NEW_PASSWORD", "a new password of theirs")
    _token(engine)
    assert main(["user", "set-password", "crm@example.com", "--password-env", "NEW_PASSWORD"]) == 0
    assert _revoked(engine) == [True]

