"""Accounts, passwords, lockout, the per-address limit and sessions, on both databases; and the
`engage user` commands."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher, Type
from sqlalchemy import select, update

from engage.cli import main
from engage.engine.store.schema import AuditEntry, LoginAttempt, UserSession
from engage.engine.store.schema import User as UserRow
from engage.engine.users import (
    SignInError,
    UserError,
    accounts,
    authenticate,
    create_user,
    disable,
    enable,
    ensure_user,
    list_users,
    sessions,
    set_password,
    unlock,
)
from engage.engine.users.signin import LOCKED, THROTTLED, WRONG

PRODUCTION_HASHER = accounts.hasher
PASSWORD = "correct horse battery"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
pytestmark = pytest.mark.usefixtures("quick_hashes")


def _user(engine, email="ann@example.com", role="marketer", **kwargs):
    with engine.begin() as conn:
        return create_user(conn, email, role, password=kwargs.pop("password", PASSWORD), actor="admin@example.com",
                           **kwargs)


def _sign_in(engine, email="ann@example.com", password=PASSWORD, *, ip="198.51.100.7", now=NOW):
    with engine.connect() as conn:
        return authenticate(conn, email, password, ip=ip, now=now)


def _refused(engine, email="ann@example.com", password="not the password", **kwargs) -> SignInError:
    with pytest.raises(SignInError) as err:
        _sign_in(engine, email, password, **kwargs)
    return err.value


def _stored_hash(engine, email="ann@example.com") -> str:
    with engine.connect() as conn:
        return conn.execute(select(UserRow.password_hash).where(UserRow.email == email)).scalar_one()


def test_a_user_is_created_with_a_lower_cased_email_and_listed_without_a_hash(engine):
    _user(engine, " Ann@Example.COM ", "approver", branch="north", name="Ann")
    with engine.connect() as conn:
        listed = [u.as_dict() for u in list_users(conn)]
    assert [(u["email"], u["role"], u["branch"], u["name"], u["active"]) for u in listed] == [
        ("ann@example.com", "approver", "north", "Ann", True)]
    assert "password_hash" not in listed[0] and "argon2" not in json.dumps(listed)


def test_the_password_is_stored_only_as_an_argon2id_hash(engine):
    _user(engine)
    stored = _stored_hash(engine)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert PasswordHasher().verify(stored, PASSWORD)


def test_passwords_are_hashed_with_argon2id_at_the_recommended_cost():
    assert PRODUCTION_HASHER.type is Type.ID
    assert (PRODUCTION_HASHER.memory_cost, PRODUCTION_HASHER.time_cost) >= (65536, 3)


@pytest.mark.parametrize(("email", "role", "password", "field", "words"), [
    ("not-an-email", "marketer", PASSWORD, "email", "is not an email address"),
    ("", "marketer", PASSWORD, "email", "an email address is needed"),
    ("bob@example.com", "boss", PASSWORD, "role", "one of admin, marketer, approver, analyst, support, partner"),
    ("bob@example.com", "marketer", "short", "password", "at least 10 characters"),
])
def test_a_bad_value_is_refused_with_a_message_naming_the_field(engine, email, role, password, field, words):
    with pytest.raises(UserError) as err, engine.begin() as conn:
        create_user(conn, email, role, password=password, actor="t")
    assert err.value.field == field
    assert str(err.value).startswith(f"{field}: ") and words in str(err.value)
    with engine.connect() as conn:
        assert list_users(conn) == []


def test_an_email_is_taken_once_whatever_its_case(engine):
    _user(engine)
    with pytest.raises(UserError, match="email: a user with the email 'ann@example.com' already exists"):
        _user(engine, "ANN@example.com")


def test_the_right_password_signs_in_and_the_time_is_recorded(engine):
    _user(engine, role="analyst")
    user = _sign_in(engine, "ANN@example.com ")
    assert (user.email, user.role, user.last_login_at) == ("ann@example.com", "analyst", NOW)


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(engine):
    _user(engine)
    known, unknown = _refused(engine), _refused(engine, "nobody@example.com")
    assert str(known) == str(unknown) == WRONG
    assert known.reason == unknown.reason == "wrong"


def test_every_attempt_is_recorded_even_though_authenticate_raises(engine):
    _user(engine)
    _refused(engine)
    _sign_in(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(LoginAttempt.ip, LoginAttempt.email, LoginAttempt.ok, LoginAttempt.reason)
                            .order_by(LoginAttempt.id)).all()
    assert [tuple(r) for r in rows] == [("198.51.100.7", "ann@example.com", False, "wrong"),
                                        ("198.51.100.7", "ann@example.com", True, None)]


def test_five_failures_in_a_row_lock_the_account_even_against_the_right_password(engine):
    _user(engine)
    for i in range(5):
        assert str(_refused(engine, now=NOW + timedelta(seconds=i))) == WRONG
    locked = _refused(engine, password=PASSWORD, now=NOW + timedelta(minutes=1))
    assert (str(locked), locked.reason, locked.retry_after) == (LOCKED, "locked", None)


def test_the_lock_runs_out_after_15_minutes(engine):
    _user(engine)
    for _ in range(5):
        _refused(engine)
    _refused(engine, password=PASSWORD, now=NOW + timedelta(minutes=14, seconds=59))
    assert _sign_in(engine, now=NOW + timedelta(minutes=15)).failed_logins == 0


def test_a_success_starts_the_count_of_failures_again(engine):
    _user(engine)
    for _ in range(4):
        _refused(engine)
    _sign_in(engine)
    for _ in range(4):
        _refused(engine)
    assert _sign_in(engine).email == "ann@example.com"


def test_an_unknown_email_is_locked_like_a_known_one(engine):
    _user(engine)
    for _ in range(5):
        _refused(engine)
        _refused(engine, "nobody@example.com")
    known, unknown = _refused(engine), _refused(engine, "nobody@example.com")
    assert (str(known), known.reason) == (str(unknown), unknown.reason) == (LOCKED, "locked")


def test_an_administrator_can_lift_a_lock(engine):
    _user(engine)
    for _ in range(5):
        _refused(engine)
    with engine.begin() as conn:
        unlock(conn, "ann@example.com", actor="admin@example.com")
    assert _sign_in(engine).email == "ann@example.com"


def test_more_than_20_failures_from_one_address_refuse_it_for_10_minutes(engine):
    _user(engine)
    for i in range(21):  # many emails, so that no account lock is involved
        assert str(_refused(engine, f"guess{i}@example.com", ip="203.0.113.9",
                            now=NOW + timedelta(seconds=i))) == WRONG
    refused = _refused(engine, password=PASSWORD, ip="203.0.113.9", now=NOW + timedelta(minutes=5))
    assert (str(refused), refused.reason) == (THROTTLED, "throttled")
    assert refused.retry_after == pytest.approx(5 * 60 + 20)
    assert _sign_in(engine, ip="203.0.113.10", now=NOW + timedelta(minutes=5)).email == "ann@example.com"
    assert _sign_in(engine, ip="203.0.113.9", now=NOW + timedelta(minutes=10, seconds=20)).email == "ann@example.com"


def test_20_failures_within_10_minutes_do_not_block_an_address(engine):
    _user(engine)
    for i in range(20):
        _refused(engine, f"guess{i}@example.com", ip="203.0.113.9", now=NOW + timedelta(seconds=i))
    assert _sign_in(engine, ip="203.0.113.9", now=NOW + timedelta(minutes=1)).email == "ann@example.com"


def test_the_limits_come_from_the_environment(engine, monkeypatch):
    monkeypatch.setenv("ENGAGE_LOGIN_MAX_FAILURES", "2")
    monkeypatch.setenv("ENGAGE_LOGIN_LOCK_MINUTES", "1")
    _user(engine)
    _refused(engine)
    _refused(engine)
    assert _refused(engine, password=PASSWORD).reason == "locked"
    assert _sign_in(engine, now=NOW + timedelta(minutes=1)).email == "ann@example.com"


def test_a_disabled_user_cannot_sign_in_until_enabled_again(engine):
    _user(engine)
    with engine.begin() as conn:
        assert disable(conn, "ann@example.com", actor="admin@example.com").active is False
    assert _refused(engine, password=PASSWORD).reason == "disabled"
    assert _refused(engine).reason == "wrong"  # the wrong password does not learn that the account is disabled
    with engine.begin() as conn:
        enable(conn, "ann@example.com", actor="admin@example.com")
    assert _sign_in(engine).active


def test_an_admin_may_not_disable_their_own_account(engine):
    with engine.begin() as conn:
        create_user(conn, "root@example.com", "admin", password=PASSWORD, actor="setup")
        create_user(conn, "other@example.com", "admin", password=PASSWORD, actor="setup")
    with pytest.raises(UserError, match="you cannot disable your own account"), engine.begin() as conn:
        disable(conn, "root@example.com", actor="Root@example.com")
    with engine.connect() as conn:
        assert {u.email: u.active for u in list_users(conn)}["root@example.com"] is True


def test_the_last_active_admin_may_not_be_disabled(engine):
    with engine.begin() as conn:
        create_user(conn, "root@example.com", "admin", password=PASSWORD, actor="setup")
        create_user(conn, "other@example.com", "admin", password=PASSWORD, actor="setup")
        disable(conn, "other@example.com", actor="root@example.com")
    with pytest.raises(UserError, match="root@example.com is the last active admin"), engine.begin() as conn:
        disable(conn, "root@example.com", actor="cli")


def test_a_hash_made_with_other_parameters_is_replaced_at_the_next_sign_in(engine, monkeypatch):
    _user(engine)
    old = _stored_hash(engine)
    monkeypatch.setattr(accounts, "hasher", PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    _sign_in(engine)
    new = _stored_hash(engine)
    assert new != old and "m=2048,t=2,p=1" in new and "m=1024,t=1,p=1" in old
    assert _sign_in(engine).email == "ann@example.com"
    assert _stored_hash(engine) == new


def test_a_new_password_replaces_the_old_one_and_ends_the_sessions(engine):
    user = _user(engine)
    with engine.begin() as conn:
        token = sessions.start(conn, user, now=NOW)
        set_password(conn, "ann@example.com", "a whole new password", actor="admin@example.com")
        assert sessions.resolve(conn, token, now=NOW) is None
    assert _refused(engine, password=PASSWORD).reason == "wrong"
    assert _sign_in(engine, password="a whole new password").email == "ann@example.com"


def test_every_change_is_audited_without_the_password_or_its_hash(engine):
    _user(engine)
    _sign_in(engine)
    with engine.begin() as conn:
        set_password(conn, "ann@example.com", "a whole new password", actor="admin@example.com")
        disable(conn, "ann@example.com", actor="admin@example.com")
        enable(conn, "ann@example.com", actor="admin@example.com")
    with engine.connect() as conn:
        entries = conn.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.details)
                               .where(AuditEntry.object_type == "user").order_by(AuditEntry.id)).all()
    assert [(e.actor, e.action) for e in entries] == [
        ("admin@example.com", "user.create"), ("ann@example.com", "user.sign_in"),
        ("admin@example.com", "user.set_password"), ("admin@example.com", "user.disable"),
        ("admin@example.com", "user.enable")]
    text = json.dumps([e.details for e in entries])
    assert PASSWORD not in text and "a whole new password" not in text and "argon2" not in text


def test_ensure_user_creates_the_user_once_and_leaves_an_existing_one_alone(engine):
    with engine.begin() as conn:
        first = ensure_user(conn, "demo@example.com", "admin", PASSWORD, "demo")
        again = ensure_user(conn, "Demo@example.com", "analyst", "another password", "demo")
    assert first == again and again.role == "admin"
    assert _sign_in(engine, "demo@example.com").role == "admin"


def test_a_session_keeps_only_the_sha256_of_its_token(engine):
    user = _user(engine)
    with engine.begin() as conn:
        token = sessions.start(conn, user, ip="198.51.100.7", user_agent="pytest", now=NOW)
        stored = conn.execute(select(UserSession.token_hash)).scalar_one()
        assert sessions.resolve(conn, token, now=NOW).email == "ann@example.com"
    assert len(token) >= 43 and token not in stored and stored == sessions.token_hash(token)


def test_a_session_ends_after_30_minutes_without_use(engine):
    user = _user(engine)
    with engine.begin() as conn:
        token = sessions.start(conn, user, now=NOW)
        assert sessions.resolve(conn, token, now=NOW + timedelta(minutes=29)) is not None
        assert sessions.resolve(conn, token, now=NOW + timedelta(minutes=58)) is not None
        assert sessions.resolve(conn, token, now=NOW + timedelta(minutes=88)) is None


def test_use_refreshes_a_session_at_most_once_a_minute(engine):
    user = _user(engine)
    with engine.begin() as conn:
        token = sessions.start(conn, user, now=NOW)
        for seconds in (10, 30, 59, 61, 90):
            sessions.resolve(conn, token, now=NOW + timedelta(seconds=seconds))
        seen = conn.execute(select(UserSession.last_seen_at)).scalar_one()
    assert seen.replace(tzinfo=UTC) == NOW + timedelta(seconds=61)


def test_a_session_ends_12_hours_after_sign_in_however_much_it_is_used(engine):
    user = _user(engine)
    with engine.begin() as conn:
        token = sessions.start(conn, user, now=NOW)
        for minutes in range(20, 12 * 60, 20):
            assert sessions.resolve(conn, token, now=NOW + timedelta(minutes=minutes)) is not None
        assert sessions.resolve(conn, token, now=NOW + timedelta(hours=12)) is None


def test_disabling_a_user_ends_their_sessions(engine):
    user = _user(engine)
    with engine.begin() as conn:
        token = sessions.start(conn, user, now=NOW)
        disable(conn, "ann@example.com", actor="admin@example.com")
        conn.execute(update(UserRow.__table__).values(active=True))  # even re-enabled, the session is gone
        assert sessions.resolve(conn, token, now=NOW) is None


# `engage user ...`, in process against the test database


@pytest.fixture
def cli(engine, monkeypatch, tmp_path):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / ".engage"))
    return engine


def test_the_cli_creates_a_user_with_the_password_from_an_environment_variable(cli, capsys, monkeypatch):
    monkeypatch.setenv("NEW_PW", PASSWORD)
    assert main(["user", "create", "--email", "Ops@Example.com", "--role", "admin", "--name", "Ops",
                 "--password-env", "NEW_PW"]) == 0
    created = json.loads(capsys.readouterr().out)
    assert (created["email"], created["role"], created["name"]) == ("ops@example.com", "admin", "Ops")
    assert _sign_in(cli, "ops@example.com").role == "admin"


def test_the_cli_reads_a_password_from_stdin_and_lists_users_without_hashes(cli, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert main(["user", "create", "--email", "n@example.com", "--role", "marketer", "--branch", "north",
                 "--password-stdin"]) == 0
    capsys.readouterr()
    assert main(["user", "list"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["branch"] == "north"
    assert "argon2" not in out and PASSWORD not in out
    assert _sign_in(cli, "n@example.com").branch == "north"


def test_the_cli_has_no_password_argument(cli, capsys):
    with pytest.raises(SystemExit):
        main(["user", "create", "--email", "x@example.com", "--role", "admin", "--password", PASSWORD])
    assert "--password" in capsys.readouterr().err


def test_the_cli_names_a_bad_field(cli, monkeypatch):
    monkeypatch.setenv("NEW_PW", "short")
    with pytest.raises(SystemExit, match="error: password: at least 10 characters"):
        main(["user", "create", "--email", "x@example.com", "--role", "admin", "--password-env", "NEW_PW"])


def test_the_cli_disables_enables_and_sets_a_password(cli, capsys, monkeypatch):
    _user(cli)
    assert main(["user", "disable", "ann@example.com"]) == 0
    assert json.loads(capsys.readouterr().out)["active"] is False
    assert main(["user", "enable", "ann@example.com"]) == 0
    monkeypatch.setenv("NEW_PW", "a whole new password")
    assert main(["user", "set-password", "ann@example.com", "--password-env", "NEW_PW"]) == 0
    assert _sign_in(cli, password="a whole new password").active
    with pytest.raises(SystemExit, match="error: user: no user with the email 'nobody@example.com'"):
        main(["user", "disable", "nobody@example.com"])
