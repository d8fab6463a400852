"""The tables. The database is the truth about every subscriber, campaign and message.

Declared with SQLAlchemy 2's typed ORM mapping so that Alembic can compare them, and
used through Core (`Model.__table__`) on the hot paths, which are set-based.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, datetime: DateTime(timezone=True)}


def _now() -> Any:
    return func.now()


class Subscriber(Base):
    __tablename__ = "subscribers"
    # live counts re-read what changed since their last look (engine.segments.frame)
    __table_args__ = (Index("ix_subscribers_updated_at", "updated_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(16), unique=True)  # E.164
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(8))
    gender: Mapped[str | None] = mapped_column(String(1))
    birth_date: Mapped[date | None] = mapped_column(Date)
    region: Mapped[str | None] = mapped_column(String(100))
    city: Mapped[str | None] = mapped_column(String(100))
    branch: Mapped[str | None] = mapped_column(String(64), index=True)
    timezone: Mapped[str | None] = mapped_column(String(64))
    balance: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    network: Mapped[str | None] = mapped_column(String(7))  # MCC-MNC, e.g. "43405"
    contract_type: Mapped[str | None] = mapped_column(String(16))  # prepaid | postpaid | hybrid
    tariff_plan: Mapped[str | None] = mapped_column(String(64))
    device_os: Mapped[str | None] = mapped_column(String(32))
    device_model: Mapped[str | None] = mapped_column(String(64))
    activation_date: Mapped[date | None] = mapped_column(Date)
    last_activity_at: Mapped[datetime | None]
    last_recharge_at: Mapped[datetime | None]
    last_recharge_amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    arpu: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    data_mb_month: Mapped[int | None] = mapped_column(Integer)
    voice_min_month: Mapped[int | None] = mapped_column(Integer)
    sms_month: Mapped[int | None] = mapped_column(Integer)
    roaming: Mapped[bool | None] = mapped_column(Boolean)
    loyalty_tier: Mapped[str | None] = mapped_column(String(32))
    loyalty_points: Mapped[int | None] = mapped_column(BigInteger)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(server_default=_now())


class SubscriberRemoval(Base):
    """Subscribers deleted, and when, so the in-memory frame of live counts drops them too (read by
    removed_at, like the changed rows by updated_at); rows older than a day are pruned by the next
    deletion (frames reload whole every 30 minutes)."""

    __tablename__ = "subscriber_removals"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(BigInteger)
    removed_at: Mapped[datetime] = mapped_column(server_default=_now(), index=True)


class SubscriberTag(Base):
    """A subscriber's VAS subscriptions (and other tags): a row each, so "has tag X" is an index lookup.
    No foreign key (checking it doubled an import's cost); storage.delete_subscribers removes them."""

    __tablename__ = "subscriber_tags"
    __table_args__ = (Index("ix_subscriber_tags_tag", "tag", "subscriber_id"),)

    subscriber_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True)


class UsageEvent(Base):
    """What a subscriber did on the network (calls, data, SMS, recharges, purchases): read by usage
    criteria ("100+ outgoing minutes in the last 30 days") and, later, by loyalty earning rules.
    ``amount`` is in the kind's unit: minutes, MB, messages, money. A float, because criteria sum
    millions of them and PostgreSQL sums float8 several times faster than numeric."""

    __tablename__ = "usage_events"
    __table_args__ = (Index("ix_usage_kind_at", "kind", "at", "subscriber_id", "amount"),
                      Index("ix_usage_subscriber_at", "subscriber_id", "at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))  # call_out | call_in | data | sms_out | recharge | purchase
    at: Mapped[datetime] = mapped_column()
    amount: Mapped[float] = mapped_column(Float, default=0.0)


class UsageTotal(Base):
    """Each subscriber's usage per kind over the standard windows (the last 7, 30, 60, 90 days) as
    of the summary's `as_of`: usage criteria read these ~1 row per subscriber instead of summing
    millions of events, and correct them exactly with the few events since (engine.usage.totals)."""

    __tablename__ = "usage_totals"
    # a threshold on the sum is a range of this index; one on the count reads the slice from it alone
    __table_args__ = (Index("ix_usage_totals_total", "kind", "days", "total",
                            postgresql_include=["subscriber_id", "events"]),)

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    days: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    total: Mapped[float] = mapped_column(Float)
    events: Mapped[int] = mapped_column(Integer)


class UsageTotalsState(Base):
    """The one row saying when usage_totals were computed; no row: never, criteria read the events."""

    __tablename__ = "usage_totals_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # always 1
    as_of: Mapped[datetime] = mapped_column()
    windows: Mapped[str] = mapped_column(String(64))  # "7,30,60,90"
    refreshed_at: Mapped[datetime] = mapped_column(server_default=_now())


class StaticList(Base):
    """Numbers uploaded as a list ("the 5,000 winners"), usable as a segment criterion."""

    __tablename__ = "static_lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    branch: Mapped[str | None] = mapped_column(String(64))
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class StaticListMember(Base):
    __tablename__ = "static_list_members"

    list_id: Mapped[int] = mapped_column(ForeignKey("static_lists.id", ondelete="CASCADE"), primary_key=True)
    msisdn: Mapped[str] = mapped_column(String(16), primary_key=True)  # E.164


class OptOut(Base):
    """The consent registry: kept apart from subscribers so a re-import never undoes an opt-out."""

    __tablename__ = "opt_outs"
    __table_args__ = (Index("ix_opt_outs_created_at", "created_at"),)  # what senders read lately (delivery/opt_outs.py)

    msisdn: Mapped[str] = mapped_column(String(16), primary_key=True)
    channel: Mapped[str] = mapped_column(String(16), primary_key=True)  # "sms", "ussd"
    source: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class Segment(Base):
    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    branch: Mapped[str | None] = mapped_column(String(64))  # set: made by (and for) that branch's users
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    updated_at: Mapped[datetime] = mapped_column(server_default=_now())


class Template(Base):
    __tablename__ = "templates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    default_language: Mapped[str] = mapped_column(String(8), default="en")
    branch: Mapped[str | None] = mapped_column(String(64))  # set: that branch's; None: shared, read by every branch
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class TemplateVariant(Base):
    __tablename__ = "template_variants"
    __table_args__ = (UniqueConstraint("template_id", "language", "arm"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("templates.id", ondelete="CASCADE"))
    language: Mapped[str] = mapped_column(String(8))
    arm: Mapped[str] = mapped_column(String(8), default="A")
    body: Mapped[str] = mapped_column(Text)


class Provider(Base):
    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # a key of engine.providers' registry
    config: Mapped[dict[str, Any]] = mapped_column(JSON)
    tps: Mapped[int | None] = mapped_column(Integer, default=100)  # parts/s configured; NULL: not known
    priority: Mapped[int] = mapped_column(Integer, default=100)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


class ProviderStatus(Base):
    """What each sender last saw of its providers, written every few seconds: health for the
    router, figures for `engage provider status`."""

    __tablename__ = "provider_status"

    provider_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    worker: Mapped[str] = mapped_column(String(100), primary_key=True)  # host:pid of the sender
    healthy: Mapped[bool] = mapped_column(Boolean, default=True)
    binds_up: Mapped[int] = mapped_column(Integer, default=0)
    binds: Mapped[int] = mapped_column(Integer, default=0)
    in_flight: Mapped[int] = mapped_column(Integer, default=0)
    window: Mapped[int] = mapped_column(Integer, default=0)  # in-flight capacity: binds x window
    tps: Mapped[float] = mapped_column(Float, default=0.0)  # parts per second over the last interval
    submitted: Mapped[int] = mapped_column(BigInteger, default=0)  # counters since the sender started
    throttled: Mapped[int] = mapped_column(BigInteger, default=0)
    temporary_errors: Mapped[int] = mapped_column(BigInteger, default=0)
    permanent_errors: Mapped[int] = mapped_column(BigInteger, default=0)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(server_default=_now())


class Campaign(Base):
    """What to send to whom, when and under which rules; each occurrence of its schedule is a
    CampaignRun with its own frozen audience (engine.campaigns, engine.scheduler)."""

    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_next_run", "status", "next_run_at"),
                      Index("ix_campaigns_creation_key", "created_by", "creation_key", unique=True,
                            postgresql_where=text("creation_key IS NOT NULL"),
                            sqlite_where=text("creation_key IS NOT NULL")))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"))
    template_id: Mapped[int] = mapped_column(ForeignKey("templates.id"))
    sender_id: Mapped[str] = mapped_column(String(16))
    branch: Mapped[str | None] = mapped_column(String(64))  # set: only this branch's subscribers receive it
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    kind: Mapped[str] = mapped_column(String(16), default="marketing", server_default="marketing")
    schedule: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # scheduler.schedule spec; None: now
    timezone: Mapped[str | None] = mapped_column(String(64))  # the schedule's, and recipients' default
    local_time: Mapped[str | None] = mapped_column(String(5))  # "10:00": at that time in each recipient's zone
    quiet_hours: Mapped[str | None] = mapped_column(String(11))  # "21:00-09:00" in the recipient's zone
    deadline_minutes: Mapped[int | None] = mapped_column(Integer)  # a run's unsent messages expire then
    max_rate: Mapped[int | None] = mapped_column(Integer)  # messages per second, on top of provider limits
    cap: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # {"count": 1, "days": 7}: this campaign's own
    # how its effectiveness is judged (analytics/effectiveness): conversion kind and days, groups...
    analytics: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    control_share: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    seed: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    arms: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)  # [{"arm": "A", "share": 50}, ...]
    max_parts: Mapped[int | None] = mapped_column(SmallInteger)
    next_run_at: Mapped[datetime | None]
    audience_size: Mapped[int | None] = mapped_column(Integer)
    set_aside: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # reason -> count
    created_by: Mapped[str | None] = mapped_column(String(200))
    creation_key: Mapped[str | None] = mapped_column(String(64))  # the wizard's: one campaign per key and creator
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    submitted_by: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[datetime | None]
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None]
    # what the submission put before the approver (campaigns.submitted_content); runs send only that
    submitted_content: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    launched_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]


class CampaignRun(Base):
    """One occurrence of a campaign's schedule: launched once (unique per scheduled time, whoever
    races for it), with its own audience and figures; skipped runs say why."""

    __tablename__ = "campaign_runs"
    __table_args__ = (UniqueConstraint("campaign_id", "scheduled_for", name="uq_runs_campaign_time"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    scheduled_for: Mapped[datetime] = mapped_column()
    status: Mapped[str] = mapped_column(String(16))  # running | completed | skipped | cancelled | failed
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]  # the deadline: what is unsent then is expired
    audience_size: Mapped[int | None] = mapped_column(Integer)
    set_aside: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(String(300))


class Message(Base):
    """One recipient of one campaign: written once when the audience freezes."""

    __tablename__ = "messages"
    __table_args__ = (
        # the dispatcher's "next pending of this campaign, in id order" reads this index in order
        Index("ix_messages_campaign_status_id", "campaign_id", "status", "id"),
        # the sweeper's "stale claims and lost publishes": few rows at any time, so a small index.
        # `queued_at IS NOT NULL` keeps the senders' updates by id off it (migration 0013)
        Index("ix_messages_in_transit", "status", "claimed_at", "queued_at",
              postgresql_where=text("status IN ('queued', 'sending') AND queued_at IS NOT NULL"),
              sqlite_where=text("status IN ('queued', 'sending') AND queued_at IS NOT NULL")),
        # held messages (recipient-local time, quiet hours) released when their time comes
        Index("ix_messages_held", "not_before", postgresql_where=text("status = 'held'"),
              sqlite_where=text("status = 'held'")),
        # one number's messages, newest first: the subscriber page and the support desk
        Index("ix_messages_msisdn_id", "msisdn", "id"),
        # submitted messages awaiting their receipt, oldest first per provider: the sweeper's receipt
        # timeout reads only those past it (receipts.timeouts; migration 0020)
        Index("ix_messages_awaiting_receipt", "provider_id", "submitted_at",
              postgresql_where=text("status = 'submitted'"), sqlite_where=text("status = 'submitted'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # no foreign key: only the launch writes messages, for the campaign it holds locked, and
    # checking it cost a million-recipient launch 32 of its 46 seconds (migration 0015)
    campaign_id: Mapped[int] = mapped_column(Integer)
    subscriber_id: Mapped[int] = mapped_column(BigInteger)
    msisdn: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    body: Mapped[str | None] = mapped_column(Text)
    encoding: Mapped[str | None] = mapped_column(String(4))
    parts: Mapped[int | None] = mapped_column(SmallInteger)
    provider_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(64))
    price: Mapped[Decimal | None] = mapped_column(Numeric(14, 6))  # for all its parts, in `currency`
    currency: Mapped[str | None] = mapped_column(String(3))
    network: Mapped[str | None] = mapped_column(String(16))  # MCC-MNC or matched prefix the route was priced on
    tried_providers: Mapped[str | None] = mapped_column(String(200))  # "3,7": routes that rejected it (failover)
    run_id: Mapped[int | None] = mapped_column(Integer)
    batch_id: Mapped[str | None] = mapped_column(String(32))  # the send batch it is queued in (SendClaim)
    arm: Mapped[str | None] = mapped_column(String(8))  # the A/B arm it was sent (or held out) in
    not_before: Mapped[datetime | None]  # a `held` message waits until then (local time, quiet hours)
    created_at: Mapped[datetime] = mapped_column(server_default=_now())
    queued_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]  # a sender took it (status "sending"); a lease, swept when stale
    submitted_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]


class MessagePart(Base):
    """One submit_sm: a message of N parts has N rows, each with the provider's own id. The status
    of a part follows its receipt when the message has several (the message combines them); the one
    part of a single-part message stays `submitted`, its message's status being the answer."""

    __tablename__ = "message_parts"
    __table_args__ = (
        # the receipt's id leads: a batch of ids is then a range of index lookups, whatever the
        # statistics think of the provider (migration 0013)
        UniqueConstraint("provider_message_id", "provider_id", name="uq_parts_provider_id"),
        Index("ix_parts_message", "message_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigInteger)
    part_no: Mapped[int] = mapped_column(SmallInteger)
    provider_id: Mapped[int] = mapped_column(Integer)
    provider_message_id: Mapped[str] = mapped_column(String(72))
    # the same id in the other base (hex <-> decimal): providers' receipts may quote either
    alt_message_id: Mapped[str | None] = mapped_column(String(72), index=True)
    status: Mapped[str] = mapped_column(String(12), default="submitted")
    error: Mapped[str | None] = mapped_column(String(64))
    submitted_at: Mapped[datetime] = mapped_column(server_default=_now())
    done_at: Mapped[datetime | None]


class SendClaim(Base):
    """A sender took a send batch: one row per batch instead of one update per message. Only the
    sender whose row went in sends it; a batch delivered twice (a redelivery, a re-publish) finds
    the row and is skipped. A claim older than the lease whose messages are still queued is the
    work of a dead sender: the sweeper publishes them again in a new batch."""

    __tablename__ = "send_claims"

    batch_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer)
    claimed_at: Mapped[datetime] = mapped_column(server_default=_now(), index=True)


class Receipt(Base):
    """Every delivery receipt as received, matched or not: none is dropped."""

    __tablename__ = "receipts"
    __table_args__ = (
        Index("ix_receipts_lookup", "provider_id", "provider_message_id"),
        # the few receipts still waiting for their submit: a small index, whatever the table's size
        Index("ix_receipts_waiting", "id", postgresql_where=text("NOT matched AND NOT orphaned"),
              sqlite_where=text("NOT matched AND NOT orphaned")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer)
    provider_message_id: Mapped[str] = mapped_column(String(72))
    alt_message_id: Mapped[str | None] = mapped_column(String(72))  # the id in the other base, see message_ids
    stat: Mapped[str] = mapped_column(String(12))
    err: Mapped[str | None] = mapped_column(String(16))
    done_at: Mapped[datetime | None]
    matched: Mapped[bool] = mapped_column(Boolean, default=False)
    # matched nothing for ENGAGE_ORPHAN_AFTER seconds: kept, counted, no longer re-scanned
    orphaned: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(server_default=_now())


class Event(Base):
    """Every state change: the feed for progress, analytics, loyalty and alerts."""

    __tablename__ = "events"
    __table_args__ = (Index("ix_events_campaign_at", "campaign_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(server_default=_now())
    kind: Mapped[str] = mapped_column(String(32))
    campaign_id: Mapped[int | None] = mapped_column(Integer)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    # a batch's event (events.record_batch) stands for this many messages, their ids in data["message_ids"]
    message_count: Mapped[int] = mapped_column(Integer, server_default="1", default=1)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AuditEntry(Base):
    """Who did what, when, to which object: every state change made by a person."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(server_default=_now())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class RoutePrice(Base):
    """One line of a provider's price table: what one part to a prefix or a network costs from
    `valid_from` on. A row with both a prefix and an MCC-MNC also says which network the prefix is.

    "No prefix" / "no MCC-MNC" is stored as '' rather than NULL: NULLs are distinct in a unique
    index on both databases, and the key must be unique for a re-import to update in place."""

    __tablename__ = "route_prices"
    __table_args__ = (UniqueConstraint("provider_id", "prefix", "mcc_mnc", "valid_from", name="uq_route_prices_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    prefix: Mapped[str] = mapped_column(String(15), default="", server_default="")  # digits of E.164, no "+"
    mcc_mnc: Mapped[str] = mapped_column(String(7), default="", server_default="")  # "434-05"
    network: Mapped[str | None] = mapped_column(String(64))  # the operator's name, e.g. "Beeline UZ"
    price: Mapped[Decimal] = mapped_column(Numeric(14, 6))  # per message part
    currency: Mapped[str] = mapped_column(String(3))  # ISO 4217
    valid_from: Mapped[datetime]
    created_at: Mapped[datetime] = mapped_column(server_default=_now())


# the tables of people, jobs, what subscribers text, USSD, analytics and loyalty live beside this file; importing them
# here registers them in the metadata
from engage.engine.store import schema_loyalty  # noqa: E402
from engage.engine.store.schema_access import ApiToken, LoginAttempt, User, UserSession  # noqa: E402
from engage.engine.store.schema_analytics import AnalyticsWatermark, CampaignResult, CampaignResultState, CampaignStat  # noqa: E402
from engage.engine.store.schema_jobs import ImportJob  # noqa: E402
from engage.engine.store.schema_keywords import InboundMessage, Keyword  # noqa: E402
from engage.engine.store.schema_loyalty import *  # noqa: E402,F403 - every Loyalty* table (its __all__)
from engage.engine.store.schema_ussd import UssdGateway, UssdMenu, UssdSession  # noqa: E402

__all__ = ["AnalyticsWatermark", "ApiToken", "CampaignResult", "CampaignResultState", "CampaignStat", "ImportJob",
           "InboundMessage", "Keyword", "LoginAttempt", "User", "UserSession", "UssdGateway", "UssdMenu",
           "UssdSession", *schema_loyalty.__all__]

metadata = Base.metadata
