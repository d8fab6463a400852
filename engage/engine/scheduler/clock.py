"""One tick of the scheduler's clock, run by the leading scheduler about every second: due runs
launched or skipped, held messages released, runs past their deadline expired, finished runs
completed, and the usage totals refreshed when they are an hour old."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from engage.engine.campaigns import completion
from engage.engine.usage import totals as usage_totals

USAGE_REFRESH_EVERY = 3600.0  # s: usage criteria correct the totals exactly, but cheaper when fresh


def tick(engine: Engine, now: datetime | None = None) -> dict[str, Any]:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return {"launched": completion.launch_due(engine, now), "released": completion.release_held(engine, now),
            "expired": completion.expire_overdue(engine, now), "completed": completion.complete_finished(engine, now)}


def refresh_usage_if_stale(engine: Engine, now: datetime | None = None,
                           every: float = USAGE_REFRESH_EVERY) -> dict[str, Any] | None:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with engine.connect() as conn:
        summed_at = usage_totals.as_of(conn)
    if summed_at is not None and (now - summed_at).total_seconds() < every:
        return None
    return usage_totals.refresh(engine, now)
