"""Bearer tokens for /api/v1 that belong to a user: an integration (a CRM, a BI tool, a partner's
system) gets a token of its own account and acts with that account's role and branch, so what a
token may do is decided by the same role sets as a signed-in session (engine.users.roles).

The secret ("eng_" and 43 random URL-safe characters, 256 bits) is shown once, when it is issued;
the database keeps only its SHA-256 (a copy of the table opens nothing) and its first characters
(``prefix``) so that people can tell their tokens apart. A lookup is by that hash: no secret is
ever compared character by character. A token stops working when it is revoked, when it expires,
and while its user is disabled. Neither the secret nor its hash is logged or audited.

These sit beside the deployment-level tokens of ENGAGE_API_TOKENS (engage.web.api_auth), which act
as "api" with every right and are meant for the operator's own systems."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from engage.engine.audit import audit
from engage.engine.store.schema import ApiToken as TokenRow
from engage.engine.store.schema import User as UserRow
from engage.engine.users import directory_recheck
from engage.engine.users.accounts import PUBLIC_COLUMNS, Account, UserError, from_row, get_user_by_id
from engage.engine.users.throttle import utc

SECRET_PREFIX = "eng_"
PREFIX_LENGTH = 12  # "eng_" and 8 characters of the secret: enough to tell tokens apart, useless to guess with
MAX_SECRET = 200  # a longer "token" is not one of ours: not even hashed
MAX_EXPIRES_DAYS = 3650
USED_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token


@dataclass(frozen=True)
class TokenSummary:
    """A token as people may see it: never the secret or its hash."""

    id: int
    user_id: int
    name: str
    prefix: str
    created_at: datetime | None
    created_by: str | None
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime | None = None) -> str:
        """active, revoked or expired."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= utc(now or datetime.now(UTC)):
            return "expired"
        return "active"

    def as_dict(self) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return None if moment is None else moment.isoformat()

        return {"id": self.id, "user_id": self.user_id, "name": self.name, "prefix": self.prefix,
                "created_at": iso(self.created_at), "created_by": self.created_by,
                "expires_at": iso(self.expires_at), "last_used_at": iso(self.last_used_at),
                "revoked_at": iso(self.revoked_at), "state": self.state()}


COLUMNS = (TokenRow.id, TokenRow.user_id, TokenRow.name, TokenRow.prefix, TokenRow.created_at, TokenRow.created_by,
           TokenRow.expires_at, TokenRow.last_used_at, TokenRow.revoked_at)


def _token(row: Any) -> TokenSummary:
    def aware(moment: datetime | None) -> datetime | None:
        return None if moment is None else utc(moment)

    return TokenSummary(id=row.id, user_id=row.user_id, name=row.name, prefix=row.prefix,
                    created_at=aware(row.created_at), created_by=row.created_by, expires_at=aware(row.expires_at),
                    last_used_at=aware(row.last_used_at), revoked_at=aware(row.revoked_at))


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise UserError("name", "a token needs a name (what uses it, e.g. 'CRM sync')")
    if len(name.strip()) > 100:
        raise UserError("name", "at most 100 characters")
    return name.strip()


def _check_days(days: Any) -> int | None:
    if days is None:
        return None
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_EXPIRES_DAYS:
        raise UserError("expires_days", f"a whole number of days from 1 to {MAX_EXPIRES_DAYS}, or none")
    return days


def issue(conn: Connection, user_id: int, name: str, *, expires_days: int | None = None, created_by: str,
          now: datetime | None = None) -> str:
    """A new token for an active user; returns its secret, which is not kept and cannot be shown again."""
    name, expires_days = _check_name(name), _check_days(expires_days)
    user = get_user_by_id(conn, user_id)
    if user is None:
        raise UserError("user", f"no user with the id {user_id}")
    if not user.active:
        raise UserError("user", f"{user.email} is disabled; enable them before giving them a token")
    now = utc(now or datetime.now(UTC))
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    expires_at = None if expires_days is None else now + timedelta(days=expires_days)
    token_id = conn.execute(insert(TokenRow.__table__).values(
        user_id=user.id, name=name, token_hash=secret_hash(secret), prefix=secret[:PREFIX_LENGTH], created_at=now,
        created_by=created_by, expires_at=expires_at).returning(TokenRow.id)).scalar_one()
    audit(conn, created_by, "api_token.create", "api_token", token_id, user=user.email, name=name,
          prefix=secret[:PREFIX_LENGTH], expires_at=None if expires_at is None else expires_at.isoformat())
    return secret


def find(conn: Connection, secret: str) -> TokenSummary | None:
    """The token this secret is, whatever its state (to show what was just issued); no side effects."""
    if not secret or len(secret) > MAX_SECRET:
        return None
    row = conn.execute(select(*COLUMNS).where(TokenRow.token_hash == secret_hash(secret))).first()
    return None if row is None else _token(row)


def get(conn: Connection, token_id: int) -> TokenSummary | None:
    row = conn.execute(select(*COLUMNS).where(TokenRow.id == token_id)).first()
    return None if row is None else _token(row)


def list_for(conn: Connection, user_id: int) -> list[TokenSummary]:
    """A user's tokens, newest first, revoked and expired ones included (they say what happened)."""
    return [_token(r) for r in conn.execute(select(*COLUMNS).where(TokenRow.user_id == user_id)
                                            .order_by(TokenRow.id.desc()))]


def list_all(conn: Connection) -> dict[int, list[TokenSummary]]:
    """Every user's tokens by user id, newest first: one query for the users page."""
    found: dict[int, list[TokenSummary]] = {}
    for row in conn.execute(select(*COLUMNS).order_by(TokenRow.id.desc())):
        found.setdefault(row.user_id, []).append(_token(row))
    return found


def revoke(conn: Connection, token_id: int, *, actor: str, now: datetime | None = None) -> TokenSummary:
    """The token stops working at once; its row stays, to show when and by whom (in the audit log)."""
    token = get(conn, token_id) if isinstance(token_id, int) else None
    if token is None:
        raise UserError("token", f"no API token with the id {token_id!r}")
    if token.revoked_at is not None:
        raise UserError("token", f"API token {token_id} ({token.name}) is revoked already")
    now = utc(now or datetime.now(UTC))
    conn.execute(update(TokenRow.__table__).where(TokenRow.id == token_id).values(revoked_at=now))
    owner = get_user_by_id(conn, token.user_id)
    audit(conn, actor, "api_token.revoke", "api_token", token_id, user=owner.email if owner else None,
          name=token.name, prefix=token.prefix)
    result = get(conn, token_id)
    assert result is not None
    return result


def resolve(conn: Connection, secret: str | None, *, now: datetime | None = None) -> Account | None:
    """The active user whose live token this secret is, or None (unknown, revoked, expired, or the
    user disabled, or a directory user the directory no longer lets in: engine.users.directory_recheck).
    Records the use at most once a minute (the caller commits)."""
    if not secret or len(secret) > MAX_SECRET:
        return None
    now = utc(now or datetime.now(UTC))
    row = conn.execute(
        select(TokenRow.id.label("token_id"), TokenRow.expires_at, TokenRow.revoked_at, TokenRow.last_used_at,
               *PUBLIC_COLUMNS)
        .join(UserRow, UserRow.id == TokenRow.user_id)
        .where(TokenRow.token_hash == secret_hash(secret))).first()
    if row is None or not row.active or row.revoked_at is not None:
        return None
    if row.expires_at is not None and utc(row.expires_at) <= now:
        return None
    if row.last_used_at is None or now - utc(row.last_used_at) >= USED_EVERY:
        conn.execute(update(TokenRow.__table__).where(TokenRow.id == row.token_id).values(last_used_at=now))
    return directory_recheck.still_allowed(conn, from_row(row), now=now)
