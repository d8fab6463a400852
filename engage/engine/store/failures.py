"""Telling a failed write that may succeed in a moment (the database is away, a lock timed out) from
one that will fail however often it is tried (a constraint, a value its column cannot hold, a missing
table, a full disk): workers retry the first as it is and split the second, so one bad item never
holds up the rest, and a permanent fault is never retried for ever.

Both drivers put permanent faults under OperationalError too (psycopg: a full disk, a statement too
complex or cancelled; sqlite3: "no such table", syntax errors), so PostgreSQL's errors are told apart
by SQLSTATE and SQLite's by its result code. A statement cancelled by statement_timeout (57014) is
not transient: repeated as it is, it runs past its time again, and split it is smaller."""

from __future__ import annotations

import sqlite3

import psycopg
from sqlalchemy import exc as sa_exc

# serialization failure, deadlock, lock_timeout, shut down or starting up, too many connections
_PG_TRANSIENT = {"40001", "40P01", "55P03", "57P01", "57P02", "57P03", "53300"}
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6  # primary result codes, the low byte of an extended one


def transient(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        exc = exc.orig if exc.orig is not None else exc
    if isinstance(exc, (sa_exc.DisconnectionError, sa_exc.TimeoutError, ConnectionError)):
        return True  # the pool could not reach the database, or hand out a connection in time
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate
        if state is None:  # nothing from the server: the connection is gone, or could not be made
            return isinstance(exc, psycopg.OperationalError)
        return state.startswith("08") or state in _PG_TRANSIENT
    if isinstance(exc, sqlite3.OperationalError):
        code = getattr(exc, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in (_SQLITE_BUSY, _SQLITE_LOCKED)
        words = str(exc).lower()
        return "database is locked" in words or "busy" in words or "table is locked" in words
    return False


def reason(exc: BaseException, limit: int = 200) -> str:
    """One line for a person: the driver's own message, without the SQL or the values it carried
    (phone numbers, texts), which SQLAlchemy's message appends."""
    cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    text = f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
