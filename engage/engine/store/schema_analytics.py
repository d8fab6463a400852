"""The tables of analytics: where each reader of the event stream has got to (its watermark), and
the delivery figures the events consumer folds from that stream. Part of engage.engine.store.schema;
engage.engine.analytics reads and writes them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer, Numeric, String
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


class CampaignResult(Base):
    """A campaign's outcome figures (analytics/effectiveness/refresh.py), replaced whole at each refresh:
    per run, A/B arm ('' none) and control group (control: held out, never sent) and per `dimension`:
    - '' (grp ''): everyone;
    - a customer group (region, contract_type, age_band, ...; settings.py): grp is the member's value,
      '' unknown;
    - 'day' (grp '0'..'N'): the conversion curve, `converted` counting those converted by the end of
      that day since delivery (cumulative), `recipients` the whole base;
    - 'currency' (grp the currency): the messages priced in it and their cost, when a campaign's
      messages were priced in more than one (other rows count `cost` in the main one only).
    responded: answered (MO, keyword, USSD session) within the response window after delivery (control
    and undelivered: after the run started); converted: the conversion usage kind within N days after it."""

    __tablename__ = "campaign_results"

    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: not of a run
    dimension: Mapped[str] = mapped_column(String(32), primary_key=True)
    grp: Mapped[str] = mapped_column(String(100), primary_key=True)
    arm: Mapped[str] = mapped_column(String(8), primary_key=True)
    control: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    recipients: Mapped[int] = mapped_column(BigInteger, default=0)
    delivered: Mapped[int] = mapped_column(BigInteger, default=0)
    responded: Mapped[int] = mapped_column(BigInteger, default=0)
    converted: Mapped[int] = mapped_column(BigInteger, default=0)
    cost: Mapped[Decimal] = mapped_column(Numeric(18, 6), default=0)  # in `currency`
    currency: Mapped[str] = mapped_column(String(3), default="")  # '' unpriced
    seconds: Mapped[float] = mapped_column(Float, default=0.0)  # delivered ones: submit to receipt, summed
    computed_at: Mapped[datetime] = mapped_column()


class CampaignResultState(Base):
    """When a campaign's results were computed, under which settings, and until when they can still
    change (its last conversion or response window closes): what refresh_due decides by."""

    __tablename__ = "campaign_results_state"

    campaign_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)  # effectiveness.settings as judged
    computed_at: Mapped[datetime] = mapped_column()
    closes_at: Mapped[datetime | None] = mapped_column()  # None: messages still on their way
    messages: Mapped[int] = mapped_column(BigInteger, default=0)  # recipients counted, control included
    seconds: Mapped[float] = mapped_column(Float, default=0.0)  # how long the refresh took
