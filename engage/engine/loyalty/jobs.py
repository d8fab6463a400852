"""The programme's housekeeping, run by the events worker's periodic jobs (analytics/periodic.py):
points that are due expire, members are told of points about to expire, and levels are reviewed when
a programme's review date has come, and whoever a programme's enrolment segment selects is
enrolled. Each runs once per period across all workers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from engage.engine.analytics.periodic import periodic
from engage.engine.loyalty import auto_enrol, expiry, expiry_notices, levels, redeeming
from engage.engine.store.schema import LoyaltyProgramme


@periodic("loyalty_expiry", every=900)
def expire(engine: Engine, now: datetime) -> dict[str, Any]:
    return expiry.expire_due(engine, now).as_dict()


@periodic("loyalty_review", every=3600)
def review(engine: Engine, now: datetime) -> dict[str, Any]:
    with engine.connect() as conn:
        ids = list(conn.execute(select(LoyaltyProgramme.id).order_by(LoyaltyProgramme.id)).scalars())
    return {str(pid): levels.review(engine, pid, now) for pid in ids}


@periodic("loyalty_fulfilment", every=60)
def fulfil(engine: Engine, now: datetime) -> dict[str, Any]:
    return redeeming.settle_open(engine, now)


@periodic("loyalty_expiry_notices", every=3600)
def tell_expiring(engine: Engine, now: datetime) -> dict[str, Any]:
    return expiry_notices.send_due(engine, now)


@periodic("loyalty_auto_enrol", every=3600)
def enrol_from_segments(engine: Engine, now: datetime) -> dict[str, Any]:
    return auto_enrol.enrol_due(engine, now)
