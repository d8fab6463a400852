"""A campaign's figures while it sends, for its page's live progress and charts: messages by status
over time (from the events feed, bucketed in SQL so a million-message campaign returns sixty
numbers per series, not a million rows), and by provider and by network (grouped by the network's
key in SQL, then named by engine.networks: the groups one name covers are added up)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Integer, case, cast, func, select

from engage.engine import networks
from engage.engine.store.schema import Event, Message, Provider

SERIES = ("queued", "submitted", "delivered", "undelivered", "failed", "unconfirmed")


def _epoch(conn: Connection, column: Any) -> Any:
    if conn.dialect.name == "postgresql":
        return func.extract("epoch", column)
    return cast(func.strftime("%s", column), Integer)


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def timeline(conn: Connection, campaign_id: int, *, buckets: int = 60) -> dict[str, Any]:
    """Messages per event kind in `buckets` equal steps from the first event to the last (or now); a
    batch's event counts its messages."""
    first, last = conn.execute(select(func.min(Event.at), func.max(Event.at)).where(
        Event.campaign_id == campaign_id, Event.kind.in_(SERIES))).one()
    if first is None:
        return {"start": None, "step_seconds": 0, "series": {k: [] for k in SERIES}}
    start, end = _utc(first), _utc(last)
    step = max(1, math.ceil((end - start).total_seconds() / buckets) or 1)
    offset = (_epoch(conn, Event.at) - start.timestamp()) / step
    # PostgreSQL's integer cast rounds; SQLite's truncates, which is floor for these non-negative offsets
    bucket = cast(func.floor(offset), Integer) if conn.dialect.name == "postgresql" else cast(offset, Integer)
    rows = conn.execute(select(Event.kind, bucket, func.sum(Event.message_count)).where(
        Event.campaign_id == campaign_id, Event.kind.in_(SERIES)).group_by(Event.kind, bucket)).all()
    width = min(buckets, max((b for _, b, _ in rows), default=0) + 1)
    series = {k: [0] * width for k in SERIES}
    for kind, b, n in rows:
        series[kind][min(max(int(b), 0), width - 1)] += n
    return {"start": start.isoformat(), "step_seconds": step, "series": series}


def by_provider(conn: Connection, campaign_id: int) -> list[dict[str, Any]]:
    """Per provider the campaign's messages went to: counts by status."""
    rows = conn.execute(select(Provider.name, Message.status, func.count()).join(
        Provider, Provider.id == Message.provider_id).where(Message.campaign_id == campaign_id)
        .group_by(Provider.name, Message.status)).all()
    return _grouped(rows)


def by_network(conn: Connection, campaign_id: int) -> list[dict[str, Any]]:
    """Per destination network, by name: counts by status, and the keys routing priced its messages
    on (MCC-MNCs, prefixes; none for numbers no table priced, which are named by their first
    digits). Messages not routed yet are not counted."""
    unpriced = case((Message.network.is_(None), func.substr(Message.msisdn, 2, networks.NUMBER_DIGITS)))
    rows = conn.execute(select(Message.network, unpriced, Message.status, func.count()).where(
        Message.campaign_id == campaign_id, Message.provider_id.is_not(None))
        .group_by(Message.network, unpriced, Message.status)).all()
    named = networks.names(conn, {key for key, _, _, _ in rows if key is not None},
                           numbers={digits for key, digits, _, _ in rows if key is None and digits})
    out: dict[str, dict[str, Any]] = {}
    for key, digits, status, n in rows:
        name = named.get(key if key is not None else f"+{digits}", networks.UNKNOWN)
        group = out.setdefault(name, {"name": name, "total": 0, "counts": {}, "keys": set()})
        group["counts"][status] = group["counts"].get(status, 0) + n
        group["total"] += n
        if key is not None:
            group["keys"].add(key)
    return [{**g, "keys": sorted(g["keys"])} for _, g in sorted(out.items())]


def _grouped(rows: list[Any]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, int]] = {}
    for name, status, n in rows:
        out.setdefault(name, {})[status] = n
    return [{"name": name, "total": sum(c.values()), "counts": c} for name, c in sorted(out.items())]
