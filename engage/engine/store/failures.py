"""Telling a failed write that may succeed in a moment (the database is away, a lock timed out) from
one that will fail however often it is tried (a constraint, a value its column cannot hold): workers
retry the first as it is and split the second, so one bad item never holds up the rest."""

from __future__ import annotations

import sqlite3

import psycopg
from sqlalchemy import exc as sa_exc

_TRANSIENT = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError,
              psycopg.OperationalError, psycopg.InterfaceError, sqlite3.OperationalError, ConnectionError)


def transient(exc: BaseException) -> bool:
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, _TRANSIENT)


def reason(exc: BaseException, limit: int = 200) -> str:
    """One line for a person: the driver's own message, without the SQL or the values it carried
    (phone numbers, texts), which SQLAlchemy's message appends."""
    cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    text = f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return text if len(text) <= limit else text[: limit - 3] + "..."
