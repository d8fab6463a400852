"""What happened to each recipient of a campaign, in one set-based statement: a temporary table of
one row per message (control group members included), from which refresh.py aggregates every
figure set with one GROUP BY each. The costly joins (usage events, MOs, USSD sessions) run once.

Per recipient:
- t0, the moment the windows open: delivery (done_at; submitted_at if the receipt carried no time)
  for a delivered message; the run's start for the control group, who got nothing, and for
  undelivered ones, who got nothing either. Treated and control are then compared on the same footing
  (every treated recipient counts, delivered or not: intention to treat, the unbiased comparison);
- responded: an MO from the number (a reply or a keyword, duplicates of one MO aside) or a USSD
  session it opened, in [t0, t0 + response window). The number is matched as stored in E.164, with
  or without its "+"; a gateway that sends national numbers ("0901234567") is not matched;
- conv_day: whole days from t0 to the first usage event of the conversion kind in
  [t0, t0 + N days), None when there is none (the window is half-open: an event at exactly N days
  is not counted, nor one a minute after);
- cost (its price once a provider took it, as engine.costs), currency, seconds from submit to receipt;
- g0..gk: its customer group values (groups.py).

Time arithmetic is the one place the databases differ: PostgreSQL adds intervals to timestamps,
SQLite's text timestamps get strftime (milliseconds kept, so text comparison stays exact)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    DateTime,
    Float,
    Integer,
    Interval,
    MetaData,
    Numeric,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    union_all,
)

from engage.engine import statuses as st
from engage.engine.analytics.effectiveness.groups import Group
from engage.engine.analytics.effectiveness.settings import Judging
from engage.engine.segments import audience
from engage.engine.segments import store as segments
from engage.engine.segments.criteria import compile_node
from engage.engine.store.schema import CampaignRun, InboundMessage, Message, Subscriber, UsageEvent, UssdSession

SQLITE_TIME = "%Y-%m-%d %H:%M:%f"


def facts_table(groups: int, postgres: bool) -> Table:
    """The temporary table of one refresh (dropped at commit on PostgreSQL, by drop() on SQLite)."""
    kw: dict[str, Any] = {"postgresql_on_commit": "DROP"} if postgres else {}
    return Table("effectiveness_facts", MetaData(),
                 Column("run_id", Integer), Column("arm", String(8)), Column("control", Integer),
                 Column("delivered", Integer), Column("in_flight", Integer), Column("responded", Integer),
                 Column("conv_day", Integer), Column("cost", Numeric(18, 6)), Column("currency", String(3)),
                 Column("seconds", Float), Column("t0", DateTime(timezone=True) if postgres else String(32)),
                 *[Column(f"g{i}", String(100)) for i in range(groups)], prefixes=["TEMPORARY"], **kw)


def _later(conn: Connection, moment: Any, seconds: int) -> ColumnElement[Any]:
    if conn.dialect.name == "postgresql":
        return moment + cast(literal(f"{int(seconds)} seconds"), Interval)
    return func.strftime(SQLITE_TIME, moment, f"+{int(seconds)} seconds")


def _as_time(conn: Connection, moment: Any) -> ColumnElement[Any]:
    """On SQLite a moment is text, compared as text: one form for all ("...:16.000"), as a server
    default writes none of the fraction ("...:16") and would sort before the same second with it."""
    return moment if conn.dialect.name == "postgresql" else func.strftime(SQLITE_TIME, moment)


def _seconds_between(conn: Connection, start: Any, end: Any) -> ColumnElement[float]:
    if conn.dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _whole_days(conn: Connection, start: Any, end: Any) -> ColumnElement[int]:
    if conn.dialect.name == "postgresql":
        return cast(func.floor(func.extract("epoch", end - start) / 86400), Integer)
    return cast(func.julianday(end) - func.julianday(start), Integer)  # truncates: floor, as end >= start


def fill(conn: Connection, table: Table, campaign_id: int, settings: Judging, on: date,
         since: datetime | None) -> int:
    """Write the campaign's recipients' facts into `table` (created here); returns how many.
    `on`: the date ages and tenures are counted on; `since`: the first run's start, a bound on the
    usage events and answers worth reading."""
    table.create(conn)
    m = Message.__table__
    delivered = m.c.status == st.DELIVERED
    start = func.coalesce(CampaignRun.started_at, m.c.created_at)
    t0 = _as_time(conn, case((delivered, func.coalesce(m.c.done_at, m.c.submitted_at, start)), else_=start))
    base = (select(m.c.id, m.c.subscriber_id, m.c.msisdn, func.coalesce(m.c.run_id, 0).label("run_id"),
                   func.coalesce(m.c.arm, "").label("arm"),
                   case((m.c.status == st.CONTROL, 1), else_=0).label("control"),
                   case((delivered, 1), else_=0).label("delivered"),
                   case((m.c.status.in_(st.IN_FLIGHT), 1), else_=0).label("in_flight"),
                   case((m.c.submitted_at.is_not(None), m.c.price)).label("cost"),
                   case((m.c.submitted_at.is_not(None), m.c.currency)).label("currency"),
                   case((and_(delivered, m.c.done_at.is_not(None), m.c.submitted_at.is_not(None)),
                         _seconds_between(conn, m.c.submitted_at, m.c.done_at))).label("seconds"),
                   t0.label("t0"))
            .select_from(m.outerjoin(CampaignRun.__table__, CampaignRun.id == m.c.run_id))
            .where(m.c.campaign_id == campaign_id).cte("recipients"))
    conv_end = _later(conn, base.c.t0, settings.conversion_days * 86400)
    usage = UsageEvent.__table__
    bounds = [usage.c.at >= since] if since is not None else []
    converted = (select(base.c.id, func.min(usage.c.at).label("first_at"))
                 .select_from(base.join(usage, and_(usage.c.subscriber_id == base.c.subscriber_id,
                                                    usage.c.kind == settings.conversion_kind, *bounds,
                                                    _as_time(conn, usage.c.at) >= base.c.t0,
                                                    _as_time(conn, usage.c.at) < conv_end)))
                 .group_by(base.c.id).subquery("converted"))
    answers = _answers(since)
    responded = (select(base.c.id).select_from(base.join(answers, and_(
        answers.c.msisdn == base.c.msisdn, _as_time(conn, answers.c.at) >= base.c.t0,
        _as_time(conn, answers.c.at) < _later(conn, base.c.t0, settings.response_hours * 3600)))
                 ).distinct().subquery("responded"))
    source = (base.outerjoin(converted, converted.c.id == base.c.id)
              .outerjoin(responded, responded.c.id == base.c.id))
    if settings.groups:
        source = source.outerjoin(Subscriber.__table__, Subscriber.id == base.c.subscriber_id)
    rows = select(base.c.run_id, base.c.arm, base.c.control, base.c.delivered, base.c.in_flight,
                  case((responded.c.id.is_not(None), 1), else_=0),
                  case((converted.c.first_at.is_not(None), _whole_days(conn, base.c.t0, converted.c.first_at))),
                  base.c.cost, base.c.currency, base.c.seconds, base.c.t0,
                  *[g.expression(on, _segment_condition(conn, g)) for g in settings.groups]).select_from(source)
    names = ["run_id", "arm", "control", "delivered", "in_flight", "responded", "conv_day", "cost", "currency",
             "seconds", "t0", *[f"g{i}" for i in range(len(settings.groups))]]
    written = conn.execute(table.insert().from_select(names, rows).execution_options(preserve_rowcount=True)).rowcount
    if written is None or written < 0:
        written = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return written


def _segment_condition(conn: Connection, group: Group) -> ColumnElement[bool] | None:
    """A segment group's segment as one condition on subscribers; None for another kind of group, or
    a segment deleted since it was chosen."""
    if group.segment is None:
        return None
    found = segments.get(conn, group.segment, None)
    return None if found is None else compile_node(found["definition"], ctx=audience.context(conn))


def _answers(since: datetime | None) -> Any:
    """Every answer a subscriber gave: MOs (a duplicate of one is the same answer) and USSD sessions
    opened, as (msisdn in E.164, at)."""
    mo = InboundMessage.__table__
    ussd = UssdSession.__table__
    number = case((mo.c.source.like("+%"), mo.c.source), else_=literal("+") + mo.c.source)
    texts = select(number.label("msisdn"), mo.c.received_at.label("at")).where(mo.c.duplicate_of.is_(None))
    sessions = select(ussd.c.msisdn.label("msisdn"), ussd.c.started_at.label("at"))
    if since is not None:
        texts = texts.where(mo.c.received_at >= since)
        sessions = sessions.where(ussd.c.started_at >= since)
    return union_all(texts, sessions).subquery("answers")


def drop(conn: Connection, table: Table) -> None:
    """SQLite keeps a temporary table for the connection's life: drop it before the pool reuses it."""
    if conn.dialect.name != "postgresql":
        table.drop(conn)
