"""From a segment definition to the subscribers it selects: count, sample, and the
SELECT that launching a campaign freezes into recipients."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, and_, exists, func, select

from engage.engine.segments.criteria import compile_node
from engage.engine.store.schema import OptOut, Subscriber


def matching(definition: dict[str, Any], *, branch: str | None = None) -> Select:
    """Subscribers the definition selects, before consent; branch limits a branch-scoped user."""
    condition = compile_node(definition)
    if branch is not None:
        condition = and_(condition, Subscriber.branch == branch)
    return select(Subscriber.id, Subscriber.msisdn).where(condition)


def opted_out(channel: str = "sms"):  # noqa: ANN201 - a SQL expression
    return exists().where(OptOut.msisdn == Subscriber.msisdn, OptOut.channel == channel)


def count(conn: Connection, definition: dict[str, Any], *, branch: str | None = None) -> dict[str, int]:
    base = matching(definition, branch=branch).subquery()
    total = conn.execute(select(func.count()).select_from(base)).scalar_one()
    out = conn.execute(
        select(func.count()).select_from(Subscriber)
        .where(Subscriber.id.in_(select(base.c.id)), opted_out())
    ).scalar_one()
    return {"matching": total, "opted_out": out, "reachable": total - out}
