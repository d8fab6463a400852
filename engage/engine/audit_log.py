"""Reading the audit log: who did what, when, to which object; filtered by actor, action (prefix),
object and time, newest first, a page at a time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from engage.engine.segments.kinds._values import escape_like
from engage.engine.store.schema import AuditEntry

PAGE = 100


def entries(conn: Connection, *, actor: str | None = None, action: str | None = None,
            object_type: str | None = None, object_id: str | None = None, since: datetime | None = None,
            until: datetime | None = None, before_id: int | None = None, limit: int = PAGE) -> list[dict[str, Any]]:
    query = select(AuditEntry.__table__).order_by(AuditEntry.id.desc()).limit(min(limit, 1000))
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action.like(escape_like(action) + "%", escape="\\"))
    if object_type:
        query = query.where(AuditEntry.object_type == object_type)
    if object_id:
        query = query.where(AuditEntry.object_id == object_id)
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    return [dict(r._mapping) for r in conn.execute(query).all()]
