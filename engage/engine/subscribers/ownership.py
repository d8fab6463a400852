"""Which numbers a branch may not write: those already a subscriber outside it (another branch's or
of no branch). A branch's file import and its JSON upserts refuse them row by row, so that neither
takes over nor overwrites another branch's people."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, or_, select

from engage.engine.store.bulk import chunks, one_of
from engage.engine.store.schema import Subscriber

LOOKUP_CHUNK = 5000  # numbers per query: SQLite binds at most 32766 parameters
TAKEN = "msisdn: the number is a subscriber of another branch"


def outside(conn: Connection, numbers: Iterable[str], branch: str) -> set[str]:
    """The ``numbers`` (E.164) that are subscribers outside ``branch``."""
    found: set[str] = set()
    for part in chunks(list(numbers), LOOKUP_CHUNK):
        found.update(conn.execute(select(Subscriber.msisdn).where(
            one_of(conn, Subscriber.msisdn, part),
            or_(Subscriber.branch.is_(None), Subscriber.branch != branch))).scalars())
    return found
