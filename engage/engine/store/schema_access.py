"""The tables of who may use engage: people who sign in (users, their sessions and sign-in
attempts) and the API tokens integrations present. Part of engage.engine.store.schema."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from engage.engine.store.schema import Base, BigId, _now


class User(Base):
    """A person who signs in to the web UI (engine.users): a role, grants beyond it (engine.users.grants),
    and optionally one branch they are limited to. Only an argon2id hash of the password is kept;
    failed sign-ins lock it a while."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # lower-cased
    name: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))  # engine.users.roles.ROLES
    branch: Mapped[str | None] = mapped_column(String(64))  # set: sees and acts on that branch only
    timezone: Mapped[str | None] = mapped_column(String(64))  # pages show times in it; None: the installation's
    grants: Mapped[list[str] | None] = mapped_column(JSON)  # engine.users.grants, beyond the role; None: none
    password_hash: Mapped[str] = mapped_column(String(255))  # argon2id, PHC string
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # since the last success
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    last_login_at: Mapped[datetime | None]


class UserSession(Base):
    """A signed-in browser: the cookie holds a random token, this row only its SHA-256."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column()
    last_seen_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)  # the absolute limit; idle expiry reads last_seen_at
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class LoginAttempt(Base):
    """Every sign-in attempt, for the per-address limit that all web processes share, and for
    whoever investigates. Never the password."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_ip_at", "ip", "at"),
                      Index("ix_login_attempts_email_at", "email", "at"),
                      Index("ix_login_attempts_at", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column()
    ip: Mapped[str | None] = mapped_column(String(45))
    email: Mapped[str | None] = mapped_column(String(254))  # as typed, lower-cased; may name no user
    ok: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(16))  # wrong | locked | disabled | throttled


class ApiToken(Base):
    """A bearer token for /api/v1, owned by a user: it acts with that user's role and branch (a
    partner account is API-only). Only the SHA-256 of the token is kept; ``prefix`` (its first
    characters) lets people tell their tokens apart without the secret."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    created_by: Mapped[str | None] = mapped_column(String(254))
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
