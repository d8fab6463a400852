"""The directory asked again while a person is signed in (engine.users.directory_recheck), against
the real directory of tests/fixtures/ldap.py: removed, locked or out of every group, they lose access
at their next request; a new role applies at once; a silent or slow directory holds no request."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from engage.engine.store.schema import AuditEntry
from engage.engine.users import api_tokens, directory_recheck
from tests.fixtures.ldap import ADMINS, ANALYSTS, MARKETERS, PASSWORD
from tests.fixtures.web import Browser, serving
from tests.test_ldap_sign_in import _directory_env, _row, transport_only

pytestmark = [pytest.mark.usefixtures("quick_hashes"),
              pytest.mark.filterwarnings("ignore:ssl.match_hostname:DeprecationWarning")]  # ldap3 2.9.1's own


def _signed_in_with_token(engine, base, email):
    browser = Browser(base)
    assert browser.sign_in(email, PASSWORD).status == 303
    user_id = _row(engine, email).id
    with engine.begin() as conn:
        secret = api_tokens.issue(conn, user_id, "sync", created_by="root@engage.test")
    assert browser.get("/campaigns").status == 200
    return browser, {"Authorization": f"Bearer {secret}"}


@pytest.mark.parametrize("change", ["removed", "locked", "out_of_every_group"])
def test_a_person_the_directory_no_longer_lets_in_loses_access_at_their_next_request(
        engine, monkeypatch, slapd, change):
    email, dn = slapd.person([MARKETERS])
    _directory_env(monkeypatch, slapd)
    with serving(engine) as base:
        browser, token = _signed_in_with_token(engine, base, email)
        {"removed": slapd.remove, "locked": slapd.lock,
         "out_of_every_group": lambda dn: slapd.leave(dn, MARKETERS)}[change](dn)
        page = browser.get("/campaigns")
        assert page.status == 302 and page.headers["Location"].startswith("/login")
        assert Browser(base).request("GET", "/api/v1/segments", headers=token).status == 401
    with engine.connect() as conn:
        revoked = conn.execute(select(AuditEntry.actor, AuditEntry.details).where(
            AuditEntry.action == "user.directory_revoked")).one()
    assert revoked.actor == "ldap" and revoked.details["email"] == email


def test_a_role_changed_in_the_directory_applies_at_the_next_request(engine, monkeypatch, slapd):
    email, dn = slapd.person([ADMINS])
    _directory_env(monkeypatch, slapd)
    with serving(engine) as base:
        browser, _ = _signed_in_with_token(engine, base, email)
        assert browser.get("/users").status == 200
        slapd.leave(dn, ADMINS)
        slapd.join(dn, ANALYSTS)
        assert browser.get("/users").status == 403
        assert f"{email} (analyst" in browser.get("/campaigns").body


def test_within_the_recheck_interval_the_directory_is_not_asked_again(engine, monkeypatch, slapd):
    email, dn = slapd.person([MARKETERS])
    _directory_env(monkeypatch, slapd, ENGAGE_LDAP_RECHECK_SECONDS="3600")
    with serving(engine) as base:
        browser, _ = _signed_in_with_token(engine, base, email)
        slapd.remove(dn)
        assert browser.get("/campaigns").status == 200  # confirmed by the sign-in, an hour ago at most


@transport_only
def test_a_directory_that_cannot_answer_a_recheck_keeps_the_session_and_answers_in_time(
        engine, monkeypatch, slapd, silent_directory):
    email, _ = slapd.person([MARKETERS])
    _directory_env(monkeypatch, slapd, ENGAGE_LDAP_TIMEOUT="1")
    with serving(engine) as base:
        browser, _ = _signed_in_with_token(engine, base, email)
        monkeypatch.setenv("ENGAGE_LDAP_URL", silent_directory)
        started = time.monotonic()
        assert browser.get("/campaigns").status == 200
        assert browser.get("/campaigns").status == 200  # not asked again at once: the directory failed
        assert time.monotonic() - started < 2


def test_a_slow_directorys_answer_holds_no_request_and_applies_at_a_later_one(engine, monkeypatch, slapd,
                                                                               slow_directory):
    email, dn = slapd.person([MARKETERS])
    _directory_env(monkeypatch, slapd)
    with serving(engine) as base:
        browser, _ = _signed_in_with_token(engine, base, email)
        slapd.remove(dn)
        monkeypatch.setenv("ENGAGE_LDAP_URL", slow_directory)
        started = time.monotonic()
        assert browser.get("/campaigns").status == 200  # the directory's answer is not in yet
        assert time.monotonic() - started < directory_recheck.ANSWER_WAIT + 0.4
        statuses = []
        deadline = time.monotonic() + 40  # generous for a loaded machine: the loop ends at the first 302
        while time.monotonic() < deadline and 302 not in statuses:  # none waits: the directory was slow
            statuses.append(browser.get("/campaigns").status)
        assert statuses[-1] == 302, statuses  # the answer came, and the next request applied it


def test_a_slow_directory_holds_one_request_not_one_per_person(engine, monkeypatch, slapd, slow_directory):
    first, second = slapd.person([MARKETERS])[0], slapd.person([MARKETERS])[0]
    _directory_env(monkeypatch, slapd)
    with serving(engine) as base:
        browsers = [_signed_in_with_token(engine, base, email)[0] for email in (first, second)]
        monkeypatch.setenv("ENGAGE_LDAP_URL", slow_directory)
        assert browsers[0].get("/campaigns").status == 200  # waits for the answer, ANSWER_WAIT at most
        started = time.monotonic()
        assert browsers[1].get("/campaigns").status == 200
        assert time.monotonic() - started < directory_recheck.ANSWER_WAIT / 2  # the directory is known slow
