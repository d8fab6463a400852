"""Reading the event stream after a watermark, in id order, so that a reader skips nothing and
counts nothing twice.

"id > watermark" alone skips events on PostgreSQL: ids come from a sequence when a row is written,
but rows become visible when their transaction commits, so the transaction that took id 100 may
commit after the one that took 101. A reader that saw 101 and moved its watermark there would never
see 100. So a reader stops before a gap in the ids until the gap is known to stay one:

- it first waits GRACE seconds from when it first saw the gap (a transaction takes its id a moment
  before the database gives it a transaction id, and this covers that moment);
- then it notes the transactions of the database in progress (pg_stat_activity's backend_xid:
  every transaction that can still commit one of the missing ids is among them) and waits until
  they have all ended;
- then it reads the missing ids once more: what committed meanwhile is read, in order; what is
  still missing was rolled back, and is passed.

A transaction left open for longer than MAX_WAIT (a session idle in a transaction) would hold every
reader back; after that long the gap is passed, with an error in the log naming the ids.

What a reader waits on is kept in its watermark's detail (`gap`), with the watermark, so a restart
carries on waiting where it was. SQLite has one writer at a time and takes ids inside the write
lock, so its ids become visible in order: a gap there is a rolled-back or deleted id, passed at once.

A batch is bounded by events (`limit`) and by the messages they stand for (`max_messages`: one
event of a batch stands for up to 10,000), so a reader's memory stays bounded."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Row, select, text

from engage.engine.store.schema import Event

log = logging.getLogger(__name__)

GRACE = 3.0  # seconds a gap is waited on before its transactions are looked at
MAX_WAIT = 600.0  # seconds after which a gap whose transactions are still open is passed
LIMIT = 1000  # events per batch
MAX_MESSAGES = 100_000  # messages per batch, summed over its events' message_count

COLUMNS = (Event.id, Event.at, Event.kind, Event.campaign_id, Event.message_id, Event.message_count, Event.data)


@dataclass
class Batch:
    """Events to fold, and the watermark (last_id, detail) to keep with them once folded."""

    events: list[Row[Any]]
    last_id: int
    detail: dict[str, Any] = field(default_factory=dict)
    full: bool = False  # stopped at a bound: more events are waiting already

    @property
    def waiting(self) -> dict[str, Any] | None:
        """The gap in the ids this reader stopped before, if any."""
        return self.detail.get("gap")


def read(conn: Connection, last_id: int, detail: dict[str, Any] | None, *, now: float, limit: int = LIMIT,
         max_messages: int = MAX_MESSAGES, grace: float = GRACE, max_wait: float = MAX_WAIT) -> Batch:
    """The events after `last_id` up to the first gap still waited on, or a bound; `detail` is the
    watermark's (what was waited on before), `now` the time in seconds (time.time())."""
    rows = conn.execute(select(*COLUMNS).where(Event.id > last_id).order_by(Event.id).limit(limit)).all()
    gap = (detail or {}).get("gap")
    ordered = conn.dialect.name != "postgresql"
    taken: list[Row[Any]] = []
    position, messages = last_id, 0
    for row in rows:
        if row.id != position + 1 and not ordered:
            missing = (position + 1, row.id - 1)
            if not _within(gap, missing):
                gap = {"from": missing[0], "to": missing[1], "seen": now, "xids": None}
            if not _settled(conn, gap, now, grace, max_wait):
                return Batch(taken, position, {"gap": gap})
            late = _read_range(conn, *missing)  # committed since the read above
            taken.extend(late)
            messages += sum(r.message_count or 1 for r in late)
        taken.append(row)
        position = row.id
        messages += row.message_count or 1
        if messages >= max_messages:
            return Batch(taken, position, {}, full=True)
    return Batch(taken, position, {}, full=len(rows) >= limit)


def _within(gap: dict[str, Any] | None, missing: tuple[int, int]) -> bool:
    """The missing ids were all missing when `gap` was first seen: what was learnt about it holds."""
    return gap is not None and gap["from"] <= missing[0] and missing[1] <= gap["to"]


def _settled(conn: Connection, gap: dict[str, Any], now: float, grace: float, max_wait: float) -> bool:
    """Whether no transaction that may commit one of the gap's ids is left. Updates `gap` with what
    it learnt (the transactions it waits on), to be kept in the watermark's detail."""
    if now - gap["seen"] < grace:
        return False
    running = in_progress(conn)
    if gap["xids"] is None:  # every transaction holding a missing id is among those running now
        gap["xids"] = sorted(running)
    else:
        gap["xids"] = sorted(running & set(gap["xids"]))
    if not gap["xids"]:
        return True
    if now - gap["seen"] >= max_wait:
        log.error("event ids %s..%s: still missing after %.0f s while transactions %s stay open; passed "
                  "(an event they commit later is not read)", gap["from"], gap["to"], now - gap["seen"],
                  gap["xids"][:10])
        return True
    return False


def in_progress(conn: Connection) -> set[int]:
    """The ids of the other transactions of this database that are in progress now, and have
    written (taken a transaction id). Those of the server's other databases cannot hold an event id
    of this one: a busy neighbour's never keep a reader waiting."""
    conn.execute(text("SELECT pg_stat_clear_snapshot()"))  # the activity as it is now, not as first read
    return {int(x) for x in conn.execute(text(
        "SELECT backend_xid::text FROM pg_stat_activity WHERE datname = current_database() "
        "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()")).scalars()}


def _read_range(conn: Connection, first: int, last: int) -> Sequence[Row[Any]]:
    return conn.execute(select(*COLUMNS).where(Event.id.between(first, last)).order_by(Event.id)).all()


def message_total(events: Sequence[Row[Any]]) -> int:
    """How many messages these events stand for."""
    return sum(e.message_count or 1 for e in events)
