"""What subscribers text (engine/keywords/): each MO as it came, and what a word texted to a short
code does: the built-in STOP, START, HELP and the answer to an unknown word (written on first use by
keywords/builtins.py) and the operators' own keywords. Part of engage.engine.store.schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from engage.engine.store.schema import Base, BigId, _now


class InboundMessage(Base):
    """A subscriber's own SMS (MO): stored before anything handles it, so none is lost."""

    __tablename__ = "inbound_messages"
    __table_args__ = (Index("ix_inbound_source_at", "source", "received_at"),
                      Index("ix_inbound_unhandled", "id", postgresql_where=text("NOT handled"),
                            sqlite_where=text("NOT handled")),
                      Index("ix_inbound_campaign", "campaign_id", "id"),
                      Index("ix_inbound_provider_ref", "provider_id", "provider_ref",
                            postgresql_where=text("provider_ref IS NOT NULL"),
                            sqlite_where=text("provider_ref IS NOT NULL")))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(32))
    destination: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    handled: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(server_default=_now())
    keyword: Mapped[str | None] = mapped_column(String(32))  # what keywords/ read it as: STOP, or the unknown word
    duplicate_of: Mapped[int | None] = mapped_column(BigInteger)  # the same MO, handled before (keywords/handling.py)
    campaign_id: Mapped[int | None] = mapped_column(Integer)  # the campaign it replied to (its `replied` event)
    provider_ref: Mapped[str | None] = mapped_column(String(72))  # the gateway's own id of the MO, when it gives one


class Keyword(Base):
    __tablename__ = "keywords"
    __table_args__ = (UniqueConstraint("word", "short_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    word: Mapped[str] = mapped_column(String(32))  # normalised (matching.normalise); "*" answers unknown words
    short_code: Mapped[str] = mapped_column(String(32), default="")  # "": every short code and sender id
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)  # more words for it, normalised
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # keywords/steps.py, in order
    reply_template_id: Mapped[int | None] = mapped_column(Integer)  # the confirmation texted back, if any
    builtin: Mapped[bool] = mapped_column(Boolean, default=False)  # STOP/START/HELP/*: kept, its action fixed
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[str] = mapped_column(String(128), default="system")
    updated_at: Mapped[datetime] = mapped_column(server_default=_now())
