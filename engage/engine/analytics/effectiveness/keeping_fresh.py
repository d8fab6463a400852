"""The events worker keeps campaigns' effectiveness figures fresh: every minute it recomputes those
whose windows are still open, never computed, or judged anew (refresh.refresh_due decides which, within
its time budget)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from engage.engine.analytics.effectiveness.refresh import refresh_due
from engage.engine.analytics.periodic import periodic


@periodic("effectiveness", every=60)
def keep_fresh(engine: Engine, now: datetime) -> dict[str, Any]:
    return refresh_due(engine, now)
