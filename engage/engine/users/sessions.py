"""Signed-in sessions. The browser holds a random token (secrets.token_urlsafe(32)); the database
holds only its SHA-256, so a copy of the table opens no session. A session ends after
ENGAGE_SESSION_IDLE_MINUTES (30) without use and ENGAGE_SESSION_MAX_HOURS (12) after sign-in,
whichever comes first; use refreshes it at most once a minute. Disabling a user or setting their
password ends their sessions, as the directory no longer letting a directory user in does
(engine.users.directory_recheck)."""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, insert, or_, select, update

from engage.engine.audit import audit
from engage.engine.store.schema import User as UserRow
from engage.engine.store.schema import UserSession
from engage.engine.users import directory_recheck
from engage.engine.users.accounts import PUBLIC_COLUMNS, Account, from_row
from engage.engine.users.throttle import utc

REFRESH_EVERY = timedelta(minutes=1)


def _minutes(name: str, default: float, unit: timedelta) -> timedelta:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = 0
    if value <= 0:
        raise ValueError(f"{name} must be a positive number, got {raw!r}")
    return value * unit


def idle_timeout() -> timedelta:
    return _minutes("ENGAGE_SESSION_IDLE_MINUTES", 30, timedelta(minutes=1))


def max_age() -> timedelta:
    return _minutes("ENGAGE_SESSION_MAX_HOURS", 12, timedelta(hours=1))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(conn: Connection, user: Account, *, ip: str | None = None, user_agent: str | None = None,
          now: datetime | None = None) -> str:
    """A new session for a user who just signed in; returns the token for the cookie (shown once)."""
    now = utc(now or datetime.now(UTC))
    prune(conn, now)
    token = secrets.token_urlsafe(32)
    conn.execute(insert(UserSession.__table__).values(
        token_hash=token_hash(token), user_id=user.id, created_at=now, last_seen_at=now, expires_at=now + max_age(),
        ip=(ip or None) and ip[:45], user_agent=(user_agent or None) and user_agent[:300]))
    return token


def resolve(conn: Connection, token: str | None, *, now: datetime | None = None) -> Account | None:
    """The active user whose live session this token is, or None. Refreshes last_seen_at at most
    once a minute (the caller commits)."""
    if not token:
        return None
    now = utc(now or datetime.now(UTC))
    row = conn.execute(
        select(UserSession.id.label("session_id"), UserSession.last_seen_at, UserSession.expires_at, *PUBLIC_COLUMNS)
        .join(UserRow, UserRow.id == UserSession.user_id)
        .where(UserSession.token_hash == token_hash(token))).first()
    if row is None or not row.active:
        return None
    last_seen = utc(row.last_seen_at)
    if utc(row.expires_at) <= now or last_seen + idle_timeout() <= now:
        conn.execute(delete(UserSession.__table__).where(UserSession.id == row.session_id))
        return None
    if now - last_seen >= REFRESH_EVERY:
        conn.execute(update(UserSession.__table__).where(UserSession.id == row.session_id).values(last_seen_at=now))
    return directory_recheck.still_allowed(conn, from_row(row), now=now)


def end(conn: Connection, token: str | None) -> bool:
    """Sign out: the session's row is deleted (and the sign-out audited). False when there was none."""
    if not token:
        return False
    row = conn.execute(select(UserSession.id, UserRow.id.label("user_id"), UserRow.email)
                       .join(UserRow, UserRow.id == UserSession.user_id)
                       .where(UserSession.token_hash == token_hash(token))).first()
    if row is None:
        return False
    conn.execute(delete(UserSession.__table__).where(UserSession.id == row.id))
    audit(conn, row.email, "user.sign_out", "user", row.user_id, email=row.email)
    return True


def end_all(conn: Connection, user_id: int) -> int:
    return conn.execute(delete(UserSession.__table__).where(UserSession.user_id == user_id)).rowcount


def prune(conn: Connection, now: datetime | None = None) -> int:
    """Delete sessions past either limit."""
    now = utc(now or datetime.now(UTC))
    return conn.execute(delete(UserSession.__table__).where(or_(
        UserSession.expires_at <= now, UserSession.last_seen_at <= now - idle_timeout()))).rowcount
