"""From a segment definition to the subscribers it selects: the live count with a sample, and
the condition that launching a campaign freezes into recipients.

Every question is asked within a scope: a user limited to a branch sees, counts and sends only
within it, and numbers are masked unless the scope may see them. Opted-out numbers are counted
apart, never silently dropped: one LEFT JOIN to the (small) opt-out registry in the same pass."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, func, select

from engage.engine.phones import mask
from engage.engine.segments import frame as frames
from engage.engine.segments import live
from engage.engine.segments.criteria import CompileContext, compile_node
from engage.engine.segments.errors import CountTooSlow
from engage.engine.segments.vector import CountOutOfTime
from engage.engine.store import time_budget
from engage.engine.store.schema import OptOut, Segment, Subscriber
from engage.engine.store.time_budget import OverBudget
from engage.engine.usage import totals as usage_totals
from engage.engine.users.scope import EVERYONE, Scope

COUNT_SECONDS = 10.0  # a count's time budget: one that takes longer is stopped and the segment is to be narrowed
SAMPLE_COLUMNS = (Subscriber.id, Subscriber.msisdn, Subscriber.first_name, Subscriber.last_name,
                  Subscriber.language, Subscriber.city, Subscriber.branch)


def context(conn: Connection, now: datetime | None = None, branch: str | None = None, *,
            masked: bool = False) -> CompileContext:
    """A compile context whose in_segment criteria read saved segments through this connection:
    those a user of ``branch`` sees (their branch's and the shared ones; every one for None). Another
    branch's segment is "not there", as everywhere else. ``masked``: see CompileContext.masked."""
    def load_segment(segment_id: int) -> dict[str, Any] | None:
        query = select(Segment.definition).where(Segment.id == segment_id)
        if branch is not None:
            query = query.where((Segment.branch == branch) | Segment.branch.is_(None))
        return conn.execute(query).scalar()

    return CompileContext(now=now or datetime.now(UTC), load_segment=load_segment,
                          usage=usage_totals.Reader(conn), masked=masked)


def condition(conn: Connection, definition: Any, scope: Scope = EVERYONE,
              now: datetime | None = None) -> ColumnElement[bool]:
    """The definition as one SQL condition on subscribers, limited to the scope's branch (the
    segments it includes too)."""
    compiled = compile_node(definition, ctx=context(conn, now, scope.branch, masked=not scope.show_numbers))
    return and_(compiled, Subscriber.branch == scope.branch) if scope.branch is not None else compiled


def opt_out_join(channel: str = "sms"):  # noqa: ANN201 - the ON clause of a LEFT JOIN
    return and_(OptOut.msisdn == Subscriber.msisdn, OptOut.channel == channel)


def count(conn: Connection, definition: Any, *, scope: Scope = EVERYONE, channel: str = "sms",
          sample: int = 0, now: datetime | None = None, timeout: float | None = None) -> dict[str, Any]:
    """How many match, how many of them opted out of the channel, how many can be reached, and on
    request a few of the reachable ones to look at (a second pass: live counting goes without).
    Where live counts are enabled (engine.segments.live) the in-memory frame answers, with the
    same condition; "live" then holds its figures. Asked inside a transaction, or while the frame
    cannot serve (loading, or more changed rows than a refresh reads), the database answers.
    CountTooSlow past ``timeout`` seconds (None: COUNT_SECONDS; math.inf: no budget), the database's
    work stopped with it."""
    started = time.perf_counter()
    timeout = COUNT_SECONDS if timeout is None else timeout
    counts = live.counts_for(conn)
    if counts is not None and not conn.in_transaction():  # inside one, its own uncommitted rows would leak in
        mark = frames.watermark(conn)  # before the count's snapshot
        with consistent(conn), budget(conn, timeout) as deadline:
            where = condition(conn, definition, scope, now)
            answered = counts.count(conn, mark, where, channel, sample, deadline)
            rows = live.sample_rows(conn, answered.sample, SAMPLE_COLUMNS) if answered else []
        if answered is not None:
            return _answer(answered.matching, answered.opted_out, rows, scope, started, live=answered.figures)
    with consistent(conn), budget(conn, timeout):
        where = condition(conn, definition, scope, now)
        joined = Subscriber.__table__.outerjoin(OptOut.__table__, opt_out_join(channel))
        matching, out = conn.execute(
            select(func.count(), func.count(OptOut.msisdn)).select_from(joined).where(where)).one()
        rows = []
        if sample > 0 and matching > out:
            # by id, as a live sample: a plan reading the msisdn index would otherwise list masked numbers in order
            rows = conn.execute(select(*SAMPLE_COLUMNS).select_from(joined).where(
                where, OptOut.msisdn.is_(None)).order_by(Subscriber.id).limit(sample)).all()
    return _answer(matching, out, rows, scope, started)


@contextmanager
def budget(conn: Connection, seconds: float) -> Iterator[float | None]:
    """A count's time budget (store.time_budget): the database stops its statements after
    ``seconds``; the deadline it yields bounds the live frame's work in Python. CountTooSlow when
    either passes it, so that it is reported as a segment too costly for this base. math.inf: no budget."""
    try:
        with time_budget.budget(conn, seconds) as deadline:
            yield deadline
    except (OverBudget, CountOutOfTime):
        raise CountTooSlow(seconds) from None


def _answer(matching: int, out: int, rows: list[Any], scope: Scope, started: float, **extra: Any) -> dict[str, Any]:
    return {"matching": matching, "opted_out": out, "reachable": matching - out,
            "sample": [_sample_row(r, scope) for r in rows], **extra,
            "took_ms": round((time.perf_counter() - started) * 1000, 1)}


@contextmanager
def consistent(conn: Connection) -> Iterator[None]:
    """Compiling reads the usage totals' as_of and the query then reads the totals: on PostgreSQL
    both happen in one REPEATABLE READ snapshot, so a refresh committing in between cannot make
    the correction count events twice. Also no JIT (its compile time exceeds a count's run time)
    and room for the hash tables. A connection already in a transaction is used as it is."""
    if conn.dialect.name != "postgresql" or conn.in_transaction():
        yield
        return
    conn.execution_options(isolation_level="REPEATABLE READ")
    try:
        with conn.begin():
            tune(conn)
            yield
    finally:
        conn.execution_options(isolation_level=conn.default_isolation_level)


def tune(conn: Connection) -> None:
    """Settings for one segment query on PostgreSQL, for the current transaction only."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")


def _sample_row(row: Any, scope: Scope) -> dict[str, Any]:
    out = dict(row._mapping)
    if not scope.show_numbers:
        out["msisdn"] = mask(out["msisdn"])
    return out


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A transaction that sees one snapshot throughout (REPEATABLE READ on PostgreSQL), for writing
    an audience: see consistent()."""
    level = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
    with engine.connect().execution_options(**level) as conn, conn.begin():
        yield conn
