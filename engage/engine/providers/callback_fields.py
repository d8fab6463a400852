"""The fields every callback reader checks the same way, whatever the gateway's format: a message
id the database can hold, an error code cut to its column, a time. A value that cannot be stored
is the gateway's mistake, refused with MalformedCallback naming the field, never a failed store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engage.engine.providers.base import MalformedCallback
from engage.engine.providers.message_ids import id_problem

MAX_ID, MAX_ERR = 72, 16  # the receipts table's columns


def message_id(value: Any, field: str) -> str:
    """The message id a receipt names, stripped; MalformedCallback when absent, too long or unstorable."""
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise MalformedCallback(f"{field}: missing; it must hold the message id")
    text = str(value).strip()
    if len(text) > MAX_ID:
        raise MalformedCallback(f"{field}: {len(text)} characters; a message id has at most {MAX_ID}")
    problem = id_problem(text)
    if problem:
        raise MalformedCallback(f"{field}: {problem}")
    return text


def error_code(value: Any, field: str) -> str | None:
    """A gateway's error code, cut to the column; one the database cannot hold is the gateway's mistake."""
    if value in (None, ""):
        return None
    text = str(value)[:MAX_ERR]
    problem = id_problem(text)
    if problem:
        raise MalformedCallback(f"{field}: {problem}")
    return text


def from_unix(value: Any) -> str | None:
    """Unix seconds as an ISO time; None for anything else (a receipt's time is informative only)."""
    try:
        return datetime.fromtimestamp(float(value), UTC).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return None
