"""Statements stopped by the database once they have taken too long, since a thread cannot be
stopped from outside: a segment's count, a campaign's figures, a subscriber search each get a
budget, and a costly one ends with an answer that says so instead of holding a connection."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError


class OverBudget(Exception):  # noqa: N818 - the budget is the error's subject, as in CountTooSlow
    """The statements within a budget were stopped at its deadline."""

    def __init__(self, seconds: float):
        super().__init__(f"stopped after {seconds:g} s")
        self.seconds = seconds


@contextmanager
def budget(conn: Connection, seconds: float) -> Iterator[float | None]:
    """The statements within stopped by the database after ``seconds``: on PostgreSQL a
    statement_timeout for the current transaction (restored after, as the transaction may go on),
    on SQLite a progress handler that interrupts at the deadline. Yields the deadline
    (time.monotonic()) for work done in Python; OverBudget when the database stopped a statement.
    math.inf: no budget."""
    if math.isinf(seconds):
        yield None
        return
    deadline = time.monotonic() + seconds
    raw, before = None, None
    if conn.dialect.name == "postgresql":
        before = conn.execute(text("SELECT current_setting('statement_timeout')")).scalar()
        _statement_timeout(conn, f"{max(1, round(seconds * 1000))}ms")
    else:
        raw = conn.connection.driver_connection
        raw.set_progress_handler(lambda: time.monotonic() > deadline, 1000)
    try:
        yield deadline
    except DBAPIError as exc:
        if not _cancelled(exc):
            raise
        raise OverBudget(seconds) from None
    else:
        if before is not None:
            _statement_timeout(conn, before)
    finally:
        if raw is not None:
            raw.set_progress_handler(None, 0)


def _statement_timeout(conn: Connection, value: str) -> None:
    conn.execute(text("SELECT set_config('statement_timeout', :value, true)"), {"value": value})


def _cancelled(exc: DBAPIError) -> bool:
    """PostgreSQL's query_canceled (57014), or SQLite interrupted by the progress handler."""
    return getattr(exc.orig, "sqlstate", None) == "57014" or "interrupted" in str(exc.orig)
