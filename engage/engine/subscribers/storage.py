"""Storing parsed subscriber rows, a chunk per transaction, upserted by number.

PostgreSQL: COPY, straight into the tables for new numbers, through a staging table and one
INSERT ... SELECT ... ON CONFLICT for stored ones (pg_writer.py): no SQL text per row, no parameters.
SQLite: executemany of one prepared INSERT ... ON CONFLICT, which is as fast as it gets in-process.
Only the columns a file has are updated on an existing subscriber, and only when one of them
changes; its tags are replaced when the file has a tags column. The opt-out registry is another
table and is never touched here."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection, Engine, and_, delete, func, insert, or_, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engage.engine.store.schema import Subscriber, SubscriberRemoval, SubscriberTag, UsageEvent, UsageTotal
from engage.engine.subscriber_fields import FIELDS
from engage.engine.subscribers.pg_writer import PostgresWriter
from engage.engine.subscribers.rows import TAG_SEPARATOR, parse_tags

TABLE = Subscriber.__table__
STORABLE = {*FIELDS, "attributes", "tags"}
REMOVALS_KEPT = timedelta(days=1)  # live-count frames reload every 30 minutes (engine.segments.live)


class Writer(Protocol):
    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Store rows laid out as the writer's columns; one transaction; numbers unique."""


@contextmanager
def open_writer(engine: Engine, columns: Sequence[str], *, within_branch: bool = False) -> Iterator[Writer]:
    """A writer for rows with these columns, holding one connection throughout: msisdn first, then
    catalogue fields, then "attributes" and "tags" if present, in that order (as RowParser lays
    them out). ``within_branch`` (the rows carry a branch's name): a stored number is rewritten only
    if it is that branch's subscriber, so that one written by another branch between the
    ownership check and this write is left alone, not taken over."""
    unknown = set(columns) - STORABLE
    if unknown or list(columns) != sorted(columns, key=_column_order) or columns[0] != "msisdn":
        raise ValueError(f"not subscriber columns in order (msisdn, fields, attributes, tags): {list(columns)}")
    if engine.dialect.name == "postgresql":
        writer = PostgresWriter(engine, tuple(columns), within_branch=within_branch)
        try:
            yield writer
        finally:
            writer.close()
    else:
        yield _SqliteWriter(engine, tuple(columns), within_branch=within_branch)


def upsert(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Store rows of already-parsed values (keys: catalogue fields, "attributes", "tags"); a number
    seen twice keeps its last row. For seeding and tests: files go through importer.import_file."""
    if not rows:
        return
    columns = sorted({k for r in rows for k in r}, key=lambda c: (_column_order(c), c))
    defaults = {"attributes": {}, "tags": ""}
    unique = {r["msisdn"]: _typed(r) for r in rows}
    with open_writer(engine, columns) as writer:
        writer.write([tuple(r.get(c, defaults.get(c)) for c in columns) for r in unique.values()])


def _column_order(column: str) -> int:
    return {"msisdn": 0, "attributes": 2, "tags": 3}.get(column, 1)


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    """Values as the import's parsers make them (Decimal for money, not float), which binary COPY needs."""
    out = {k: FIELDS[k].parse(v) if k in FIELDS and v is not None else v for k, v in row.items()}
    if "tags" in out:
        out["tags"] = parse_tags(out["tags"])
    return out


def delete_subscribers(conn: Connection, where: ColumnElement[bool]) -> int:
    """Subscribers matching `where`, with their tags, usage events and usage totals (which hold no
    foreign key, for speed). Sent messages keep their history. Returns how many were deleted."""
    ids = select(Subscriber.id).where(where)
    for table in (SubscriberTag, UsageEvent, UsageTotal):
        conn.execute(delete(table).where(table.subscriber_id.in_(ids)))
    conn.execute(delete(SubscriberRemoval).where(SubscriberRemoval.removed_at < datetime.now(UTC) - REMOVALS_KEPT))
    conn.execute(insert(SubscriberRemoval).from_select(["subscriber_id"], ids))
    return conn.execute(delete(Subscriber).where(where)).rowcount


class _SqliteWriter:
    def __init__(self, engine: Engine, columns: tuple[str, ...], *, within_branch: bool = False) -> None:
        self.engine = engine
        self.columns = columns
        self.stored = [c for c in columns if c != "tags"]
        stmt = sqlite_insert(TABLE)
        updates = {c: stmt.excluded[c] for c in self.stored if c != "msisdn"}
        if updates:  # as on PostgreSQL: only rows where a column changes are rewritten
            changed = or_(*(TABLE.c[c].is_distinct_from(value) for c, value in updates.items()))
            if within_branch:
                changed = and_(changed, TABLE.c.branch == stmt.excluded.branch)
            self._insert = stmt.on_conflict_do_update(index_elements=["msisdn"], where=changed,
                                                      set_={**updates, "updated_at": func.now()})
        else:
            self._insert = stmt.on_conflict_do_nothing(index_elements=["msisdn"])
        self._tags = columns.index("tags") if "tags" in columns else None

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        positions = [self.columns.index(c) for c in self.stored]
        with self.engine.begin() as conn:
            conn.execute(self._insert, [{c: row[i] for c, i in zip(self.stored, positions, strict=True)}
                                        for row in rows])
            if self._tags is not None:
                numbers = [{"m": row[0]} for row in rows]
                conn.execute(text("DELETE FROM subscriber_tags WHERE subscriber_id = "
                                  "(SELECT id FROM subscribers WHERE msisdn = :m)"), numbers)
                tags = [{"m": row[0], "t": tag} for row in rows if row[self._tags]
                        for tag in row[self._tags].split(TAG_SEPARATOR)]
                if tags:
                    conn.execute(text("INSERT INTO subscriber_tags (subscriber_id, tag) "
                                      "SELECT id, :t FROM subscribers WHERE msisdn = :m"), tags)
