"""Signing in with a directory account, on both databases. There is no directory server here, so
ldap3's own in-memory server (the MOCK_SYNC strategy) stands in for it; engage's adapter does its
real work against it: the search with the escaped email, the bind as the person's DN, the mapping
of memberOf to a role. A directory that is down is a real SYNC connection to a closed port."""

from __future__ import annotations

import socket

import ldap3
import pytest
from sqlalchemy import select

from engage.engine.store.schema import AuditEntry, LoginAttempt
from engage.engine.store.schema import User as UserRow
from engage.engine.users import SignInError, api_tokens, authenticate, disable, ldap_signin, set_password
from engage.engine.users.ldap_signin import Directory, DirectorySettings, parse_role_groups
from engage.engine.users.signin import DISABLED, LOCKED, NO_ROLE, THROTTLED, UNAVAILABLE, WRONG
from tests.fixtures.web import PASSWORD, Browser, add_user, serving

BASE = "dc=example,dc=com"
SERVICE = "cn=engage-svc,ou=service,dc=example,dc=com"
SERVICE_PASSWORD = "service account secret"
ADMINS = "CN=engage-admins,OU=Groups,DC=example,DC=com"
MARKETERS = "CN=engage-marketers,OU=Groups,DC=example,DC=com"
ANALYSTS = "cn=engage-analysts, ou=Groups, dc=example, dc=com"  # as a person might type it
GROUPS = f"admin={ADMINS};marketer={MARKETERS};analyst={ANALYSTS}"
AD_PASSWORD = "directory password 1"
PRODUCTION_FACTORY = ldap_signin.connection_factory
pytestmark = pytest.mark.usefixtures("quick_hashes")


def _person(name: str, email: str, groups: list[str], **extra: str) -> tuple[str, dict]:
    return (f"cn={name},ou=people,{BASE}", {"objectClass": ["person", "user"], "cn": name, "mail": email,
                                            "userPassword": AD_PASSWORD, "memberOf": groups, **extra})


class MockDirectory:
    """ldap3's in-memory directory with a few people, and the connections engage makes to it counted."""

    def __init__(self) -> None:
        self.server = ldap3.Server("mock-dc")
        self.opened: list[str | None] = []
        seed = ldap3.Connection(self.server, user=SERVICE, password=SERVICE_PASSWORD, client_strategy=ldap3.MOCK_SYNC)
        seed.strategy.add_entry(SERVICE, {"objectClass": "person", "userPassword": SERVICE_PASSWORD})
        for dn, attributes in (
                _person("Ann", "ann@example.com", [MARKETERS], displayName="Ann Marketer", department="north"),
                _person("Bob", "bob@example.com", [MARKETERS, "CN=Engage-Admins, OU=Groups, DC=example, DC=com"]),
                _person("Cleo", "cleo@example.com", ["CN=engage-analysts,OU=Groups,DC=example,DC=com"]),
                _person("Carl", "carl@example.com", ["CN=finance,OU=Groups,DC=example,DC=com"]),
                _person("Twin1", "twin@example.com", [MARKETERS]), _person("Twin2", "twin@example.com", [MARKETERS]),
                _person("Lou", "local@example.com", [ADMINS])):
            seed.strategy.add_entry(dn, attributes)
        self.seed = seed

    def connect(self, user: str | None, password: str | None) -> ldap3.Connection:
        self.opened.append(user)
        return ldap3.Connection(self.server, user=user, password=password, client_strategy=ldap3.MOCK_SYNC)

    def set_groups(self, name: str, groups: list[str]) -> None:
        self.seed.bind()
        assert self.seed.modify(f"cn={name},ou=people,{BASE}", {"memberOf": [(ldap3.MODIFY_REPLACE, groups)]})


def _settings(url: str = "ldaps://dc.example.com") -> DirectorySettings:
    return DirectorySettings(url=url, base_dn=BASE, role_groups=parse_role_groups(GROUPS), bind_dn=SERVICE,
                             bind_password=SERVICE_PASSWORD, branch_attribute="department")


@pytest.fixture
def mock():
    return MockDirectory()


@pytest.fixture
def directory(mock):
    return Directory(_settings(), mock.connect)


def _sign_in(engine, directory, email="ann@example.com", password=AD_PASSWORD, ip="198.51.100.7"):
    with engine.connect() as conn:
        return authenticate(conn, email, password, ip=ip, directory=directory)


def _refused(engine, directory, email="ann@example.com", password="not the password", **kwargs) -> SignInError:
    with pytest.raises(SignInError) as err:
        _sign_in(engine, directory, email, password, **kwargs)
    return err.value


def _row(engine, email="ann@example.com"):
    with engine.connect() as conn:
        return conn.execute(select(UserRow).where(UserRow.email == email)).first()


def test_a_first_sign_in_makes_a_directory_user_with_the_role_and_branch_of_the_directory(engine, directory):
    user = _sign_in(engine, directory, "Ann@Example.com")
    assert (user.email, user.role, user.branch, user.name) == ("ann@example.com", "marketer", "north", "Ann Marketer")
    assert _row(engine).password_hash == ldap_signin.MARKER
    with engine.connect() as conn:
        audited = [tuple(r) for r in conn.execute(select(AuditEntry.actor, AuditEntry.action).order_by(AuditEntry.id))]
        assert ldap_signin.directory_user_ids(conn) == {user.id}
    assert audited == [("ldap", "user.create"), ("ann@example.com", "user.sign_in")]


def test_the_role_follows_the_directory_at_each_sign_in(engine, directory, mock):
    assert _sign_in(engine, directory).role == "marketer"
    mock.set_groups("Ann", [ANALYSTS.upper()])
    assert _sign_in(engine, directory).role == "analyst"
    with engine.connect() as conn:
        update = conn.execute(select(AuditEntry.actor, AuditEntry.details).where(
            AuditEntry.action == "user.update")).one()
    assert update.actor == "ldap" and update.details["role"] == ["marketer", "analyst"]


def test_the_most_powerful_mapped_group_gives_the_role_whatever_the_case_and_spacing(engine, directory):
    assert _sign_in(engine, directory, "bob@example.com").role == "admin"
    assert _sign_in(engine, directory, "cleo@example.com").role == "analyst"


def test_a_person_in_no_mapped_group_is_refused_with_a_clear_message(engine, directory):
    err = _refused(engine, directory, "carl@example.com", AD_PASSWORD)
    assert (str(err), err.reason) == (NO_ROLE, "no_role") and _row(engine, "carl@example.com") is None


def test_a_wrong_password_and_an_unknown_person_get_the_local_answer(engine, directory):
    assert _refused(engine, directory).reason == "wrong"
    assert str(_refused(engine, directory, "nobody@example.com")) == WRONG
    assert _refused(engine, directory, "twin@example.com", AD_PASSWORD).reason == "wrong"  # ambiguous: nobody


def test_an_empty_password_is_refused_before_any_bind(engine, directory, mock):
    _sign_in(engine, directory)
    mock.opened.clear()
    assert _refused(engine, directory, password="").reason == "wrong"
    assert mock.opened == []


def test_the_email_is_escaped_in_the_search_filter(engine, directory):
    assert _refused(engine, directory, "*@example.com", AD_PASSWORD).reason == "wrong"
    assert _refused(engine, directory, "ann@example.com)(mail=*", AD_PASSWORD).reason == "wrong"


def test_failures_lock_a_directory_user_and_the_lock_stops_asking_the_directory(engine, directory, mock):
    _sign_in(engine, directory)
    for _ in range(5):
        _refused(engine, directory)
    mock.opened.clear()
    assert str(_refused(engine, directory, password=AD_PASSWORD)) == LOCKED
    assert mock.opened == []


def test_an_unknown_email_is_locked_like_a_known_one(engine, directory):
    for _ in range(5):
        _refused(engine, directory, "nobody@example.com")
    assert _refused(engine, directory, "nobody@example.com").reason == "locked"


def test_the_per_address_limit_holds_for_directory_attempts(engine, directory, monkeypatch):
    monkeypatch.setenv("ENGAGE_LOGIN_IP_MAX_FAILURES", "3")
    for i in range(4):
        _refused(engine, directory, f"guess{i}@example.com")
    assert str(_refused(engine, directory, password=AD_PASSWORD)) == THROTTLED


def test_a_disabled_directory_user_is_refused_after_the_right_password(engine, directory):
    _sign_in(engine, directory)
    with engine.begin() as conn:
        disable(conn, "ann@example.com", actor="root@example.com")
    assert str(_refused(engine, directory, password=AD_PASSWORD)) == DISABLED


def test_local_accounts_are_checked_locally_only(engine, directory, mock):
    add_user(engine, "local@example.com", "analyst")
    mock.opened.clear()
    assert _sign_in(engine, directory, "local@example.com", PASSWORD).role == "analyst"
    assert _refused(engine, directory, "local@example.com", AD_PASSWORD).reason == "wrong"  # the directory's
    assert mock.opened == []  # password for the same email opens nothing: a directory entry cannot take it over


def test_a_new_local_password_makes_a_directory_user_local(engine, directory):
    _sign_in(engine, directory)
    with engine.begin() as conn:
        set_password(conn, "ann@example.com", PASSWORD, actor="root@example.com")
    assert _sign_in(engine, directory, password=PASSWORD).role == "marketer"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_directory_that_is_down_is_a_clear_refusal_that_counts_no_failure(engine):
    down = Directory(_settings(f"ldap://127.0.0.1:{_closed_port()}"))  # the production SYNC connection
    add_user(engine, "root@example.com", "admin")
    err = _refused(engine, down, password=AD_PASSWORD)
    assert (str(err), err.reason) == (UNAVAILABLE, "unavailable")
    assert _sign_in(engine, down, "root@example.com", PASSWORD).role == "admin"  # local accounts still work
    with engine.connect() as conn:
        reasons = conn.execute(select(LoginAttempt.reason).where(LoginAttempt.email == "ann@example.com")).all()
    assert [r[0] for r in reasons] == ["unavailable"]


def test_a_refused_service_account_is_a_directory_error(engine, mock):
    wrong = DirectorySettings(url="ldaps://dc", base_dn=BASE, role_groups=parse_role_groups(GROUPS),
                              bind_dn=SERVICE, bind_password="not it")
    assert _refused(engine, Directory(wrong, mock.connect), password=AD_PASSWORD).reason == "unavailable"


@pytest.mark.parametrize(("spec", "words"), [("", "is needed"), ("boss=CN=x", "not role=group DN"),
                                             ("admin=", "not role=group DN")])
def test_bad_role_groups_are_named(spec, words):
    with pytest.raises(ValueError, match=words):
        parse_role_groups(spec)


def _directory_env(monkeypatch, mock, **extra: str) -> None:
    for name, value in {"ENGAGE_LDAP_URL": "ldaps://dc.example.com", "ENGAGE_LDAP_BASE_DN": BASE,
                        "ENGAGE_LDAP_BIND_DN": SERVICE, "ENGAGE_LDAP_BIND_PASSWORD": SERVICE_PASSWORD,
                        "ENGAGE_LDAP_ROLE_GROUPS": GROUPS, "ENGAGE_LDAP_BRANCH_ATTRIBUTE": "department",
                        **extra}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(ldap_signin, "connection_factory", lambda settings: mock.connect)


def test_the_settings_come_from_the_environment_and_never_show_the_password(monkeypatch, mock):
    _directory_env(monkeypatch, mock)
    directory = ldap_signin.configured()
    assert directory.settings.role_groups[2] == ("analyst", ANALYSTS) and directory.problem is None
    assert SERVICE_PASSWORD not in repr(directory.settings)
    monkeypatch.delenv("ENGAGE_LDAP_URL")
    assert ldap_signin.configured() is None


def test_misconfigured_settings_refuse_directory_users_but_not_local_ones(engine, monkeypatch, mock):
    _directory_env(monkeypatch, mock, ENGAGE_LDAP_ROLE_GROUPS="chief=CN=x")
    add_user(engine, "root@example.com", "admin")
    with engine.connect() as conn:
        assert authenticate(conn, "root@example.com", PASSWORD, ip=None).role == "admin"
        with pytest.raises(SignInError, match="cannot be reached"):
            authenticate(conn, "ann@example.com", AD_PASSWORD, ip=None)


def test_the_sign_in_form_signs_in_a_directory_user_whose_token_then_works(engine, monkeypatch, mock):
    _directory_env(monkeypatch, mock)
    with serving(engine) as base:
        browser = Browser(base)
        reply = browser.sign_in("ann@example.com", AD_PASSWORD)
        assert reply.status == 303
        assert "ann@example.com (marketer, north)" in browser.get("/campaigns").body
        assert browser.sign_in("carl@example.com", AD_PASSWORD).status == 401
        ann = _row(engine).id
        with engine.begin() as conn:
            secret = api_tokens.issue(conn, ann, "sync", created_by="root@example.com")
        api = Browser(base).request("GET", "/api/v1/segments", headers={"Authorization": f"Bearer {secret}"})
        assert api.status == 200
        monkeypatch.setenv("ENGAGE_LDAP_URL", f"ldap://127.0.0.1:{_closed_port()}")
        monkeypatch.setattr(ldap_signin, "connection_factory", PRODUCTION_FACTORY)
        down = Browser(base).sign_in("ann@example.com", AD_PASSWORD)
    assert down.status == 503 and "cannot be reached" in down.body
