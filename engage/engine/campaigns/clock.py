"""One tick of the campaigns' clock, run by the leading scheduler about every second: due runs
launched or skipped, held messages released, runs past their deadline expired, finished runs
completed. (The scheduler package holds the rules of time these follow; the clock that applies them
to campaigns is the campaigns' own.)"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine

from engage.engine.campaigns import completion


def tick(engine: Engine, now: datetime | None = None) -> dict[str, Any]:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return {"launched": completion.launch_due(engine, now), "released": completion.release_held(engine, now),
            "expired": completion.expire_overdue(engine, now), "completed": completion.complete_finished(engine, now)}
