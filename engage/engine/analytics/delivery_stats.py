"""The delivery figures of campaigns (campaign_stats), folded from the event stream: the first
events consumer. A report then reads a few hundred rows per campaign, never its million messages.

Each event stands for messages (a batch event's data.message_ids, a per-message event's
message_id); each message is counted under its campaign, run, A/B arm, provider, network, the
campaign's branch, the hour of the event, the event's kind and the message's currency: how many,
what they cost (their prices, for `submitted` and `delivered`) and, for `delivered`, the seconds
from submit to receipt, summed (an average time to deliver is seconds / messages).

A message's dimensions are read when its event is folded, not when it happened: a fold that lags
behind (a restart after an outage) counts a message's `queued` under the provider it was finally
sent through. `failover` events name the provider that refused, and are counted under it.

Counts are of events, not of messages' final states: `queued` counts every queueing (a message
that failed over is queued again), and a message whose receipt came after its receipt timeout is
counted as `unconfirmed` and then as `delivered` (or whatever the receipt said).

`campaign_launched` adds a run's reach: its recipients and control group per arm (counted from the
run's messages, one query), and those set aside at launch and why (`set_aside:<reason>`)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Row, case, func, literal_column, select

from engage.engine import statuses as st
from engage.engine.analytics.consumers import consumer
from engage.engine.events import message_ids
from engage.engine.store.bulk import MAX_PARAMS, chunks, conflict_insert, one_of
from engage.engine.store.database import aware
from engage.engine.store.schema import Campaign, Message
from engage.engine.store.schema_analytics import CampaignStat

stats = CampaignStat.__table__

SENT = ("queued", st.SUBMITTED)
OUTCOMES = (st.DELIVERED, st.UNDELIVERED, st.EXPIRED, st.REJECTED, st.FAILED, st.UNCONFIRMED, st.CANCELLED,
            st.OPTED_OUT)
ANSWERS = ("replied", "answered")
MESSAGE_KINDS = (*SENT, *OUTCOMES, "failover", *ANSWERS)
LAUNCHED = "campaign_launched"
COSTED = (st.SUBMITTED, st.DELIVERED)
REACH = ("recipients", "control")
SET_ASIDE = "set_aside:"
DIMENSIONS = ("run_id", "arm", "provider_id", "network", "branch", "hour")
KEY = ("campaign_id", *DIMENSIONS, "kind", "currency")

Key = tuple[int, int, str, int, str, str, datetime, str, str]


@consumer("delivery_stats", kinds=(*MESSAGE_KINDS, LAUNCHED))
def fold(conn: Connection, events: Sequence[Row[Any]]) -> None:
    """Add the events' counts to campaign_stats: one read of their messages, one upsert."""
    sums: dict[Key, list[Any]] = defaultdict(lambda: [0, Decimal(0), 0.0])
    answered = _answered_messages(conn, [e for e in events if e.kind == "answered"])
    ids = {e.id: (answered.get(e.id, []) if e.kind == "answered" else message_ids(e)) for e in events
           if e.kind != LAUNCHED}
    found = _messages(conn, sorted({i for each in ids.values() for i in each}))
    branches = _branches(conn, {e.campaign_id for e in events if e.campaign_id is not None}
                         | {m.campaign_id for m in found.values()})
    # per message once: (campaign, run, arm, provider, network, branch, currency), price, seconds to deliver
    info = {i: ((c, run or 0, arm or "", provider or 0, network or "", branches.get(c, ""), currency or ""), price,
                max(0.0, float(secs or 0.0)))
            for i, c, run, arm, provider, network, price, currency, secs in found.values()}
    for e in events:
        if e.kind == LAUNCHED:
            continue
        hour = _hour(e.at)
        if e.kind == "answered" and not ids[e.id] and e.campaign_id is not None:  # no message of its number
            sums[(e.campaign_id, 0, "", 0, "", branches.get(e.campaign_id, ""), hour, e.kind, "")][0] += 1
            continue
        # a message removed since (its subscriber erased) has nothing to be counted under
        present = [info[i] for i in ids[e.id] if i in info]
        refused_by = (e.data or {}).get("provider_id") if e.kind == "failover" else None
        if refused_by:
            present = [((*d[:3], refused_by, *d[4:]), price, secs) for d, price, secs in present]
        for d, n in Counter(d for d, _, _ in present).items():  # the hot path: counted in C
            sums[(*d[:6], hour, e.kind, d[6])][0] += n
        if e.kind in COSTED or e.kind == st.DELIVERED:
            for d, price, secs in present:
                entry = sums[(*d[:6], hour, e.kind, d[6])]
                if e.kind in COSTED and price is not None:
                    entry[1] += price
                entry[2] += secs if e.kind == st.DELIVERED else 0.0
    _reach(conn, [e for e in events if e.kind == LAUNCHED], branches, sums)
    add(conn, sums)


def _messages(conn: Connection, ids: list[int]) -> dict[int, Row[Any]]:
    """The dimensions of these messages: one query (per 30,000 on SQLite, a statement's limit)."""
    found: dict[int, Row[Any]] = {}
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        seconds = func.extract("epoch", Message.done_at - Message.submitted_at)
    else:
        seconds = (func.julianday(Message.done_at) - func.julianday(Message.submitted_at)) * 86400.0
    for part in chunks(ids, max(len(ids) if postgres else MAX_PARAMS, 1)):
        for row in conn.execute(select(
                Message.id, Message.campaign_id, Message.run_id, Message.arm, Message.provider_id, Message.network,
                Message.price, Message.currency, seconds).where(one_of(conn, Message.id, part))):
            found[row[0]] = row
    return found


def _branches(conn: Connection, campaign_ids: set[int]) -> dict[int, str]:
    if not campaign_ids:
        return {}
    return {i: b or "" for i, b in conn.execute(select(Campaign.id, Campaign.branch).where(
        Campaign.id.in_(sorted(campaign_ids))))}


def _answered_messages(conn: Connection, events: list[Row[Any]]) -> dict[int, list[int]]:
    """An `answered` event names its campaign and number: the campaign's last message to that
    number is the one answered (one query for the batch)."""
    wanted = {(e.campaign_id, (e.data or {}).get("number")): e.id for e in events if e.campaign_id is not None}
    numbers = sorted({n for _, n in wanted if n})
    if not numbers:
        return {}
    latest = {(c, n): i for c, n, i in conn.execute(
        select(Message.campaign_id, Message.msisdn, func.max(Message.id))
        .where(one_of(conn, Message.msisdn, numbers), Message.campaign_id.in_(sorted({c for c, _ in wanted})),
               Message.status != st.CONTROL)
        .group_by(Message.campaign_id, Message.msisdn))}
    out: dict[int, list[int]] = {}
    for e in events:
        message_id = latest.get((e.campaign_id, (e.data or {}).get("number")))
        out[e.id] = [message_id] if message_id is not None else []
    return out


def _reach(conn: Connection, events: list[Row[Any]], branches: dict[int, str], sums: dict[Key, list[Any]]) -> None:
    """Each launched run's recipients and control group per arm (one query), and what its launch set
    aside and why (from the event)."""
    runs = {(e.data or {}).get("run"): e for e in events if e.campaign_id is not None}
    runs.pop(None, None)
    if not runs:
        return
    # inline, not bound: PostgreSQL matches the GROUP BY expression with the selected one by its text
    held = case((Message.status == literal_column("'control'"), literal_column("'control'")),
                else_=literal_column("'recipients'"))
    for run_id, arm, kind, n in conn.execute(
            select(Message.run_id, Message.arm, held, func.count())
            .where(Message.campaign_id.in_(sorted({e.campaign_id for e in runs.values()})),
                   Message.run_id.in_(sorted(runs)))
            .group_by(Message.run_id, Message.arm, held)):
        e = runs[run_id]
        sums[(e.campaign_id, run_id, arm or "", 0, "", branches.get(e.campaign_id, ""), _hour(e.at), kind, "")][0] += n
    for run_id, e in runs.items():
        for reason, n in (e.data or {}).items():
            if reason not in ("run", "recipients", "control") and isinstance(n, int) and n:
                key = (e.campaign_id, run_id, "", 0, "", branches.get(e.campaign_id, ""), _hour(e.at),
                       (SET_ASIDE + reason)[:32], "")
                sums[key][0] += n


def add(conn: Connection, sums: dict[Key, list[Any]]) -> None:
    """Add counts to campaign_stats: one INSERT ... ON CONFLICT DO UPDATE (per 2,000 rows on SQLite)."""
    if not sums:
        return
    sqlite = conn.dialect.name == "sqlite"
    rows = [{**dict(zip(KEY, (*k[:6], k[6].replace(tzinfo=None) if sqlite else k[6], *k[7:]), strict=True)),
             "messages": v[0], "cost": v[1], "seconds": v[2]} for k, v in sums.items()]
    size = MAX_PARAMS // len(stats.columns) if sqlite else len(rows)
    for part in chunks(rows, size):
        insert = conflict_insert(conn, stats).values(list(part))
        conn.execute(insert.on_conflict_do_update(index_elements=list(KEY), set_={
            "messages": stats.c.messages + insert.excluded.messages,
            "cost": stats.c.cost + insert.excluded.cost,
            "seconds": stats.c.seconds + insert.excluded.seconds}))


def _hour(at: datetime) -> datetime:
    return aware(at).replace(minute=0, second=0, microsecond=0)


def figures(conn: Connection, campaign_id: int, by: Sequence[str] = ()) -> list[dict[str, Any]]:
    """A campaign's delivery figures, per group of the dimensions in `by` (any of DIMENSIONS; none:
    the whole campaign): reach, counts per kind, delivery rate (delivered / submitted), average
    seconds to deliver, cost per currency (of the submitted messages) and cost per delivered message
    in each currency. Recipients and the control group have no provider or network (grouped under
    0 and ''); messages have their own."""
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown dimension {unknown[0]!r}: one of {', '.join(DIMENSIONS)}")
    columns = [stats.c[d] for d in by]
    groups: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in conn.execute(
            select(*columns, stats.c.kind, stats.c.currency, func.sum(stats.c.messages), func.sum(stats.c.cost),
                   func.sum(stats.c.seconds))
            .where(stats.c.campaign_id == campaign_id)
            .group_by(*columns, stats.c.kind, stats.c.currency).order_by(*columns)):
        key = tuple(aware(v) if d == "hour" else v for d, v in zip(by, row[:len(by)], strict=True))
        kind, currency, messages, cost, seconds = row[len(by):]
        group = groups.setdefault(key, _empty(dict(zip(by, key, strict=True))))
        _add_to(group, kind, currency, int(messages or 0), Decimal(str(cost or 0)), float(seconds or 0.0))
    return [_rates(g) for g in groups.values()]


def _empty(dims: dict[str, Any]) -> dict[str, Any]:
    return {**dims, **dict.fromkeys((*REACH, *SENT, *OUTCOMES, "failover", *ANSWERS), 0), "set_aside": {},
            "seconds": 0.0, "cost": {}, "delivered_by_currency": {}}


def _add_to(group: dict[str, Any], kind: str, currency: str, messages: int, cost: Decimal, seconds: float) -> None:
    if kind.startswith(SET_ASIDE):
        reason = kind[len(SET_ASIDE):]
        group["set_aside"][reason] = group["set_aside"].get(reason, 0) + messages
        return
    group[kind] = group.get(kind, 0) + messages
    if kind == st.SUBMITTED and currency:
        group["cost"][currency] = group["cost"].get(currency, Decimal(0)) + cost
    if kind == st.DELIVERED:
        group["seconds"] += seconds
        if currency:
            group["delivered_by_currency"][currency] = group["delivered_by_currency"].get(currency, 0) + messages


def _rates(group: dict[str, Any]) -> dict[str, Any]:
    seconds = group.pop("seconds")
    delivered_in = group.pop("delivered_by_currency")
    delivered, submitted = group[st.DELIVERED], group[st.SUBMITTED]
    group["delivery_rate"] = round(delivered / submitted, 4) if submitted else None
    group["avg_seconds_to_deliver"] = round(seconds / delivered, 3) if delivered else None
    group["cost_per_delivered"] = {c: (cost / delivered_in[c]).quantize(Decimal("0.000001"))
                                   for c, cost in group["cost"].items() if delivered_in.get(c)}
    return group
