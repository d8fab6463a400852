"""The loyalty back office's tables (engine/loyalty/): a person's adjustments of a member's points,
waiting for a second person above the programme's threshold; bulk point loads and their rows, read
with a report before anyone approves them; and the "points will expire" notices sent, so that each
goes once. Part of engage.engine.store.schema, through schema_loyalty."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Date, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engage.engine.store.schema import Base, BigId, _now


class LoyaltyAdjustment(Base):
    """A correction by a person, with its reason. Within the programme's threshold it is posted at
    once; above it, it waits (pending) until a second person approves (posted) or rejects it."""

    __tablename__ = "loyalty_adjustments"
    __table_args__ = (Index("ix_loyalty_adjustments_state", "programme_id", "state", "id"),
                      Index("ix_loyalty_adjustments_member", "member_id", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    programme_id: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)  # signed: a credit or a debit
    reason: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(10))  # pending | posted | rejected
    requested_by: Mapped[str] = mapped_column(String(128))
    requested_at: Mapped[datetime] = mapped_column(server_default=_now())
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_reason: Mapped[str | None] = mapped_column(String(200))  # why it was rejected
    entry_id: Mapped[int | None] = mapped_column(BigInteger)  # the ledger entry it posted


class LoyaltyLoad(Base):
    """A bulk point load: one uploaded file (CSV or Parquet of msisdn, points, reason, external id),
    read into rows with what is wrong with each, posted only once a second person approves it. The
    same file uploaded again is recognised by its digest."""

    __tablename__ = "loyalty_loads"
    __table_args__ = (UniqueConstraint("programme_id", "sha256"),
                      Index("ix_loyalty_loads_state", "programme_id", "state", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10))  # pending | posted | rejected
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_good: Mapped[int] = mapped_column(Integer, default=0)
    rows_bad: Mapped[int] = mapped_column(Integer, default=0)
    points_total: Mapped[int] = mapped_column(BigInteger, default=0)  # of the good rows
    uploaded_by: Mapped[str] = mapped_column(String(128))
    uploaded_at: Mapped[datetime] = mapped_column(server_default=_now())
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_reason: Mapped[str | None] = mapped_column(String(200))
    rows_posted: Mapped[int] = mapped_column(Integer, default=0)  # good rows not posted before (by external id)


class LoyaltyLoadRow(Base):
    """One line of a load's file, as read: the member it names, its points, reason and external id
    (the idempotency key: a row whose id was posted before, by any load, posts nothing), or the
    problem that keeps it out."""

    __tablename__ = "loyalty_load_rows"

    load_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    line: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    msisdn: Mapped[str | None] = mapped_column(String(32))
    member_id: Mapped[int | None] = mapped_column(BigInteger)
    points: Mapped[int | None] = mapped_column(BigInteger)
    reason: Mapped[str | None] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(64))
    problem: Mapped[str | None] = mapped_column(String(200))  # None: a good row
    entry_id: Mapped[int | None] = mapped_column(BigInteger)


class LoyaltyExpiryNotice(Base):
    """A "points will expire" SMS to a member about the points due on one day: written with the
    message, so that a member hears of each day's expiry once whatever runs the job."""

    __tablename__ = "loyalty_expiry_notices"
    __table_args__ = (UniqueConstraint("member_id", "expires_on"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigInteger)
    expires_on: Mapped[date] = mapped_column(Date)
    points: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


__all__ = ["LoyaltyAdjustment", "LoyaltyExpiryNotice", "LoyaltyLoad", "LoyaltyLoadRow"]
