"""Events: every state change, written in batches alongside the change itself."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from engage.engine.store.bulk import insert_rows
from engage.engine.store.schema import Event

events = Event.__table__


def record(conn: Connection, kind: str, rows: Iterable[dict[str, Any]]) -> None:
    """rows carry campaign_id, message_id and optional data; one INSERT for the batch."""
    batch = [{"kind": kind, "campaign_id": r.get("campaign_id"), "message_id": r.get("message_id"),
              "data": r.get("data")} for r in rows]
    insert_rows(conn, events, batch)


def record_one(conn: Connection, kind: str, campaign_id: int | None = None, **data: Any) -> None:
    record(conn, kind, [{"campaign_id": campaign_id, "data": data or None}])
