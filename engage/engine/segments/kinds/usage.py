"""Kind "usage": what a subscriber did on the network over the last N days, aggregated.

    {"kind": "usage", "usage": "call_out", "days": 30, "agg": "sum", "op": "ge", "value": 100}
        100+ outgoing minutes in the last 30 days
    {"kind": "usage", "usage": "recharge", "days": 60, "agg": "count", "op": "eq", "value": 0}
        no recharge in 60 days (includes subscribers with no events at all)
    {"kind": "usage", "usage": "data", "days": 7, "agg": "days_active", "op": "between", "value": [1, 3]}

usage: call_out | call_in | data | sms_out | recharge | purchase. agg: sum of amount (the kind's
unit: minutes, MB, messages, money; default), count of events, or days_active (distinct UTC days
with an event). The window is now - N days .. now, bound as constants so the
(kind, at, subscriber_id, amount) index serves the scan. Zero-including comparisons (lt, le,
eq 0, between from 0 ...) match subscribers with no events too."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, distinct, func, select

from engage.engine.segments.criteria import CompileContext, Param, criterion
from engage.engine.segments.kinds._values import OPS, by_threshold, get_choice, get_int, get_threshold, utc, utc_day
from engage.engine.store.schema import UsageEvent

USAGE_KINDS = ("call_out", "call_in", "data", "sms_out", "recharge", "purchase")
AGGREGATES = ("sum", "count", "days_active")


@criterion("usage", params=(
    Param("usage", "string", f"one of {', '.join(USAGE_KINDS)}"),
    Param("days", "integer", "the window: the last N days (1 to 3660)"),
    Param("agg", "string", "sum (default), count or days_active", required=False),
    Param("op", "operator", f"one of {', '.join(OPS)}; default ge", required=False),
    Param("value", "number", "the threshold; [low, high] for between"),
))
def usage(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """Network usage (calls, data, SMS, recharges, purchases) over the last N days compared with a value."""
    kind = get_choice(node, "usage", path, USAGE_KINDS)
    days = get_int(node, "days", path, minimum=1, maximum=3660)
    agg = get_choice(node, "agg", path, AGGREGATES, "sum")
    threshold = get_threshold(node, path)
    now = utc(ctx.now)
    grouped = (select(UsageEvent.subscriber_id)
               .where(UsageEvent.kind == kind, UsageEvent.at >= now - timedelta(days=days), UsageEvent.at <= now)
               .group_by(UsageEvent.subscriber_id).correlate(None))
    aggregate = {"sum": lambda: func.sum(UsageEvent.amount), "count": lambda: func.count(),
                 "days_active": lambda: func.count(distinct(utc_day(UsageEvent.at)))}[agg]()
    return by_threshold(grouped, aggregate, threshold)
