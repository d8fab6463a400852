"""A campaign's outcome figures computed and stored in campaign_results, replacing its previous rows
in one transaction (a report never sees half a refresh), and `refresh_due`, which the events worker
calls every minute to keep the campaigns whose windows are still open up to date.

Set-based throughout: one statement writes every recipient's facts (facts.py), then one GROUP BY per
figure set (everyone, each customer group, the conversion curve) reads them back; a million
recipients are a few hundred rows in campaign_results."""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select

from engage.engine.analytics.effectiveness import facts
from engage.engine.analytics.effectiveness.settings import Judging, SettingsError, parse, settings_of
from engage.engine.campaigns.kinds import REPLY_KIND
from engage.engine.campaigns.trial_sends import TEST_KIND
from engage.engine.store.database import aware
from engage.engine.store.schema import Campaign, CampaignResult, CampaignResultState, CampaignRun

log = logging.getLogger(__name__)

results, states = CampaignResult.__table__, CampaignResultState.__table__
COUNTS = ("recipients", "delivered", "responded", "converted")
BUDGET_SECONDS = 20.0  # refresh_due's time per call: the worker calls it every minute
MIN_INTERVAL = timedelta(minutes=5)  # an open campaign is recomputed at most this often...
COST_FACTOR = 20  # ...or less often still: at most 1/20 of the time goes to recomputing it


def refresh(engine: Engine, campaign_id: int, *, now: datetime | None = None) -> dict[str, Any]:
    """Recompute one campaign's figures; returns {"campaign_id", "recipients", "rows", "seconds",
    "closes_at"}. LookupError for a campaign that does not exist."""
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")
        out = _refresh(conn, campaign_id, now)
        seconds = round(time.perf_counter() - started, 3)
        conn.execute(states.update().where(CampaignResultState.campaign_id == campaign_id).values(seconds=seconds))
    return {**out, "seconds": seconds}


def _refresh(conn: Connection, campaign_id: int, now: datetime) -> dict[str, Any]:
    settings = settings_of(conn, campaign_id)
    launched, since = conn.execute(
        select(Campaign.launched_at, select(func.min(CampaignRun.started_at))
               .where(CampaignRun.campaign_id == campaign_id).scalar_subquery())
        .where(Campaign.id == campaign_id)).one()
    on = aware(since or launched or now).date()
    table = facts.facts_table(len(settings.groups), conn.dialect.name == "postgresql")
    recipients = facts.fill(conn, table, campaign_id, settings, on, since)
    try:
        rows, closes_at = _figures(conn, table, settings, campaign_id, now)
    finally:
        facts.drop(conn, table)
    conn.execute(delete(results).where(CampaignResult.campaign_id == campaign_id))
    if rows:
        conn.execute(insert(results), rows)
    conn.execute(delete(states).where(CampaignResultState.campaign_id == campaign_id))
    conn.execute(insert(states).values(campaign_id=campaign_id, settings=settings.as_json(), computed_at=now,
                                       closes_at=closes_at, messages=recipients, seconds=0.0))
    return {"campaign_id": campaign_id, "recipients": recipients, "rows": len(rows),
            "closes_at": closes_at.isoformat() if closes_at else None}


def _figures(conn: Connection, table: Any, settings: Judging, campaign_id: int, now: datetime
             ) -> tuple[list[dict[str, Any]], datetime | None]:
    """Every figure set as campaign_results rows, and when the last window closes (None while
    messages are still on their way, whose delivery would open new windows)."""
    c = table.c
    keys = (c.run_id, c.arm, c.control, c.currency)
    measures = (func.count(), func.sum(c.delivered), func.sum(c.responded), func.count(c.conv_day),
                func.sum(c.cost), func.sum(c.seconds))
    totals = conn.execute(select(*keys, *measures, func.sum(c.in_flight), func.max(c.t0)).group_by(*keys)).all()
    main = _main_currency(totals)
    several = len({row[3] for row in totals if row[3]}) > 1
    acc: dict[tuple[Any, ...], dict[str, Any]] = {}
    in_flight, last_t0 = 0, None
    for run_id, arm, control, currency, *figures, flying, t0 in totals:
        _add(acc, (run_id, "", "", arm, bool(control)), currency, main, figures)
        in_flight += flying or 0
        t0 = _moment(t0)
        last_t0 = t0 if last_t0 is None or (t0 is not None and t0 > last_t0) else last_t0
        if several and currency:
            _add(acc, (run_id, "currency", currency, arm, bool(control)), currency, currency, figures)
    for i, group in enumerate(settings.groups):
        column = c[f"g{i}"]
        for run_id, arm, control, currency, value, *figures in conn.execute(
                select(*keys, column, *measures).group_by(*keys, column)).all():
            _add(acc, (run_id, group.name, value or "", arm, bool(control)), currency, main, figures)
    curve = defaultdict(int)
    for run_id, arm, control, day, n in conn.execute(
            select(c.run_id, c.arm, c.control, c.conv_day, func.count()).where(c.conv_day.is_not(None))
            .group_by(c.run_id, c.arm, c.control, c.conv_day)).all():
        curve[(run_id, arm, bool(control), int(day))] += n
    for (run_id, dimension, _, arm, control), whole in list(acc.items()):
        if dimension:
            continue
        converted = 0
        for day in range(settings.conversion_days):
            converted += curve.get((run_id, arm, control, day), 0)
            acc[(run_id, "day", str(day), arm, control)] = {
                **dict.fromkeys(COUNTS, 0), "recipients": whole["recipients"], "converted": converted,
                "cost": Decimal(0), "currency": "", "seconds": 0.0}
    rows = [{"campaign_id": campaign_id, "run_id": k[0], "dimension": k[1], "grp": k[2][:100], "arm": k[3],
             "control": k[4], **v, "computed_at": now} for k, v in sorted(acc.items())]
    window = max(timedelta(days=settings.conversion_days), timedelta(hours=settings.response_hours))
    closes_at = None if in_flight or last_t0 is None else last_t0 + window
    return rows, closes_at


def _main_currency(totals: list[Any]) -> str:
    """The currency most priced messages were charged in: the one `cost` is counted in."""
    priced: dict[str, int] = defaultdict(int)
    for _, _, _, currency, n, *_ in totals:
        if currency:
            priced[currency] += n
    return max(sorted(priced), key=priced.__getitem__) if priced else ""


def _add(acc: dict[tuple[Any, ...], dict[str, Any]], key: tuple[Any, ...], currency: str | None, main: str,
         figures: list[Any]) -> None:
    n, delivered, responded, converted, cost, seconds = figures
    row = acc.setdefault(key, {**dict.fromkeys(COUNTS, 0), "cost": Decimal(0), "currency": main, "seconds": 0.0})
    row["recipients"] += n
    row["delivered"] += int(delivered or 0)
    row["responded"] += int(responded or 0)
    row["converted"] += int(converted or 0)
    row["seconds"] += float(seconds or 0.0)
    if cost is not None and currency == main:
        row["cost"] += Decimal(str(cost))


def _moment(value: Any) -> datetime | None:
    """A timestamp as either database returns it (SQLite: text in UTC)."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return aware(value)


def refresh_due(engine: Engine, now: datetime | None = None, *, budget: float = BUDGET_SECONDS) -> dict[str, Any]:
    """Recompute, within `budget` seconds, the campaigns that need it: never computed, judged by
    settings changed since, with a run started since, or whose windows were still open at the last
    computation (each at most every MIN_INTERVAL, or COST_FACTOR times its last refresh's duration;
    once more right after its windows close, then never again). Returns {"refreshed": [campaign ids],
    "waiting": those left for the next call, "failed": {id: error}, "seconds"}."""
    now = now or datetime.now(UTC)
    started = time.perf_counter()
    with engine.connect() as conn:
        due = _due(conn, aware(now))
    done: list[int] = []
    failed: dict[int, str] = {}
    for i, campaign_id in enumerate(due):
        if time.perf_counter() - started > budget:
            return {"refreshed": done, "waiting": due[i:], "failed": failed,
                    "seconds": round(time.perf_counter() - started, 3)}
        try:
            refresh(engine, campaign_id, now=now)
            done.append(campaign_id)
        except (SettingsError, LookupError) as exc:  # a campaign's own problem: the others go on
            failed[campaign_id] = str(exc)
            log.warning("effectiveness of campaign %s not computed: %s", campaign_id, exc)
    return {"refreshed": done, "waiting": [], "failed": failed, "seconds": round(time.perf_counter() - started, 3)}


def _due(conn: Connection, now: datetime) -> list[int]:
    last_run = (select(func.max(CampaignRun.started_at)).where(CampaignRun.campaign_id == Campaign.id)
                .scalar_subquery())
    rows = conn.execute(
        select(Campaign.id, Campaign.analytics, last_run, CampaignResultState.settings,
               CampaignResultState.computed_at, CampaignResultState.closes_at, CampaignResultState.seconds)
        .outerjoin(CampaignResultState.__table__, CampaignResultState.campaign_id == Campaign.id)
        .where(Campaign.launched_at.is_not(None), Campaign.kind.not_in((TEST_KIND, REPLY_KIND)))).all()
    ranked: list[tuple[int, datetime, int]] = []
    for campaign_id, analytics, run_at, judged, computed_at, closes_at, seconds in rows:
        if computed_at is None:
            ranked.append((0, now, campaign_id))
            continue
        computed_at = aware(computed_at)
        try:
            changed = parse(analytics).as_json() != judged
        except SettingsError:
            continue  # settings no refresh can use; set_settings refuses them, so someone wrote them by hand
        if changed or (run_at is not None and aware(run_at) > computed_at):
            ranked.append((1, computed_at, campaign_id))
        elif closes_at is None or aware(closes_at) > computed_at:
            final = closes_at is not None and now >= aware(closes_at)
            if final or now - computed_at >= max(MIN_INTERVAL, timedelta(seconds=COST_FACTOR * (seconds or 0))):
                ranked.append((2, computed_at, campaign_id))
    return [campaign_id for _, _, campaign_id in sorted(ranked)]
