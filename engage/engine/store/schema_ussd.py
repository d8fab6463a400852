"""The tables of USSD: menus put on service codes, the gateways hops arrive through, and the sessions
of subscribers walking a menu (kept in the database so that any web process serves any hop).
Part of engage.engine.store.schema; engage.engine.ussd reads and writes them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from engage.engine.store.schema import Base, BigId, _now


class UssdMenu(Base):
    """A menu document as saved (YAML or JSON) and its compiled form; `code` is the service code
    dialled. Only one active menu per code: the partial unique index says so on both databases."""

    __tablename__ = "ussd_menus"
    __table_args__ = (Index("ux_ussd_menus_active_code", "code", unique=True,
                            postgresql_where=text("active"), sqlite_where=text("active")),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    code: Mapped[str] = mapped_column(String(32))  # "*123#"
    document: Mapped[str] = mapped_column(Text)  # the source, as saved: its line numbers are the errors'
    compiled: Mapped[dict[str, Any]] = mapped_column(JSON)  # engage.engine.ussd.document.compile_menu
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    updated_at: Mapped[datetime] = mapped_column(server_default=_now())  # with id, the compiled cache key
    updated_by: Mapped[str | None] = mapped_column(String(200))


class UssdGateway(Base):
    """Where USSD hops come from: an aggregator's HTTP callback (Africa's Talking, Hubtel), an SMPP
    bind, or the terminal of `engage ussd try`. `token` is the secret in its callback path."""

    __tablename__ = "ussd_gateways"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(32))  # africastalking | hubtel | smpp | terminal
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class UssdSession(Base):
    """One subscriber's walk through a menu, keyed by the gateway's own session id. Every hop reads
    and rewrites this one row (under a row lock on PostgreSQL), so a hop's answer never depends on
    which process served the hop before."""

    __tablename__ = "ussd_sessions"
    __table_args__ = (UniqueConstraint("gateway_id", "session_key", name="uq_ussd_sessions_key"),
                      # the open sessions by idleness: what the expiry sweep reads
                      Index("ix_ussd_sessions_open", "updated_at", postgresql_where=text("ended_at IS NULL"),
                            sqlite_where=text("ended_at IS NULL")),
                      # a menu's sessions over a time window: the drop-off funnel (ussd/funnel.py)
                      Index("ix_ussd_sessions_menu_started", "menu_id", "started_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    gateway_id: Mapped[int] = mapped_column(Integer)
    session_key: Mapped[str] = mapped_column(String(128))
    msisdn: Mapped[str] = mapped_column(String(32))  # E.164 when it reads as a number, else as the gateway gave it
    code: Mapped[str] = mapped_column(String(32))  # as dialled, shortcut digits included
    menu_id: Mapped[int | None] = mapped_column(Integer)
    screen: Mapped[str | None] = mapped_column(String(64))  # the screen on the subscriber's phone now
    page: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    history: Mapped[list[Any]] = mapped_column(JSON, default=list)  # screens before this one, for "0 Back"
    values: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # inputs and action results
    visited: Mapped[list[Any]] = mapped_column(JSON, default=list)  # every screen reached once, in order: the funnel
    language: Mapped[str | None] = mapped_column(String(8))
    last_request: Mapped[str | None] = mapped_column(String(128))  # the replay key of the last hop served
    last_answer: Mapped[str | None] = mapped_column(Text)
    last_ends: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    end_reason: Mapped[str | None] = mapped_column(String(16))  # completed | expired | released | error
    started_at: Mapped[datetime] = mapped_column(server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(server_default=_now())
    ended_at: Mapped[datetime | None]
