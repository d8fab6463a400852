"""Kind "usage": what a subscriber did on the network over the last N days, aggregated.

    {"kind": "usage", "usage": "call_out", "days": 30, "agg": "sum", "op": "ge", "value": 100}
        100+ outgoing minutes in the last 30 days
    {"kind": "usage", "usage": "recharge", "days": 60, "agg": "count", "op": "eq", "value": 0}
        no recharge in 60 days (includes subscribers with no events at all)
    {"kind": "usage", "usage": "data", "days": 7, "agg": "days_active", "op": "between", "value": [1, 3]}

usage: call_out | call_in | data | sms_out | recharge | purchase. agg: sum of amount (the kind's
unit: minutes, MB, messages, money; default), count of events, or days_active (distinct UTC days
with an event). The window is now - N days .. now. Zero-including comparisons (lt, le, eq 0,
between from 0 ...) match subscribers with no events too.

Sums and counts over the standard windows (engine.usage.totals.WINDOWS) read the usage totals and
correct them with the events between the totals' as_of and now: exact, and an index range
instead of a million-row aggregate (1.2 s to ~0.2 s for the bench's typical segment). Other windows
and days_active aggregate the events, bound as
constants so the (kind, at, subscriber_id, amount) index serves the scan."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, distinct, func, or_, select

from engage.engine.segments import vocabulary
from engage.engine.segments.criteria import CompileContext, Param, criterion
from engage.engine.segments.kinds._values import (
    Threshold,
    by_threshold,
    compare,
    compare_not,
    get_choice,
    get_int,
    get_threshold,
    threshold_op,
    utc,
    utc_day,
)
from engage.engine.store.schema import Subscriber, UsageEvent, UsageTotal
from engage.engine.usage import USAGE_KINDS
from engage.engine.usage.totals import SUMMED, WINDOWS
from engage.engine.usage.totals import Reader as UsageTotals

MAX_CORRECTIONS = 10_000  # more subscribers moved since the totals' as_of: read the events instead

AGGREGATES = ("sum", "count", "days_active")


@criterion("usage", label="Network usage", params=(
    Param("usage", "string", f"one of {', '.join(USAGE_KINDS)}", label="usage",
          options=tuple((kind, vocabulary.USAGE_LABELS.get(kind) or vocabulary.tidy(kind)) for kind in USAGE_KINDS),
          ask="choose what usage to count"),
    Param("days", "integer", "the window: the last N days (1 to 3660)", label="in the last N days",
          ask="enter a number of days from 1 to 3660"),
    Param("agg", "string", "sum (default), count or days_active", required=False, default="sum", label="measured as",
          options=(("sum", "total amount"), ("count", "number of times"), ("days_active", "days with any"))),
    threshold_op(),
    Param("value", "number", "the threshold; [low, high] for between", label="amount", ask="enter a number"),
))
def usage(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """Network usage (calls, data, SMS, recharges, purchases) over the last N days compared with a value."""
    kind = get_choice(node, "usage", path, USAGE_KINDS)
    days = get_int(node, "days", path, minimum=1, maximum=3660)
    agg = get_choice(node, "agg", path, AGGREGATES, "sum")
    threshold = get_threshold(node, path)
    now = utc(ctx.now)
    if agg in SUMMED and days in WINDOWS and ctx.usage is not None:
        from_totals = _from_totals(ctx.usage, kind, days, agg, threshold, now)
        if from_totals is not None:
            return from_totals
    grouped = (select(UsageEvent.subscriber_id)
               .where(UsageEvent.kind == kind, UsageEvent.at >= now - timedelta(days=days), UsageEvent.at <= now)
               .group_by(UsageEvent.subscriber_id).correlate(None))
    aggregate = {"sum": lambda: func.sum(UsageEvent.amount), "count": lambda: func.count(),
                 "days_active": lambda: func.count(distinct(utc_day(UsageEvent.at)))}[agg]()
    return by_threshold(grouped, aggregate, threshold)


def _from_totals(totals: UsageTotals, kind: str, days: int, agg: str, t: Threshold, now: datetime
                 ) -> ColumnElement[bool] | None:
    """Only the subscribers whose verdict the corrections change are named: "leavers" are taken out
    of the totals' range, "joiners" added beside it. With no joiners (usual right after a refresh)
    the test stays one IN over an index range, a semi-join the planner hashes in parallel. For a
    zero-including threshold the same is done for "fails" and the test is NOT IN. None: the totals
    cannot help (never computed, or too old)."""
    summed_at = totals.as_of()
    if summed_at is None or abs(now - summed_at) >= timedelta(days=days):
        return None
    moved = totals.corrections(kind, days, agg, now, MAX_CORRECTIONS)
    if moved is None:
        return None
    zero_in = t.holds_for_zero()  # then select everyone but those who fail

    def verdict(x: float) -> bool:  # True: in the set the SQL names (passing; or failing when zero_in)
        return t.holds(x) != zero_in

    leavers = [c.subscriber_id for c in moved if verdict(c.stored or 0.0) and not verdict(c.value)]
    joiners = [c.subscriber_id for c in moved if verdict(c.value) and not verdict(c.stored or 0.0)]
    value = UsageTotal.total if agg == "sum" else UsageTotal.events
    test = (compare_not if zero_in else compare)(value, t)
    if leavers:
        test = and_(test, UsageTotal.subscriber_id.not_in(leavers))
    named = select(UsageTotal.subscriber_id).where(UsageTotal.kind == kind, UsageTotal.days == days,
                                                   test).correlate(None)
    if zero_in:
        kept = Subscriber.id.not_in(named)
        return and_(kept, Subscriber.id.not_in(joiners)) if joiners else kept
    chosen = Subscriber.id.in_(named)
    return or_(chosen, Subscriber.id.in_(joiners)) if joiners else chosen
