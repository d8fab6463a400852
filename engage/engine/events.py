"""Events: every state change, written in batches alongside the change itself.

A change that a whole batch of messages goes through together (queued, submitted, delivered) is one
event for the batch: its messages' ids and their number. A row per message was a sixth of the
database's writes at thousands of messages a second, and made the events table three rows per
message sent."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, insert

from engage.engine.store.bulk import insert_rows
from engage.engine.store.schema import Event

events = Event.__table__


def record(conn: Connection, kind: str, rows: Iterable[dict[str, Any]]) -> None:
    """rows carry campaign_id, message_id and optional data; one INSERT for the batch."""
    batch = [{"kind": kind, "campaign_id": r.get("campaign_id"), "message_id": r.get("message_id"),
              "data": r.get("data")} for r in rows]
    insert_rows(conn, events, batch)


def record_batch(conn: Connection, kind: str, campaign_id: int | None, message_ids: Sequence[int]) -> None:
    """One event for these messages' common change."""
    if message_ids:  # an INSERT: for one row, COPY's set-up costs PostgreSQL a millisecond
        conn.execute(insert(events).values(kind=kind, campaign_id=campaign_id, message_count=len(message_ids),
                                           data={"message_ids": list(message_ids)}))


def record_batches(conn: Connection, kind: str, campaign_id: int | None, message_ids: Sequence[int],
                   size: int = 10_000) -> None:
    """One event per `size` messages: a whole campaign cancelled at once is not one row of a
    million ids."""
    for start in range(0, len(message_ids), size):
        record_batch(conn, kind, campaign_id, message_ids[start:start + size])


def record_one(conn: Connection, kind: str, campaign_id: int | None = None, **data: Any) -> None:
    record(conn, kind, [{"campaign_id": campaign_id, "data": data or None}])


def message_ids(event: Any) -> list[int]:
    """The messages an event row (with message_id and data) stands for."""
    if event.message_id is not None:
        return [event.message_id]
    return list((event.data or {}).get("message_ids", []))
