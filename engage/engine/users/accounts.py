"""User accounts: created, listed, disabled and re-enabled, given a new password (and a time zone
to read times in: engine.users.zones). Only an argon2id
hash of a password is stored; neither the password nor its hash is ever logged or audited. Every
change is in the audit log."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Connection, delete, insert, select, update

from engage.engine.audit import audit
from engage.engine.store.schema import ApiToken as TokenRow
from engage.engine.store.schema import User as UserRow
from engage.engine.store.schema import UserSession
from engage.engine.users.roles import ROLES, is_role
from engage.engine.users.throttle import utc

MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # hashing a megabyte on every attempt would be a denial of service
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]{2,}$")

# RFC 9106's second recommended profile (argon2-cffi's default): argon2id, t=3, m=64 MiB, p=4.
# A hash made with other parameters is replaced at the next successful sign-in.
hasher = PasswordHasher()


class UserError(ValueError):
    """A bad value, named: ``field`` is email, role, password, name, branch or user."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Account:
    id: int
    email: str
    name: str | None
    role: str
    branch: str | None
    active: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime | None
    last_login_at: datetime | None
    timezone: str | None = None  # the zone their pages show times in; None: the installation's
    grants: frozenset[str] = frozenset()  # rights beyond the role (engine.users.grants), read at every request

    def as_dict(self) -> dict[str, Any]:
        """For output: no password hash, times as ISO 8601."""
        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat()

        return {"id": self.id, "email": self.email, "name": self.name, "role": self.role, "branch": self.branch,
                "active": self.active, "failed_logins": self.failed_logins, "locked_until": iso(self.locked_until),
                "created_at": iso(self.created_at), "last_login_at": iso(self.last_login_at),
                "timezone": self.timezone, "grants": sorted(self.grants)}


PUBLIC_COLUMNS = (UserRow.id, UserRow.email, UserRow.name, UserRow.role, UserRow.branch, UserRow.active,
                  UserRow.failed_logins, UserRow.locked_until, UserRow.created_at, UserRow.last_login_at,
                  UserRow.timezone, UserRow.grants)


def from_row(row: Any) -> Account:
    def aware(moment: datetime | None) -> datetime | None:
        return None if moment is None else utc(moment)

    return Account(id=row.id, email=row.email, name=row.name, role=row.role, branch=row.branch, active=bool(row.active),
                failed_logins=row.failed_logins or 0, locked_until=aware(row.locked_until),
                created_at=aware(row.created_at), last_login_at=aware(row.last_login_at),
                timezone=row.timezone, grants=frozenset(row.grants or ()))


def normalise_email(email: Any) -> str:
    """Lower-cased and trimmed, or a UserError naming the email."""
    if not isinstance(email, str) or not email.strip():
        raise UserError("email", "an email address is needed")
    value = email.strip().lower()
    if len(value) > 254 or not EMAIL.match(value):
        raise UserError("email", f"{email.strip()[:80]!r} is not an email address")
    return value


def check_role(role: Any) -> str:
    if not isinstance(role, str) or not is_role(role):
        raise UserError("role", f"{role!r} is not a role; one of {', '.join(ROLES)}")
    return role


def check_password(password: Any) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise UserError("password", f"at least {MIN_PASSWORD} characters are needed")
    if len(password) > MAX_PASSWORD:
        raise UserError("password", f"at most {MAX_PASSWORD} characters")
    return password


def _optional_text(field: str, value: Any, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise UserError(field, "a non-empty text, or none at all")
    if len(value.strip()) > limit:
        raise UserError(field, f"at most {limit} characters")
    return value.strip()


def hash_password(password: str) -> str:
    return hasher.hash(check_password(password))


def get_user(conn: Connection, email: str) -> Account | None:
    row = conn.execute(select(*PUBLIC_COLUMNS).where(UserRow.email == email.strip().lower())).first()
    return None if row is None else from_row(row)


def get_user_by_id(conn: Connection, user_id: int) -> Account | None:
    row = conn.execute(select(*PUBLIC_COLUMNS).where(UserRow.id == user_id)).first()
    return None if row is None else from_row(row)


def _existing(conn: Connection, email: str) -> Account:
    user = get_user(conn, email) if isinstance(email, str) else None
    if user is None:
        raise UserError("user", f"no user with the email {email!r}")
    return user


def list_users(conn: Connection) -> list[Account]:
    return [from_row(r) for r in conn.execute(select(*PUBLIC_COLUMNS).order_by(UserRow.email))]


def create_user(conn: Connection, email: str, role: str, *, password: str, branch: str | None = None,
                name: str | None = None, actor: str) -> Account:
    """A new active user; UserError names the first bad field (or an email already taken)."""
    email = normalise_email(email)
    role = check_role(role)
    branch = _optional_text("branch", branch, 64)
    name = _optional_text("name", name, 200)
    password_hash = hash_password(password)
    if get_user(conn, email) is not None:
        raise UserError("email", f"a user with the email {email!r} already exists")
    user_id = conn.execute(insert(UserRow.__table__).values(
        email=email, name=name, role=role, branch=branch, password_hash=password_hash, active=True,
        failed_logins=0, created_at=datetime.now(UTC)).returning(UserRow.id)).scalar_one()
    audit(conn, actor, "user.create", "user", user_id, email=email, role=role, branch=branch, name=name)
    return _existing(conn, email)


def ensure_user(conn: Connection, email: str, role: str, password: str, actor: str) -> Account:
    """The user with this email, created with these values if there is none (a user that exists is
    left exactly as it is: its role, password and state are not touched). For the demo and setups."""
    existing = get_user(conn, normalise_email(email))
    return existing if existing is not None else create_user(conn, email, role, password=password, actor=actor)


def set_password(conn: Connection, email: str, password: str, *, actor: str) -> Account:
    """A new password; any lock is lifted, and everything the old one opened is shut (see _end_access)."""
    user = _existing(conn, email)
    conn.execute(update(UserRow.__table__).where(UserRow.id == user.id).values(
        password_hash=hash_password(password), failed_logins=0, locked_until=None))
    audit(conn, actor, "user.set_password", "user", user.id, email=user.email)
    _end_access(conn, user, actor, "password changed")
    return _existing(conn, user.email)


def set_active(conn: Connection, email: str, active: bool, *, actor: str) -> Account:
    """Disable (its sessions end at once; its API tokens are refused while it is disabled, and work
    again if it is enabled: a suspension, not a revocation) or enable a user."""
    user = _existing(conn, email)
    if not active and user.active:
        if user.email.lower() == actor.strip().lower():
            raise UserError("user", "you cannot disable your own account (you would be signed out at once); "
                                    "another admin can")
        if user.role == "admin" and not conn.execute(select(UserRow.id).where(
                UserRow.role == "admin", UserRow.active.is_(True), UserRow.id != user.id)).first():
            raise UserError("user", f"{user.email} is the last active admin: make another admin first, or no one "
                                    "could manage users")
    conn.execute(update(UserRow.__table__).where(UserRow.id == user.id).values(active=active))
    if not active:
        conn.execute(delete(UserSession.__table__).where(UserSession.user_id == user.id))
    audit(conn, actor, "user.enable" if active else "user.disable", "user", user.id, email=user.email)
    return _existing(conn, user.email)


def _end_access(conn: Connection, user: Account, actor: str, reason: str) -> None:
    """A password changed because it leaked must not live on in a session or in an API token issued
    while the old one was good: sessions end and live tokens are revoked for good (an admin issues
    new ones)."""
    conn.execute(delete(UserSession.__table__).where(UserSession.user_id == user.id))
    revoked = conn.execute(update(TokenRow.__table__)
                           .where(TokenRow.user_id == user.id, TokenRow.revoked_at.is_(None))
                           .values(revoked_at=datetime.now(UTC))).rowcount
    if revoked:
        audit(conn, actor, "api_token.revoke_all", "user", user.id, email=user.email, tokens=revoked, reason=reason)


def disable(conn: Connection, email: str, *, actor: str) -> Account:
    return set_active(conn, email, False, actor=actor)


def enable(conn: Connection, email: str, *, actor: str) -> Account:
    return set_active(conn, email, True, actor=actor)


def unlock(conn: Connection, email: str, *, actor: str) -> Account:
    """Lift a lock from failed sign-ins before it runs out."""
    user = _existing(conn, email)
    conn.execute(update(UserRow.__table__).where(UserRow.id == user.id).values(failed_logins=0, locked_until=None))
    audit(conn, actor, "user.unlock", "user", user.id, email=user.email)
    return _existing(conn, user.email)
