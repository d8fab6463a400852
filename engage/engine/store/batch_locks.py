"""Who has a queued message: its sender, or STOP. On PostgreSQL each send batch has an advisory lock
(a transaction's, keyed by the batch id in a key space of its own). A sender claiming a batch holds
it shared; STOP setting a number's queued messages aside holds the batches they are in exclusively,
and only then looks whether a sender has claimed them. Without it, each could act on a snapshot
taken before the other committed: the sender's claim reading a message still queued while STOP
marks it opted_out, or STOP not seeing a claim a sender is about to commit. The message would go
out and be counted as set aside.

Senders take their batches' locks shared (no sender waits on another) and in sorted order, as STOP
does, so the two never wait on each other in a cycle. SQLite needs none of it: one writer at a time.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text

BATCHES = 0x62617463  # "batc": the first key of every batch's lock (pg_advisory_xact_lock(int4, int4))
_SHARED = text("SELECT pg_advisory_xact_lock_shared(:space, hashtext(:batch))")
_EXCLUSIVE = text("SELECT pg_advisory_xact_lock(:space, hashtext(:batch))")


def share(conn: Connection, batch_ids: Iterable[str]) -> None:
    """A sender about to claim these batches; held until its transaction ends."""
    _lock(conn, _SHARED, batch_ids)


def hold(conn: Connection, batch_ids: Iterable[str]) -> None:
    """STOP about to set messages of these batches aside; held until its transaction ends."""
    _lock(conn, _EXCLUSIVE, batch_ids)


def _lock(conn: Connection, statement: object, batch_ids: Iterable[str]) -> None:
    if conn.dialect.name != "postgresql":
        return
    for batch_id in sorted(set(batch_ids)):
        conn.execute(statement, {"space": BATCHES, "batch": batch_id})
