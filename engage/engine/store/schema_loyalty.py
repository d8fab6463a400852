"""The loyalty programme's tables (engine/loyalty/): programmes, members, the ledger of entries, the
lots points are earned in, redemption holds, and each member's materialised balance. The ledger is
append-only: a correction is a compensating entry, never an UPDATE of an entry. Part of
engage.engine.store.schema."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from engage.engine.store.schema import Base, BigId, _now


class LoyaltyProgramme(Base):
    """Several may coexist (a consumer club and a business one); a member belongs to one."""

    __tablename__ = "loyalty_programmes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    point_value: Mapped[Decimal] = mapped_column(Numeric(14, 6), default=Decimal("0.01"))  # money, for liability
    points_valid_days: Mapped[int | None] = mapped_column(Integer, default=365)  # a lot's life; None: never expire
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class LoyaltyMember(Base):
    __tablename__ = "loyalty_members"
    __table_args__ = (UniqueConstraint("programme_id", "subscriber_id"),
                      Index("ix_loyalty_members_subscriber", "subscriber_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    programme_id: Mapped[int] = mapped_column(Integer)
    subscriber_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | suspended | closed
    level: Mapped[str | None] = mapped_column(String(32))
    level_since: Mapped[datetime | None] = mapped_column()  # when the member reached it (grace before a downgrade)
    enrolled_via: Mapped[str] = mapped_column(String(16))  # keyword | ussd | api | bulk | segment | person
    enrolled_at: Mapped[datetime] = mapped_column(server_default=_now())


class LoyaltyBalance(Base):
    """What the entries add up to, kept in the transaction that posts them. The CHECKs are the last
    guard; the posting statements themselves refuse to overdraw (UPDATE ... WHERE available >= n)."""

    __tablename__ = "loyalty_balances"
    __table_args__ = (CheckConstraint("available >= 0", name="ck_loyalty_available"),
                      CheckConstraint("held >= 0", name="ck_loyalty_held"))

    member_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    available: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # spendable now
    held: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # in redemptions not yet decided
    earned: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")  # lifetime, after reversals
    redeemed: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    expired: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(server_default=_now())


class LoyaltyEntry(Base):
    """One movement of points. `points` changes the member's available points and `held` their held
    ones (a hold moves points from one to the other; a confirmation spends held points). source +
    idem_key make a cause post once: the same usage record, partner call or bulk row given again is
    refused by the unique index, whatever the process that gives it."""

    __tablename__ = "loyalty_entries"
    __table_args__ = (Index("ix_loyalty_entries_member", "member_id", "id"),
                      Index("uq_loyalty_entries_idem", "source", "idem_key", unique=True,
                            postgresql_where=text("idem_key IS NOT NULL"),
                            sqlite_where=text("idem_key IS NOT NULL")))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # ledger.KINDS
    points: Mapped[int] = mapped_column(BigInteger, default=0)
    held: Mapped[int] = mapped_column(BigInteger, default=0)
    posted_at: Mapped[datetime] = mapped_column(server_default=_now())
    occurred_at: Mapped[datetime] = mapped_column()  # when its cause happened (the usage, the purchase)
    cause: Mapped[str] = mapped_column(String(16))  # rule | campaign | partner | bulk | person | redemption | ...
    cause_id: Mapped[str | None] = mapped_column(String(64))  # which rule, campaign, partner transaction...
    source: Mapped[str] = mapped_column(String(32))  # the idempotency namespace: "usage", "partner:7", ...
    idem_key: Mapped[str | None] = mapped_column(String(128))  # None only where the row it moves is the key
    lot_id: Mapped[int | None] = mapped_column(BigInteger)  # the lot an earn made or an expiry emptied
    hold_id: Mapped[int | None] = mapped_column(BigInteger)
    reverses: Mapped[int | None] = mapped_column(BigInteger)  # the entry a reversal compensates
    actor: Mapped[str | None] = mapped_column(String(128))  # the person, for adjustments
    reason: Mapped[str | None] = mapped_column(String(200))


class LoyaltyLot(Base):
    """Points earned together, with their expiry: redemptions take the oldest first, expiry empties
    what is due. `remaining` is what is left of `points`."""

    __tablename__ = "loyalty_lots"
    __table_args__ = (CheckConstraint("remaining >= 0", name="ck_loyalty_lot_remaining"),
                      Index("ix_loyalty_lots_open", "member_id", "expires_at", "id",
                            postgresql_where=text("remaining > 0"), sqlite_where=text("remaining > 0")),
                      Index("ix_loyalty_lots_due", "expires_at",
                            postgresql_where=text("remaining > 0"), sqlite_where=text("remaining > 0")))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int] = mapped_column(BigInteger)  # the earn entry that made it
    points: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)
    earned_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column()  # None: never


class LoyaltyHold(Base):
    """A redemption's first phase: points set aside until fulfilment confirms or releases them. A
    worker that dies between the phases leaves the hold `held`, found and finished later."""

    __tablename__ = "loyalty_holds"
    __table_args__ = (UniqueConstraint("source", "idem_key"),
                      Index("ix_loyalty_holds_open", "created_at", postgresql_where=text("state = 'held'"),
                            sqlite_where=text("state = 'held'")))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    member_id: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(12), default="held")  # held | confirmed | released
    reward_id: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(32))
    idem_key: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    decided_at: Mapped[datetime | None] = mapped_column()
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # what fulfilment answered, why released


class LoyaltyHoldLot(Base):
    """Which lots a hold took its points from, so a release gives them back with their own expiry."""

    __tablename__ = "loyalty_hold_lots"

    hold_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    lot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    points: Mapped[int] = mapped_column(BigInteger)


class LoyaltyRule(Base):
    """An earning rule; what it does is in its versions, so an event is scored by the version that
    was in force when it happened, whatever was changed since."""

    __tablename__ = "loyalty_rules"
    __table_args__ = (UniqueConstraint("programme_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    created_by: Mapped[str] = mapped_column(String(128), default="system")
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class LoyaltyRuleVersion(Base):
    """In force from `valid_from` until the next version's; `definition` is rules.Definition's JSON."""

    __tablename__ = "loyalty_rule_versions"
    __table_args__ = (UniqueConstraint("rule_id", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule_id: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[datetime] = mapped_column()
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str] = mapped_column(String(128), default="system")
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class LoyaltyCarry(Base):
    """What a member's usage under a rule has gathered toward the next block of points (the 50 of
    250 minutes when every 100 give 10), and the points it gave per day and month, for the caps."""

    __tablename__ = "loyalty_carry"

    member_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    rule_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    carried: Mapped[float] = mapped_column(Float, default=0.0)
    day: Mapped[date | None] = mapped_column(Date)  # the day `day_points` counts
    day_points: Mapped[int] = mapped_column(BigInteger, default=0)
    month: Mapped[date | None] = mapped_column(Date)  # the first of the month `month_points` counts
    month_points: Mapped[int] = mapped_column(BigInteger, default=0)


class LoyaltyUsageSeen(Base):
    """The usage records already scored, by their id in the feed that sent them: the same record
    sent again (a replayed file, a redelivered broker message) scores nothing."""

    __tablename__ = "loyalty_usage_seen"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(server_default=_now())


class LoyaltyReward(Base):
    """What points buy: an operator service (a data bundle, minutes, airtime, a device discount) or a
    partner's goods (tickets, a voucher). Fulfilled through a registered adapter (rewards.py)."""

    __tablename__ = "loyalty_rewards"
    __table_args__ = (UniqueConstraint("programme_id", "code"),
                      CheckConstraint("stock IS NULL OR stock >= 0", name="ck_loyalty_reward_stock"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(32))
    names: Mapped[dict[str, Any]] = mapped_column(JSON)  # language -> name
    descriptions: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # language -> text
    points: Mapped[int] = mapped_column(BigInteger)  # its price
    stock: Mapped[int | None] = mapped_column(Integer)  # None: unlimited
    level: Mapped[str | None] = mapped_column(String(32))  # the level it needs, or any above it
    per_member: Mapped[int | None] = mapped_column(Integer)  # redemptions a member may make; None: any
    valid_from: Mapped[datetime | None] = mapped_column()
    valid_until: Mapped[datetime | None] = mapped_column()
    fulfilment: Mapped[str] = mapped_column(String(32), default="none")  # rewards.FULFILMENTS
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # the adapter's settings
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class LoyaltyVoucherCode(Base):
    """A partner's codes for a voucher reward, handed out one per redemption."""

    __tablename__ = "loyalty_voucher_codes"
    __table_args__ = (UniqueConstraint("reward_id", "code"),
                      Index("ix_loyalty_voucher_free", "reward_id", "id", postgresql_where=text("hold_id IS NULL"),
                            sqlite_where=text("hold_id IS NULL")))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reward_id: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(64))
    hold_id: Mapped[int | None] = mapped_column(BigInteger)  # the redemption it went to


class LoyaltyPartner(Base):
    """A merchant that earns and burns the programme's points through the partner API, with a token
    of its own. Only the token's SHA-256 is kept: a copy of the table opens nothing."""

    __tablename__ = "loyalty_partners"
    __table_args__ = (UniqueConstraint("programme_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    earn_rate: Mapped[Decimal] = mapped_column(Numeric(14, 6))  # points per 1 of the partner's currency
    currency: Mapped[str] = mapped_column(String(3))
    burn_value: Mapped[Decimal] = mapped_column(Numeric(14, 6))  # money, in `currency`, of a point burnt there
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class LoyaltyPartnerTransaction(Base):
    """What a partner did (earn, burn) or undid (reversal, naming the row it reverses), with the ledger
    entry it posted: settlement adds these up per period, a reversal finds its transaction here. A
    partner's transaction id earns once and burns once; a row is reversed once."""

    __tablename__ = "loyalty_partner_transactions"
    __table_args__ = (Index("uq_loyalty_partner_tx", "partner_id", "kind", "transaction_id", unique=True,
                            postgresql_where=text("kind <> 'reversal'"), sqlite_where=text("kind <> 'reversal'")),
                      Index("uq_loyalty_partner_tx_reverses", "reverses", unique=True,
                            postgresql_where=text("reverses IS NOT NULL"), sqlite_where=text("reverses IS NOT NULL")),
                      Index("ix_loyalty_partner_tx_period", "partner_id", "created_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))  # earn | burn | reversal
    transaction_id: Mapped[str] = mapped_column(String(64))  # the partner's own id of the purchase
    msisdn: Mapped[str] = mapped_column(String(16))
    member_id: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)  # positive: earnt, burnt, or given back / taken back
    amount: Mapped[Decimal | None] = mapped_column(Numeric(16, 4))  # the purchase, for an earn
    currency: Mapped[str] = mapped_column(String(3))
    entry_id: Mapped[int] = mapped_column(BigInteger)
    reverses: Mapped[int | None] = mapped_column(BigInteger)  # the transaction row a reversal undoes
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class LoyaltyConsentCode(Base):
    """A member's consent to one partner reading their balance or burning their points: a one-time
    code sent by SMS. Only a salted hash is kept; it is used once, lives minutes, and dies after a few
    wrong attempts (a six-digit code is guessed by nobody in that many tries)."""

    __tablename__ = "loyalty_consent_codes"
    __table_args__ = (Index("ix_loyalty_consent_latest", "partner_id", "member_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    partner_id: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(BigInteger)
    salt: Mapped[str] = mapped_column(String(32))
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # wrong codes given
    used_at: Mapped[datetime | None] = mapped_column()
    message_id: Mapped[int | None] = mapped_column(BigInteger)  # the SMS that carried it
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class LoyaltyPartnerRequest(Base):
    """The first answer to a partner's request, by its Idempotency-Key: the same key again is answered
    with it and changes nothing; the same key with another request is refused."""

    __tablename__ = "loyalty_partner_requests"

    partner_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idem_key: Mapped[str] = mapped_column(String(100), primary_key=True)
    operation: Mapped[str] = mapped_column(String(16))
    fingerprint: Mapped[str] = mapped_column(String(64))  # SHA-256 of the request's JSON, keys sorted
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class LoyaltyExchangePartner(Base):
    """Another loyalty programme (an airline's miles, a bank's bonus) whose points are exchanged with
    ours at configured rates, each way, with a minimum and a daily limit per member (in our points)."""

    __tablename__ = "loyalty_exchange_partners"
    __table_args__ = (UniqueConstraint("programme_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    programme_id: Mapped[int] = mapped_column(Integer)
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    rate_in: Mapped[Decimal] = mapped_column(Numeric(14, 6))  # our points per one of theirs
    rate_out: Mapped[Decimal] = mapped_column(Numeric(14, 6))  # their points per one of ours
    min_points: Mapped[int] = mapped_column(BigInteger, default=1)
    daily_limit: Mapped[int | None] = mapped_column(BigInteger)  # None: no limit
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class LoyaltyExchangeTransfer(Base):
    """One exchange, our points and theirs, with the ledger entry it posted: the daily limits and the
    statement per exchange partner are read from these."""

    __tablename__ = "loyalty_exchange_transfers"
    __table_args__ = (Index("ix_loyalty_exchange_member_day", "exchange_partner_id", "member_id", "created_at"),
                      Index("ix_loyalty_exchange_period", "exchange_partner_id", "created_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    exchange_partner_id: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    member_id: Mapped[int] = mapped_column(BigInteger)
    points: Mapped[int] = mapped_column(BigInteger)  # ours, positive
    their_points: Mapped[int] = mapped_column(BigInteger)
    entry_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


from engage.engine.store import schema_loyalty_office  # noqa: E402
from engage.engine.store.schema_loyalty_office import *  # noqa: E402,F403 - the back office's tables (its __all__)

__all__ = [*schema_loyalty_office.__all__,
           "LoyaltyBalance", "LoyaltyCarry", "LoyaltyConsentCode", "LoyaltyEntry", "LoyaltyExchangePartner",
           "LoyaltyExchangeTransfer", "LoyaltyHold", "LoyaltyHoldLot", "LoyaltyLot", "LoyaltyMember",
           "LoyaltyPartner", "LoyaltyPartnerRequest", "LoyaltyPartnerTransaction", "LoyaltyProgramme", "LoyaltyReward",
           "LoyaltyRule", "LoyaltyRuleVersion", "LoyaltyUsageSeen", "LoyaltyVoucherCode"]
