"""The audit log: who did what, when, to which object."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert

from engage.engine.store.schema import AuditEntry


def audit(conn: Connection, actor: str, action: str, object_type: str, object_id: Any,
          **details: Any) -> None:
    conn.execute(insert(AuditEntry.__table__).values(
        actor=actor, action=action, object_type=object_type,
        object_id=None if object_id is None else str(object_id), details=details or None))
