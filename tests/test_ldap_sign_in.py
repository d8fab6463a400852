"""Signing in with a directory account, against a real directory (OpenLDAP's slapd, started by
tests/fixtures/ldap.py on loopback ports, with its own CA), on both databases: the search with the
escaped email as the service account, the bind as the person, memberOf to a role, an attribute to
a branch, LDAPS and StartTLS verified against the CA, a directory that is down or silent, and two
first sign-ins at once. The directory asked again while a person is signed in: test_ldap_recheck.py."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from engage.engine.store.schema import AuditEntry, LoginAttempt
from engage.engine.store.schema import User as UserRow
from engage.engine.users import (
    SignInError,
    api_tokens,
    authenticate,
    disable,
    ldap_signin,
    set_password,
)
from engage.engine.users.ldap_signin import Directory, DirectorySettings, parse_role_groups
from engage.engine.users.signin import DISABLED, LOCKED, NO_ROLE, THROTTLED, UNAVAILABLE, WRONG
from tests.fixtures.ldap import (
    ADMINS,
    ANALYSTS,
    FINANCE,
    MARKETERS,
    PASSWORD,
    SERVICE_DN,
    SERVICE_PASSWORD,
    SUFFIX,
    free_port,
)
from tests.fixtures.web import PASSWORD as LOCAL_PASSWORD
from tests.fixtures.web import Browser, add_user, serving

ANALYSTS_AS_TYPED = "CN=Engage-Analysts, OU=Groups, DC=engage, DC=test"  # case and spaces as a person types them
GROUPS = f"admin={ADMINS};marketer={MARKETERS};analyst={ANALYSTS_AS_TYPED}"
pytestmark = [pytest.mark.usefixtures("quick_hashes"),
              pytest.mark.filterwarnings("ignore:ssl.match_hostname:DeprecationWarning")]  # ldap3 2.9.1's own
# What only the connection to the directory decides runs on the embedded database alone: the
# database plays no part in it, and a fresh PostgreSQL database per test costs a second.
transport_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _settings(slapd, **changes) -> DirectorySettings:
    """LDAPS verified against the test CA, as production would be configured."""
    settings = DirectorySettings(url=slapd.ldaps_url, base_dn=SUFFIX, role_groups=parse_role_groups(GROUPS),
                                 bind_dn=SERVICE_DN, bind_password=SERVICE_PASSWORD,
                                 branch_attribute="departmentNumber", ca_file=slapd.ca_file, timeout=5.0)
    return replace(settings, **changes)


class Counted:
    """The production connections, each one counted by whom it binds as."""

    def __init__(self, settings: DirectorySettings):
        self.real = ldap_signin.connection_factory(settings)
        self.opened: list[str | None] = []

    def __call__(self, user, password):  # noqa: ANN001, ANN204
        self.opened.append(user)
        return self.real(user, password)


@pytest.fixture
def directory(slapd):
    return Directory(_settings(slapd))


def _sign_in(engine, directory, email, password=PASSWORD, ip="198.51.100.7"):
    with engine.connect() as conn:
        return authenticate(conn, email, password, ip=ip, directory=directory)


def _refused(engine, directory, email, password="not the password", **kwargs) -> SignInError:
    with pytest.raises(SignInError) as err:
        _sign_in(engine, directory, email, password, **kwargs)
    return err.value


def _row(engine, email):
    with engine.connect() as conn:
        return conn.execute(select(UserRow).where(UserRow.email == email)).first()


def test_a_first_sign_in_binds_as_the_person_and_makes_a_directory_user_with_their_role_and_branch(
        engine, directory, slapd):
    email, _ = slapd.person([MARKETERS], department="north", display_name="Ann Marketer")
    user = _sign_in(engine, directory, email.upper())
    assert (user.email, user.role, user.branch, user.name) == (email, "marketer", "north", "Ann Marketer")
    assert _row(engine, email).password_hash == ldap_signin.MARKER
    with engine.connect() as conn:
        audited = [tuple(r) for r in conn.execute(select(AuditEntry.actor, AuditEntry.action).order_by(AuditEntry.id))]
        assert ldap_signin.directory_user_ids(conn) == {user.id}
    assert audited == [("ldap", "user.create"), (email, "user.sign_in")]


def test_the_role_and_branch_follow_the_directory_at_each_sign_in(engine, directory, slapd):
    email, dn = slapd.person([MARKETERS], department="north")
    assert _sign_in(engine, directory, email).role == "marketer"
    slapd.leave(dn, MARKETERS)
    slapd.join(dn, ANALYSTS)
    slapd.set_department(dn, "south")
    user = _sign_in(engine, directory, email)
    assert (user.role, user.branch) == ("analyst", "south")
    with engine.connect() as conn:
        update = conn.execute(select(AuditEntry.actor, AuditEntry.details).where(
            AuditEntry.action == "user.update")).one()
    assert update.actor == "ldap" and update.details["role"] == ["marketer", "analyst"]


def test_the_most_powerful_mapped_group_gives_the_role_whatever_the_case_and_spacing(engine, directory, slapd):
    both, _ = slapd.person([MARKETERS, ADMINS])
    analyst, _ = slapd.person([ANALYSTS])
    assert _sign_in(engine, directory, both).role == "admin"
    assert _sign_in(engine, directory, analyst).role == "analyst"


def test_a_person_in_no_mapped_group_is_refused_with_a_clear_message(engine, directory, slapd):
    email, _ = slapd.person([FINANCE])
    err = _refused(engine, directory, email, PASSWORD)
    assert (str(err), err.reason) == (NO_ROLE, "no_role") and _row(engine, email) is None


def test_a_wrong_password_an_unknown_person_and_an_ambiguous_email_get_the_local_answer(engine, directory, slapd):
    email, _ = slapd.person([MARKETERS])
    twin, _ = slapd.person([MARKETERS], mail="twin@engage.test")
    slapd.person([MARKETERS], mail=twin)
    assert _refused(engine, directory, email).reason == "wrong"
    assert str(_refused(engine, directory, "nobody@engage.test")) == WRONG
    assert _refused(engine, directory, twin, PASSWORD).reason == "wrong"  # two entries: nobody


@transport_only
def test_an_empty_password_is_refused_before_any_connection(engine, slapd):
    email, _ = slapd.person([MARKETERS])
    counted = Counted(_settings(slapd))
    directory = Directory(_settings(slapd), counted)
    _sign_in(engine, directory, email)
    counted.opened.clear()
    assert _refused(engine, directory, email, password="").reason == "wrong"
    assert counted.opened == []


@transport_only
def test_the_email_is_escaped_in_the_search_filter(engine, directory, slapd):
    email, _ = slapd.person([MARKETERS])
    assert _refused(engine, directory, "*@engage.test", PASSWORD).reason == "wrong"
    assert _refused(engine, directory, f"{email})(mail=*", PASSWORD).reason == "wrong"


def test_failures_lock_a_directory_user_and_the_lock_stops_asking_the_directory(engine, slapd):
    email, _ = slapd.person([MARKETERS])
    counted = Counted(_settings(slapd))
    directory = Directory(_settings(slapd), counted)
    _sign_in(engine, directory, email)
    for _ in range(5):
        _refused(engine, directory, email)
    counted.opened.clear()
    assert str(_refused(engine, directory, email, password=PASSWORD)) == LOCKED
    assert counted.opened == []


def test_an_unknown_email_is_locked_like_a_known_one(engine, directory):
    for _ in range(5):
        _refused(engine, directory, "nobody@engage.test")
    assert _refused(engine, directory, "nobody@engage.test").reason == "locked"


def test_the_per_address_limit_holds_for_directory_attempts(engine, directory, slapd, monkeypatch):
    email, _ = slapd.person([MARKETERS])
    monkeypatch.setenv("ENGAGE_LOGIN_IP_MAX_FAILURES", "3")
    for i in range(4):
        _refused(engine, directory, f"guess{i}@engage.test")
    assert str(_refused(engine, directory, email, password=PASSWORD)) == THROTTLED


def test_a_directory_user_disabled_in_engage_is_refused_after_the_right_password(engine, directory, slapd):
    email, _ = slapd.person([MARKETERS])
    _sign_in(engine, directory, email)
    with engine.begin() as conn:
        disable(conn, email, actor="root@engage.test")
    assert str(_refused(engine, directory, email, password=PASSWORD)) == DISABLED


def test_an_account_locked_in_the_directory_cannot_sign_in(engine, directory, slapd):
    email, dn = slapd.person([MARKETERS])
    _sign_in(engine, directory, email)
    slapd.lock(dn)
    assert _refused(engine, directory, email, password=PASSWORD).reason == "wrong"


def test_local_accounts_are_checked_locally_only(engine, slapd):
    email, _ = slapd.person([ADMINS])
    add_user(engine, email, "analyst")
    counted = Counted(_settings(slapd))
    directory = Directory(_settings(slapd), counted)
    assert _sign_in(engine, directory, email, LOCAL_PASSWORD).role == "analyst"
    assert _refused(engine, directory, email, PASSWORD).reason == "wrong"  # the directory's password
    assert counted.opened == []  # for the same email opens nothing: a directory entry cannot take it over


def test_a_new_local_password_makes_a_directory_user_local(engine, directory, slapd):
    email, _ = slapd.person([MARKETERS])
    _sign_in(engine, directory, email)
    with engine.begin() as conn:
        set_password(conn, email, LOCAL_PASSWORD, actor="root@engage.test")
    assert _sign_in(engine, directory, email, password=LOCAL_PASSWORD).role == "marketer"


# Transport security: LDAPS and StartTLS, verified against the CA of ENGAGE_LDAP_CA_FILE.

@transport_only
def test_ldaps_verified_against_the_test_ca_signs_in(engine, slapd):
    email, _ = slapd.person([ANALYSTS])
    assert _sign_in(engine, Directory(_settings(slapd)), email).role == "analyst"


@transport_only
def test_start_tls_verified_against_the_test_ca_signs_in(engine, slapd):
    email, _ = slapd.person([ANALYSTS])
    directory = Directory(_settings(slapd, url=slapd.ldap_url, start_tls=True))
    assert _sign_in(engine, directory, email).role == "analyst"


@transport_only
@pytest.mark.parametrize("transport", ["ldaps", "start_tls"])
def test_a_directory_whose_certificate_another_ca_signed_is_refused_as_unavailable(engine, slapd, transport):
    email, _ = slapd.person([ANALYSTS])
    url = slapd.ldaps_url if transport == "ldaps" else slapd.ldap_url
    directory = Directory(_settings(slapd, url=url, start_tls=transport == "start_tls", ca_file=slapd.other_ca_file))
    err = _refused(engine, directory, email, PASSWORD)
    assert (str(err), err.reason) == (UNAVAILABLE, "unavailable") and _row(engine, email) is None


# A directory that is down, silent or refuses engage.

def test_a_directory_that_is_down_is_a_clear_refusal_that_counts_no_failure(engine, slapd):
    email, _ = slapd.person([MARKETERS])
    down = Directory(_settings(slapd, url=f"ldap://127.0.0.1:{free_port()}"))
    add_user(engine, "root@engage.test", "admin")
    err = _refused(engine, down, email, password=PASSWORD)
    assert (str(err), err.reason) == (UNAVAILABLE, "unavailable")
    assert _sign_in(engine, down, "root@engage.test", LOCAL_PASSWORD).role == "admin"  # local accounts still work
    with engine.connect() as conn:
        reasons = conn.execute(select(LoginAttempt.reason).where(LoginAttempt.email == email)).all()
    assert [r[0] for r in reasons] == ["unavailable"]


@transport_only
def test_a_directory_that_never_answers_fails_the_sign_in_within_the_configured_timeout(
        engine, slapd, silent_directory):
    email, _ = slapd.person([MARKETERS])
    silent = Directory(_settings(slapd, url=silent_directory, timeout=0.5))
    started = time.monotonic()
    assert _refused(engine, silent, email, PASSWORD).reason == "unavailable"
    assert time.monotonic() - started < 2


def test_a_sign_in_waiting_for_the_directory_holds_no_database_lock(engine, slapd, silent_directory):
    """SQLite takes its write lock at a transaction's first statement: a sign-in that kept its
    transaction open while the directory hangs would stop every writer of the database."""
    email, _ = slapd.person([MARKETERS])
    add_user(engine, "root@engage.test", "admin")
    silent = Directory(_settings(slapd, url=silent_directory, timeout=3.0))
    waiting = threading.Thread(target=_refused, args=(engine, silent, email, PASSWORD))
    waiting.start()
    try:
        started = time.monotonic()
        with engine.connect() as conn:  # a local sign-in writes (the attempt, last_login_at) meanwhile
            assert authenticate(conn, "root@engage.test", LOCAL_PASSWORD, ip=None, directory=silent).role == "admin"
        assert time.monotonic() - started < 1.5 and waiting.is_alive()
    finally:
        waiting.join()


@transport_only
def test_a_refused_service_account_is_a_directory_error(engine, slapd):
    email, _ = slapd.person([MARKETERS])
    wrong = Directory(_settings(slapd, bind_password="not it"))
    assert _refused(engine, wrong, email, password=PASSWORD).reason == "unavailable"


@pytest.mark.parametrize(("spec", "words"), [("", "is needed"), ("boss=CN=x", "not role=group DN"),
                                             ("admin=", "not role=group DN")])
def test_bad_role_groups_are_named(spec, words):
    with pytest.raises(ValueError, match=words):
        parse_role_groups(spec)


@pytest.mark.parametrize(("attributes", "off"), [
    ({"userAccountControl": ["514"]}, True), ({"userAccountControl": ["512"]}, False),  # AD: 0x2 ACCOUNTDISABLE
    ({"nsAccountLock": ["TRUE"]}, True), ({"nsAccountLock": ["false"]}, False),  # 389 DS, FreeIPA
    ({"pwdAccountLockedTime": b"000001010000Z"}, True), ({"pwdAccountLockedTime": []}, False), ({}, False)])
def test_an_account_is_disabled_by_the_marks_of_active_directory_openldap_and_389_ds(attributes, off):
    """slapd shows only OpenLDAP's mark (pwdAccountLockedTime, as the re-check tests lock people);
    the other directories' marks are read from the attributes as ldap3 returns them."""
    assert ldap_signin.disabled(attributes) is off


# The first sign-in race.

class Meeting(Directory):
    """The real directory, where sign-ins wait for each other once it has answered them all: the
    moment two first sign-ins of one person would both make the local user."""

    def __init__(self, settings: DirectorySettings, parties: int):
        super().__init__(settings)
        self.barrier = threading.Barrier(parties, timeout=10)

    def check(self, email: str, password: str):  # noqa: ANN201
        found = super().check(email, password)
        self.barrier.wait()
        return found


def test_two_first_sign_ins_of_one_person_at_once_both_succeed_as_one_user(engine, slapd):
    email, _ = slapd.person([MARKETERS], department="north")
    directory = Meeting(_settings(slapd), 2)
    outcomes: list[object] = []

    def sign_in() -> None:
        try:
            outcomes.append(_sign_in(engine, directory, email))
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes.append(exc)

    threads = [threading.Thread(target=sign_in) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [type(o).__name__ for o in outcomes] == ["Account", "Account"], outcomes
    assert outcomes[0].id == outcomes[1].id and outcomes[0].role == "marketer"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(UserRow).where(UserRow.email == email)).scalar() == 1
        created = conn.execute(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "user.create")).scalar()
    assert created == 1


# Settings, and the web process.

def _directory_env(monkeypatch, slapd, **extra: str) -> None:
    for name, value in {"ENGAGE_LDAP_URL": slapd.ldaps_url, "ENGAGE_LDAP_BASE_DN": SUFFIX,
                        "ENGAGE_LDAP_BIND_DN": SERVICE_DN, "ENGAGE_LDAP_BIND_PASSWORD": SERVICE_PASSWORD,
                        "ENGAGE_LDAP_ROLE_GROUPS": GROUPS, "ENGAGE_LDAP_BRANCH_ATTRIBUTE": "departmentNumber",
                        "ENGAGE_LDAP_CA_FILE": slapd.ca_file, "ENGAGE_LDAP_RECHECK_SECONDS": "0", **extra}.items():
        monkeypatch.setenv(name, value)


def test_the_settings_come_from_the_environment_and_never_show_the_password(monkeypatch, slapd):
    _directory_env(monkeypatch, slapd, ENGAGE_LDAP_TIMEOUT="2.5", ENGAGE_LDAP_RECHECK_SECONDS="30")
    directory = ldap_signin.configured()
    assert directory.problem is None and directory.settings.role_groups[2] == ("analyst", ANALYSTS_AS_TYPED)
    assert (directory.settings.timeout, directory.settings.recheck) == (2.5, 30.0)
    assert SERVICE_PASSWORD not in repr(directory.settings)
    monkeypatch.delenv("ENGAGE_LDAP_URL")
    assert ldap_signin.configured() is None


@pytest.mark.parametrize(("name", "value"), [("ENGAGE_LDAP_TIMEOUT", "soon"), ("ENGAGE_LDAP_TIMEOUT", "0"),
                                             ("ENGAGE_LDAP_RECHECK_SECONDS", "-1"),
                                             ("ENGAGE_LDAP_CA_FILE", "/nonexistent/ca.pem"),
                                             ("ENGAGE_LDAP_URL", "ldap://127.0.0.1:port")])
def test_a_bad_timeout_recheck_interval_or_ca_file_is_named(monkeypatch, slapd, name, value):
    _directory_env(monkeypatch, slapd, **{name: value})
    assert name in ldap_signin.configured().problem


@transport_only
def test_misconfigured_settings_refuse_directory_users_but_not_local_ones(engine, monkeypatch, slapd):
    email, _ = slapd.person([MARKETERS])
    _directory_env(monkeypatch, slapd, ENGAGE_LDAP_ROLE_GROUPS="chief=CN=x")
    add_user(engine, "root@engage.test", "admin")
    with engine.connect() as conn:
        assert authenticate(conn, "root@engage.test", LOCAL_PASSWORD, ip=None).role == "admin"
        with pytest.raises(SignInError, match="cannot be reached"):
            authenticate(conn, email, PASSWORD, ip=None)


def test_the_sign_in_form_signs_in_a_directory_user_whose_token_then_works(engine, monkeypatch, slapd):
    email, _ = slapd.person([MARKETERS], department="north")
    outsider, _ = slapd.person([FINANCE])
    _directory_env(monkeypatch, slapd)
    with serving(engine) as base:
        browser = Browser(base)
        assert browser.sign_in(email, PASSWORD).status == 303
        assert f"{email} (marketer, north)" in browser.get("/campaigns").body
        assert Browser(base).sign_in(outsider, PASSWORD).status == 401
        user_id = _row(engine, email).id
        with engine.begin() as conn:
            secret = api_tokens.issue(conn, user_id, "sync", created_by="root@engage.test")
        api = Browser(base).request("GET", "/api/v1/segments", headers={"Authorization": f"Bearer {secret}"})
        assert api.status == 200
        monkeypatch.setenv("ENGAGE_LDAP_URL", f"ldap://127.0.0.1:{free_port()}")
        down = Browser(base).sign_in(email, PASSWORD)
    assert down.status == 503 and "cannot be reached" in down.body


@transport_only
def test_the_web_process_answers_while_a_sign_in_waits_for_a_silent_directory(
        engine, monkeypatch, slapd, silent_directory):
    email, _ = slapd.person([MARKETERS])
    _directory_env(monkeypatch, slapd, ENGAGE_LDAP_URL=silent_directory, ENGAGE_LDAP_TIMEOUT="2")
    with serving(engine) as base:
        waiting = threading.Thread(target=Browser(base).sign_in, args=(email, PASSWORD))
        waiting.start()
        try:
            started = time.monotonic()
            assert Browser(base).get("/login").status == 200
            assert time.monotonic() - started < 1 and waiting.is_alive()
        finally:
            waiting.join()


# Access follows the directory while a person is signed in (ENGAGE_LDAP_RECHECK_SECONDS).
