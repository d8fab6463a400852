"""The tables of analytics: where each reader of the event stream has got to (its watermark), and
the delivery figures the events consumer folds from that stream. Part of engage.engine.store.schema;
engage.engine.analytics reads and writes them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Integer, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column

from engage.engine.store.schema import Base, _now


class AnalyticsWatermark(Base):
    """How far one reader has got: the last event id an events consumer folded (`consumer:NAME`), or
    the last row an export dataset wrote (`export:NAME`). Moved in the same transaction as the work it
    stands for, so a crash repeats nothing and skips nothing."""

    __tablename__ = "analytics_watermarks"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # a reader's own state (gaps it waits on...)
    updated_at: Mapped[datetime] = mapped_column(server_default=_now())


class CampaignStat(Base):
    """Message counts by what happened to them, per campaign and each dimension a report slices by,
    folded from the event stream (analytics/delivery_stats.py). Keys are never NULL ('' or 0 for
    none) so one ON CONFLICT upsert adds a batch's counts."""

    __tablename__ = "campaign_stats"

    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: not of a run
    arm: Mapped[str] = mapped_column(String(8), primary_key=True)  # '': no A/B arm
    provider_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: no route (yet)
    network: Mapped[str] = mapped_column(String(16), primary_key=True)  # MCC-MNC or prefix; '' unknown
    branch: Mapped[str] = mapped_column(String(64), primary_key=True)  # the campaign's; '' central
    hour: Mapped[datetime] = mapped_column(primary_key=True)  # the event's hour, UTC
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)  # queued, submitted, delivered...
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)  # of `cost`; '' unpriced
    messages: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[Decimal] = mapped_column(Numeric(18, 6), default=0)  # the messages' prices, summed
    seconds: Mapped[float] = mapped_column(Float, default=0.0)  # delivered: submit to receipt, summed
