"""What the snapshot datasets of a mutable table share: the days touched since the cursor are the
creation days of the rows whose updated_at moved past it; a deleted row's day is found from the
partitions' key ranges (its row is gone)."""

from __future__ import annotations

import bisect
from datetime import UTC, date, datetime, timedelta
from typing import Any

from engage.engine.analytics.exports.planning import bound, settled_key
from engage.engine.analytics.exports.spec import Changes


def day_sql(dialect: str, column: str) -> str:
    return f"({column} AT TIME ZONE 'UTC')::date" if dialect == "postgresql" else f"substr({column}, 1, 10)"


def as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def updated_since(session: Any, before: Any, cutoff: datetime | None, *, table: str, key: str, created: str,
                  updated: str) -> Changes:
    """Rows whose `updated` is in (cursor, cutoff]; cursor {"updated": ISO time}."""
    until = cutoff or datetime.now(UTC)
    if session.dialect == "sqlite":  # now() is stored to the second there: only whole past seconds are complete
        until = until.replace(microsecond=0) - timedelta(seconds=1)
    high = settled_key(session, table, key, created, None)
    cursor = {"updated": until.isoformat()}
    if before is None:
        return Changes({}, cursor, high)
    since = datetime.fromisoformat(before.cursor.get("updated") or "1970-01-01T00:00:00+00:00")
    rows = session.rows(f"SELECT {day_sql(session.dialect, created)}, min({key}) FROM {table} "
                        f"WHERE {updated} > :since AND {updated} <= :until GROUP BY 1",
                        {"since": bound(session, since), "until": bound(session, until)})
    return Changes({as_date(d): low for d, low in rows}, cursor, high)


def days_of_keys(partitions: dict[str, list[int]], keys: list[int]) -> dict[date, int | None]:
    """The partitions whose key range holds one of these keys (the rows deleted since)."""
    ranges = sorted((low, high, day) for day, (low, high) in partitions.items())
    starts = [r[0] for r in ranges]
    found: dict[date, int | None] = {}
    for key in keys:
        i = bisect.bisect_right(starts, key) - 1
        while i >= 0 and ranges[i][0] <= key:  # ranges may overlap: look back while they can hold it
            low, high, day = ranges[i]
            if key <= high:
                found[as_date(day)] = low
            i -= 1
    return found
