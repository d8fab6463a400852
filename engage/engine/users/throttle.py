"""Slowing down password guessing, with the database as the truth so that every web process
agrees: an account is locked for a while after a few failures in a row (engine.users.signin keeps
that count on the user's row), and an address that fails too often is refused for a while.

Every attempt is a row of login_attempts (address, email as typed, outcome; never the password).
An email that names no account is "locked" by the same rule as one that does, from these rows, so
that the answers do not tell which emails exist.

The limits come from the environment (read on each use, with defaults):
ENGAGE_LOGIN_MAX_FAILURES (5), ENGAGE_LOGIN_LOCK_MINUTES (15), ENGAGE_LOGIN_IP_MAX_FAILURES (20),
ENGAGE_LOGIN_IP_WINDOW_MINUTES (10), ENGAGE_LOGIN_IP_BLOCK_MINUTES (10), ENGAGE_LOGIN_KEEP_DAYS (30).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, and_, delete, func, insert, select

from engage.engine.store.schema import LoginAttempt

# outcomes that count as failed guesses (a refusal because the address is blocked does not)
GUESSES = ("wrong", "locked", "disabled")


@dataclass(frozen=True)
class Policy:
    max_failures: int = 5  # failures in a row that lock an account
    lock: timedelta = timedelta(minutes=15)
    ip_max_failures: int = 20  # more failures than this from one address within ip_window ...
    ip_window: timedelta = timedelta(minutes=10)
    ip_block: timedelta = timedelta(minutes=10)  # ... refuse it for this long
    keep: timedelta = timedelta(days=30)  # how long attempts are kept


def _number(name: str, default: float, *, minimum: float = 1) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise ValueError(f"{name} must be a number of at least {minimum:g}, got {raw!r}")
    return value


def policy() -> Policy:
    """The limits now in force (ENGAGE_LOGIN_*)."""
    return Policy(
        max_failures=int(_number("ENGAGE_LOGIN_MAX_FAILURES", 5)),
        lock=timedelta(minutes=_number("ENGAGE_LOGIN_LOCK_MINUTES", 15)),
        ip_max_failures=int(_number("ENGAGE_LOGIN_IP_MAX_FAILURES", 20)),
        ip_window=timedelta(minutes=_number("ENGAGE_LOGIN_IP_WINDOW_MINUTES", 10)),
        ip_block=timedelta(minutes=_number("ENGAGE_LOGIN_IP_BLOCK_MINUTES", 10)),
        keep=timedelta(days=_number("ENGAGE_LOGIN_KEEP_DAYS", 30)),
    )


def utc(moment: datetime) -> datetime:
    """Aware UTC; SQLite gives back the naive UTC it was given."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def record(conn: Connection, *, ip: str | None, email: str | None, ok: bool, reason: str | None,
           now: datetime) -> None:
    conn.execute(insert(LoginAttempt.__table__).values(at=now, ip=ip, email=(email or "")[:254] or None, ok=ok,
                                                       reason=reason))


def ip_blocked_until(conn: Connection, ip: str | None, now: datetime, rules: Policy) -> datetime | None:
    """When the address may try again, if it is refused now: its block starts at the failure that
    made more than ip_max_failures within ip_window, and lasts ip_block."""
    if not ip:
        return None
    since = now - rules.ip_window - rules.ip_block
    times = [utc(t) for t in conn.execute(
        select(LoginAttempt.at).where(LoginAttempt.ip == ip, LoginAttempt.at > since, ~LoginAttempt.ok,
                                      LoginAttempt.reason.in_(GUESSES))
        .order_by(LoginAttempt.at)).scalars()]
    until = None
    first = 0
    for last, at in enumerate(times):  # a sliding window ending at each failure
        while at - times[first] >= rules.ip_window:
            first += 1
        if last - first + 1 > rules.ip_max_failures:
            until = at + rules.ip_block
    return until if until is not None and until > now else None


def unknown_email_locked(conn: Connection, email: str, now: datetime, rules: Policy) -> bool:
    """As an account would be: max_failures wrong attempts for this email within the lock period."""
    wrong = conn.execute(select(func.count()).select_from(LoginAttempt).where(and_(
        LoginAttempt.email == email, LoginAttempt.at > now - rules.lock, LoginAttempt.reason == "wrong"))).scalar_one()
    return wrong >= rules.max_failures


def prune(conn: Connection, now: datetime, rules: Policy) -> None:
    conn.execute(delete(LoginAttempt.__table__).where(LoginAttempt.at < now - rules.keep))
