"""Checking a password at sign-in, with lockout and the per-address limit (engine.users.throttle).

Whatever goes wrong, the answer does not tell whether the email names an account: an unknown
email gets the same message, the same lockout and about the same time (a hash is checked either
way) as a known one with a wrong password.

With a directory configured (engine.users.ldap_signin, ENGAGE_LDAP_URL), an email of a directory
user, or one that names no account, is checked by the directory, under the same per-address limit
and the same lockout; a local account (one with a local password) is checked locally only, never
by the directory, so that a directory entry claiming its email cannot take it over, and a local
administrator can still sign in while the directory is down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, select, update

from engage.engine.audit import audit
from engage.engine.store.schema import User as UserRow
from engage.engine.users import accounts, ldap_signin, throttle
from engage.engine.users.accounts import Account

WRONG = "wrong email or password"
LOCKED = "too many failed sign-ins for this email; try again later"
THROTTLED = "too many failed sign-ins from this address; try again later"
DISABLED = "this account is disabled; ask an administrator"
NO_ROLE = "your directory account is in none of engage's groups; ask an administrator for access"
UNAVAILABLE = "the directory cannot be reached to check your password; try again later"

_DUMMY_HASH: str | None = None
log = logging.getLogger(__name__)


class SignInError(Exception):
    """Sign-in refused. str() is what the person may be told; ``reason`` (wrong, locked, throttled,
    disabled; with a directory also no_role and unavailable) and ``retry_after`` (seconds, for an
    address refused a while) are for the caller's status and headers."""

    def __init__(self, message: str, reason: str, retry_after: float | None = None):
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after


def _verify(password_hash: str | None, password: str) -> bool:
    """The argon2 check; without a hash, one against a dummy, so unknown emails take as long."""
    global _DUMMY_HASH
    if password_hash is None:
        if _DUMMY_HASH is None or accounts.hasher.check_needs_rehash(_DUMMY_HASH):
            _DUMMY_HASH = accounts.hasher.hash("not anyone's password")
        password_hash = _DUMMY_HASH
    try:
        return accounts.hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_CONFIGURED = object()


def authenticate(conn: Connection, email: str, password: str, *, ip: str | None, now: datetime | None = None,
                 directory: ldap_signin.Directory | None | object = _CONFIGURED) -> Account:
    """The user these credentials sign in, or SignInError. ``directory``: the directory to ask (tests
    pass one on ldap3's mock); by default the ENGAGE_LDAP_* one, if any.

    Commits: what it records (the attempt, the failure count, a lock) must outlive the SignInError
    it raises, so ``conn`` is a connection from ``engine.connect()`` (commit as you go)."""
    now = throttle.utc(now or datetime.now(UTC))
    rules = throttle.policy()
    key = email.strip().lower() if isinstance(email, str) else ""
    password = password if isinstance(password, str) else ""
    throttle.prune(conn, now, rules)

    def refuse(message: str, reason: str, retry_after: float | None = None) -> SignInError:
        throttle.record(conn, ip=ip, email=key, ok=False, reason=reason, now=now)
        conn.commit()
        return SignInError(message, reason, retry_after)

    blocked = throttle.ip_blocked_until(conn, ip, now, rules)
    if blocked is not None:
        raise refuse(THROTTLED, "throttled", (blocked - now).total_seconds())
    row = conn.execute(select(UserRow.id, UserRow.password_hash, UserRow.locked_until, UserRow.active)
                       .where(UserRow.email == key)).first() if len(key) <= 254 else None
    if directory is _CONFIGURED:
        directory = ldap_signin.configured()
    if isinstance(directory, ldap_signin.Directory) and (
            row is None or ldap_signin.is_directory_user(row.password_hash)) and accounts.EMAIL.match(key):
        if row is None and throttle.unknown_email_locked(conn, key, now, rules):
            raise refuse(LOCKED, "locked")
        if row is not None and row.locked_until is not None and throttle.utc(row.locked_until) > now:
            raise refuse(LOCKED, "locked")
        return _directory_sign_in(conn, directory, key, password, row, ip=ip, now=now, rules=rules, refuse=refuse)
    if row is None:
        _verify(None, password)
        if throttle.unknown_email_locked(conn, key, now, rules):
            raise refuse(LOCKED, "locked")
        raise refuse(WRONG, "wrong")
    if row.locked_until is not None and throttle.utc(row.locked_until) > now:
        _verify(None, password)
        raise refuse(LOCKED, "locked")  # no time left given: an unknown email could not say the same
    if len(password) > accounts.MAX_PASSWORD or not _verify(row.password_hash, password):
        _count_failure(conn, row.id, key, ip, now, rules)
        raise refuse(WRONG, "wrong")
    if not row.active:
        raise refuse(DISABLED, "disabled")
    values: dict[str, object] = {"failed_logins": 0, "locked_until": None, "last_login_at": now}
    if accounts.hasher.check_needs_rehash(row.password_hash):
        values["password_hash"] = accounts.hasher.hash(password)
        audit(conn, key, "user.rehash", "user", row.id, email=key)
    conn.execute(update(UserRow.__table__).where(UserRow.id == row.id).values(**values))
    throttle.record(conn, ip=ip, email=key, ok=True, reason=None, now=now)
    audit(conn, key, "user.sign_in", "user", row.id, email=key, ip=ip)
    conn.commit()
    user = accounts.get_user_by_id(conn, row.id)
    assert user is not None
    return user


def _directory_sign_in(conn: Connection, directory: ldap_signin.Directory, key: str, password: str, row: Any, *,
                       ip: str | None, now: datetime, rules: throttle.Policy,
                       refuse: Callable[[str, str], SignInError]) -> Account:
    """The directory's half of authenticate: a wrong password counts towards the lock as a local one
    does; a directory that cannot answer does not (nor does a person in no mapped group). No
    transaction is open while the directory is asked: on SQLite it would hold the database's write
    lock for as long as the directory takes."""
    conn.commit()
    found = None
    if password and len(password) <= accounts.MAX_PASSWORD:  # never an empty password: an anonymous bind
        try:
            found = directory.check(key, password)
        except ldap_signin.DirectoryError as exc:
            log.warning("directory sign-in unavailable: %s", exc)
            raise refuse(UNAVAILABLE, "unavailable") from None
    if found is None:
        if row is not None:
            _count_failure(conn, row.id, key, ip, now, rules)
        raise refuse(WRONG, "wrong")
    if found.role is None:
        log.info("directory sign-in refused: %s is in none of the groups of ENGAGE_LDAP_ROLE_GROUPS", key)
        raise refuse(NO_ROLE, "no_role")
    if row is not None and not row.active:
        raise refuse(DISABLED, "disabled")
    user_id = ldap_signin.provision(conn, key, found, row, now=now)
    if user_id is None:
        raise refuse(WRONG, "wrong")
    conn.execute(update(UserRow.__table__).where(UserRow.id == user_id).values(
        failed_logins=0, locked_until=None, last_login_at=now))
    throttle.record(conn, ip=ip, email=key, ok=True, reason=None, now=now)
    audit(conn, key, "user.sign_in", "user", user_id, email=key, ip=ip, via="directory")
    conn.commit()
    user = accounts.get_user_by_id(conn, user_id)
    assert user is not None
    return user


def _count_failure(conn: Connection, user_id: int, email: str, ip: str | None, now: datetime,
                   rules: throttle.Policy) -> None:
    """One more failure in a row, counted in the database so that concurrent processes add up;
    at max_failures the account is locked and the count starts again."""
    failures = conn.execute(update(UserRow.__table__).where(UserRow.id == user_id)
                            .values(failed_logins=UserRow.failed_logins + 1)
                            .returning(UserRow.failed_logins)).scalar_one()
    if failures >= rules.max_failures:
        conn.execute(update(UserRow.__table__).where(UserRow.id == user_id)
                     .values(failed_logins=0, locked_until=now + rules.lock))
        audit(conn, "engage", "user.lock", "user", user_id, email=email, ip=ip, failures=failures,
              until=(now + rules.lock).isoformat())
