"""What one run of a dataset reads and which partitions it adds to or replaces.

- append: rows with key in (watermark, highest settled key]. "Settled": written before the cutoff
  (now - ENGAGE_EXPORT_SETTLE, 60 s by default), so a row whose transaction was still open when the
  run looked (its id taken, not yet visible) is not jumped over.
- snapshot: the dataset says which dates changed since its cursor (`touched`); those partitions are
  read whole and replaced.
- small: everything is read; a partition is replaced when its content's digest changed.
- --since DATE, a first run, or a schema version the files do not have: every partition from that
  date (from the beginning) is rebuilt and replaced, for every mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from engage.engine.analytics.exports import personal
from engage.engine.analytics.exports.reading import ReadSession
from engage.engine.analytics.exports.spec import Dataset
from engage.engine.analytics.exports.state import ExportState


@dataclass
class Plan:
    where: str  # besides the dataset's own
    params: dict[str, Any]
    replace: set[date] | None  # None: the files are added to their partitions
    keep: set[date] | None  # only rows of these dates are written (None: all read)
    cursor: dict[str, Any]  # the cursor once published
    last_id: int
    whole: bool = False  # small datasets: read everything, compare digests
    estimate: int | None = None  # rows, when cheaply known (the progress bar's total)
    notes: dict[str, Any] = field(default_factory=dict)


def bound(session: ReadSession, moment: datetime) -> Any:
    """A timestamp parameter compared with stored ones: aware for PostgreSQL, naive UTC text for SQLite."""
    moment = moment.astimezone(UTC)
    if session.dialect == "postgresql":
        return moment
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f" if moment.microsecond else "%Y-%m-%d %H:%M:%S")


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def settled_key(session: ReadSession, table: str, key: str, timestamp: str, cutoff: datetime | None,
                where: str = "") -> int:
    """The highest key of rows written before the cutoff (read backwards along the key's index)."""
    condition = f" AND {where}" if where else ""
    if cutoff is None:
        return int(session.scalar(f"SELECT max({key}) FROM {table} WHERE 1 = 1{condition}") or 0)
    found = session.scalar(f"SELECT {key} FROM {table} WHERE {timestamp} <= :cutoff{condition} "
                           f"ORDER BY {key} DESC LIMIT 1", {"cutoff": bound(session, cutoff)})
    return int(found or 0)


def plan(session: ReadSession, dataset: Dataset, state: ExportState | None, *, cutoff: datetime | None,
         since: date | None, existing: set[date]) -> Plan:
    rebuild_from = since
    if state is None or state.version != dataset.version:
        rebuild_from = date.min  # first run, or files of another schema version: everything again
    if dataset.mode == "small":
        return Plan(where="", params={}, replace=None, keep=None, cursor={}, last_id=0, whole=True,
                    notes={"rebuild": rebuild_from is not None})
    if dataset.mode == "append":
        return _append(session, dataset, state, cutoff, rebuild_from, existing)
    return _snapshot(session, dataset, state, cutoff, rebuild_from, existing)


def _append(session: ReadSession, dataset: Dataset, state: ExportState | None, cutoff: datetime | None,
            rebuild_from: date | None, existing: set[date]) -> Plan:
    base, key = dataset.extra["table"], dataset.extra["table_key"]
    high = settled_key(session, base, key, dataset.extra["table_time"], cutoff)
    if rebuild_from is not None:
        where, params = f"{dataset.key} <= :high", {"high": high}
        if rebuild_from > date.min:
            where += f" AND {dataset.time} >= :since"
            params["since"] = bound(session, day_start(rebuild_from))
        replace = {d for d in existing if d >= rebuild_from}
        return Plan(where, params, replace, None, {"id": high}, high)
    low = int(state.cursor.get("id", 0)) if state else 0
    high = max(high, low)
    return Plan(f"{dataset.key} > :low AND {dataset.key} <= :high", {"low": low, "high": high}, None, None,
                {"id": high}, high, estimate=high - low)


def _snapshot(session: ReadSession, dataset: Dataset, state: ExportState | None, cutoff: datetime | None,
              rebuild_from: date | None, existing: set[date]) -> Plan:
    assert dataset.touched is not None
    now_cursor = dataset.touched(session, None, cutoff)
    if rebuild_from is not None:
        where, params = f"{dataset.key} <= :high", {"high": now_cursor.last_id}
        if rebuild_from > date.min:
            where += f" AND {dataset.time} >= :since"
            params["since"] = bound(session, day_start(rebuild_from))
        return Plan(where, params, {d for d in existing if d >= rebuild_from}, None, now_cursor.cursor,
                    now_cursor.last_id)
    assert state is not None
    changes = dataset.touched(session, state, cutoff)
    if not changes.dates:
        return Plan("1 = 0", {}, set(), set(), changes.cursor, changes.last_id)
    params: dict[str, Any] = {}
    ranges = []
    for i, (first, last) in enumerate(_runs(sorted(changes.dates))):
        params[f"from{i}"], params[f"to{i}"] = (bound(session, day_start(first)),
                                                bound(session, day_start(last + timedelta(days=1))))
        ranges.append(f"({dataset.time} >= :from{i} AND {dataset.time} < :to{i})")
    where = "(" + " OR ".join(ranges) + ")"
    lows = [state.partitions.get(d.isoformat(), [low])[0] for d, low in changes.dates.items()]
    if all(low is not None for low in lows):  # the key's index narrows the read to those dates' ranges
        where += f" AND {dataset.key} >= :lowest"
        params["lowest"] = min(lows)
    dates = set(changes.dates)
    return Plan(where, params, dates, dates, changes.cursor, changes.last_id)


def _runs(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive dates as (first, last) ranges: one condition per range, not per date."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and runs[-1][1] + timedelta(days=1) == day:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def select_sql(session: ReadSession, dataset: Dataset, plan_: Plan, *, text: bool, clear: bool) -> str:
    expressions, hashed = [], False
    for column in dataset.output_columns(text=text):
        expr = column.expression(session.dialect)
        if column.personal == "msisdn" and not clear:
            hashed = True
            expr = personal.postgres_hash(expr) if session.dialect == "postgresql" else personal.sqlite_hash(expr)
        expressions.append(expr)
    source = dataset.sql_of(dataset.source, session.dialect)
    if hashed and session.dialect == "postgresql":
        source += f" CROSS JOIN {personal.POSTGRES_KEYS}"
    conditions = " AND ".join(c for c in (dataset.sql_of(dataset.where, session.dialect), plan_.where) if c) or "1 = 1"
    order = f" ORDER BY {dataset.order}" if dataset.order else ""
    if "{where}" in source:  # the dataset places the conditions itself (events: inside its subquery)
        return f"SELECT {', '.join(expressions)} FROM {source.replace('{where}', conditions)}{order}"
    return f"SELECT {', '.join(expressions)} FROM {source} WHERE {conditions}{order}"
