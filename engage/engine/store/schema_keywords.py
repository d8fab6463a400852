"""What a word texted to a short code does (engine/keywords/): the built-in STOP, START, HELP and
the answer to an unknown word, seeded by migration 0024 and editable, and the operators' own
keywords. Part of engage.engine.store.schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engage.engine.store.schema import Base, _now


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
