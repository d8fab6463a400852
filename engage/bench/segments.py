"""`engage bench segments`: how fast typical segments count, and how long freezing a large audience
takes, on a realistic synthetic base (engage.bench.synthetic) in the configured database.

Counting must be fast enough to show live while a marketer edits a segment, so each segment is
counted `repeats` times through the very function the UI and the API call, and reported as p50/p95:
first by the database ("sql_segments", what a process without live counts gets), then from the
in-memory frame the web process keeps ("segments", engine.segments.live; its answers are checked
against the database's), and from the frame while 1,000 subscribers change between two counts.
Run it on a bench database with no workers attached: the launch writes real (pending) messages for
a moment before they are removed again.
"""

from __future__ import annotations

import math
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, delete, func, select, update

from engage import config
from engage.bench import synthetic
from engage.engine import campaigns
from engage.engine import statuses as st
from engage.engine.segments import audience, live
from engage.engine.segments import store as segments_store
from engage.engine.segments.criteria import compile_node
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade
from engage.engine.store.schema import Campaign, Message, Subscriber
from engage.engine.templates import store as templates
from engage.engine.usage import totals as usage_totals

BODY = "Hi {{ first_name | default('friend') }}, double data this weekend in {{ city | default('your city') }}."

# What marketers build, from the simplest to the heaviest. "typical" is the reference:
# six criteria, AND with a nested OR, one usage aggregate and one relative date.
SEGMENTS: dict[str, dict[str, Any]] = {
    "typical": {"and": [
        {"field": "contract_type", "op": "eq", "value": "prepaid"},
        {"or": [{"field": "region", "op": "in", "value": ["Tashkent City", "Tashkent Region"]},
                {"field": "city", "op": "in", "value": ["Samarkand", "Bukhara"]}]},
        {"kind": "age", "op": "between", "value": [18, 45]},
        {"kind": "in_last_days", "field": "last_activity_at", "days": 30},
        {"kind": "usage", "usage": "call_out", "days": 30, "agg": "sum", "op": "ge", "value": 10},
    ]},
    "simple": {"field": "city", "op": "eq", "value": "Tashkent"},
    "usage_heavy": {"and": [
        {"or": [{"kind": "usage", "usage": "data", "days": 30, "agg": "sum", "op": "ge", "value": 500},
                {"kind": "usage", "usage": "call_out", "days": 7, "agg": "count", "op": "ge", "value": 2}]},
        {"kind": "usage", "usage": "recharge", "days": 60, "agg": "sum", "op": "ge", "value": 10},
        {"kind": "more_than_days_ago", "field": "last_recharge_at", "days": 7},
    ]},
    "tags_loyalty": {"and": [
        {"kind": "has_tag", "tags": ["music", "football"]},
        {"kind": "loyalty_tier", "tiers": ["gold", "platinum"]},
        {"field": "device_os", "op": "in", "value": ["android", "ios"]},
    ]},
    "birthday_tenure": {"and": [
        {"kind": "birthday_within", "days": 7},
        {"kind": "tenure", "op": "ge", "value": 365},
        {"not": {"field": "language", "op": "eq", "value": "en"}},
    ]},
}
CHANGED_PER_COUNT = 1000  # subscribers updated between two counts in segments_after_changes
# every bench subscriber: the audience a launch freezes
EVERYONE: dict[str, Any] = {"field": "msisdn", "op": "starts_with", "value": synthetic.PREFIX}


def run(subscribers: int, events_per_subscriber: int = 10, repeats: int = 15, launch: bool = True) -> dict[str, Any]:
    """Generate (or reuse) the base, refresh the planner's statistics, time each segment's count,
    and optionally a launch of every bench subscriber; one dict of figures, ready for JSON."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    url = config.load().database_url
    upgrade(url)
    engine = make_engine(url)
    try:
        generated = synthetic.generate(engine, subscribers, events_per_subscriber)
        refreshed = refresh_usage(engine, regenerated=not generated["reused"])
        analyse_seconds = analyse(engine)
        now = datetime.now(UTC)
        out: dict[str, Any] = {
            "database": engine.dialect.name, "subscribers": generated["subscribers"],
            "usage_events": generated["usage_events"], "tagged": generated["tagged"],
            "opted_out": generated["opted_out"], "data_reused": generated["reused"],
            "generate_seconds": generated["seconds"], "analyse_seconds": analyse_seconds,
            "usage_totals": refreshed,
            "repeats": repeats,
            "sql_segments": {name: time_count(engine, definition, repeats, now)
                             for name, definition in SEGMENTS.items()},
        }
        out["live_frame"] = load_live(engine)
        try:
            out["segments"] = {name: time_count(engine, definition, repeats, now)
                               for name, definition in SEGMENTS.items()}
            out["segments_after_changes"] = time_after_changes(engine, SEGMENTS["typical"], repeats)
        finally:
            live.disable(engine)
        for name, counted in out["segments"].items():
            if counted["matching"] != out["sql_segments"][name]["matching"]:
                raise AssertionError(f"segment {name}: {counted['matching']} counted in memory, "
                                     f"{out['sql_segments'][name]['matching']} by the database")
        if launch:
            out["launch"] = time_launch(engine, EVERYONE)
        return out
    finally:
        engine.dispose()


def refresh_usage(engine: Engine, *, regenerated: bool) -> dict[str, Any]:
    """Usage totals as production keeps them (refreshed hourly and after each usage import): fresh
    data gets a refresh, which is timed; reused data keeps totals less than an hour old."""
    with engine.connect() as conn:
        summed_at = usage_totals.as_of(conn)
    age = None if summed_at is None else (datetime.now(UTC) - summed_at).total_seconds()
    if regenerated or age is None or age > 3600:
        return {**usage_totals.refresh(engine), "refreshed": True}
    return {"as_of": summed_at.isoformat(), "age_seconds": round(age), "refreshed": False}


def analyse(engine: Engine) -> float:
    """Fresh planner statistics and visibility maps (index-only scans need them), as autovacuum would
    keep them in production; servers with autovacuum off get them only from this."""
    started = time.perf_counter()
    tables = "subscribers, subscriber_tags, usage_events, usage_totals, opt_outs, messages"
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"VACUUM ANALYZE {tables}")
        else:
            conn.exec_driver_sql("ANALYZE")
    return round(time.perf_counter() - started, 3)


def time_count(engine: Engine, definition: dict[str, Any], repeats: int, now: datetime | None = None
               ) -> dict[str, Any]:
    """A first (cold-plan) count, then `repeats` timed ones, each on a fresh checkout from the pool
    as a web request would get. `now`: the moment relative dates are counted from, so that counts
    taken a minute apart can be compared."""
    compile_node(definition)  # a definition the criteria reject is the bench's bug: say so at once
    timings, result = [], {}
    for i in range(repeats + 1):
        with engine.connect() as conn:
            started = time.perf_counter()
            result = audience.count(conn, definition, now=now)
            elapsed = (time.perf_counter() - started) * 1000
        if i:
            timings.append(elapsed)
        else:
            first = elapsed
    timings.sort()
    return {"p50_ms": round(statistics.median(timings), 1), "p95_ms": round(nearest_rank(timings, 0.95), 1),
            "min_ms": round(timings[0], 1), "first_ms": round(first, 1), "matching": result["matching"],
            "reachable": result.get("reachable")}


def load_live(engine: Engine) -> dict[str, Any]:
    """Live counts as the web process has them: the frame loaded once, then refreshed per count."""
    started = time.perf_counter()
    counts = live.enable(engine, wait=True)
    if counts.frame is None:
        raise RuntimeError(f"the live-count frame did not load: {counts.error}")
    return {"load_seconds": round(time.perf_counter() - started, 2), "subscribers": len(counts.frame),
            "memory_mb": round(counts.frame.memory_bytes() / 2**20, 1)}


def time_after_changes(engine: Engine, definition: dict[str, Any], repeats: int,
                       changed: int = CHANGED_PER_COUNT) -> dict[str, Any]:
    """Counts while the base changes: before each, `changed` subscribers get a new balance (as a
    running import or API upsert would), which the count's refresh reads back."""
    timings, refreshed = [], []
    for i in range(repeats):
        with engine.begin() as conn:
            first = conn.execute(select(func.min(Subscriber.id))).scalar_one() + i * changed
            conn.execute(update(Subscriber).where(Subscriber.id >= first, Subscriber.id < first + changed)
                         .values(balance=Subscriber.balance + 1, updated_at=func.now()))
        with engine.connect() as conn:
            started = time.perf_counter()
            result = audience.count(conn, definition)
            timings.append((time.perf_counter() - started) * 1000)
        refreshed.append(result.get("live", {}).get("changed", 0))
    timings.sort()
    return {"changed_per_count": changed, "p50_ms": round(statistics.median(timings), 1),
            "p95_ms": round(nearest_rank(timings, 0.95), 1), "rows_refreshed_p50": statistics.median(refreshed)}


def nearest_rank(ordered: list[float], q: float) -> float:
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def time_launch(engine: Engine, definition: dict[str, Any]) -> dict[str, Any]:
    """Freeze `definition` into a campaign's recipients through campaigns.launch (one INSERT ... SELECT),
    then complete the campaign and delete its messages so that reruns start clean."""
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    with engine.begin() as conn:
        segment_id = segments_store.create(conn, f"bench segments {stamp}", definition, actor="bench")
        template_id = templates.create(conn, f"bench segments {stamp}", {"en": BODY}, default_language="en",
                                       actor="bench")
        campaign_id = campaigns.create(conn, name=f"bench segments {stamp}", segment_id=segment_id,
                                       template_id=template_id, sender_id="Bench", actor="bench")
    started = time.perf_counter()
    launched = campaigns.launch(engine, campaign_id, actor="bench")
    seconds = time.perf_counter() - started
    with engine.begin() as conn:
        conn.execute(update(Campaign.__table__).where(Campaign.id == campaign_id).values(
            status=st.CAMPAIGN_COMPLETED))
        conn.execute(delete(Message.__table__).where(Message.campaign_id == campaign_id))
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM messages")  # the next launch should not wade through a million dead rows
    return {"launch_seconds": round(seconds, 3), "recipients": launched["recipients"],
            "set_aside": launched["set_aside"], "campaign_id": campaign_id}
