"""Storing parsed subscriber rows, a chunk per transaction, upserted by number.

PostgreSQL: COPY into a temporary table, then one INSERT ... SELECT ... ON CONFLICT per chunk,
which is what makes a million rows a matter of seconds (no SQL text per row, no parameters).
SQLite: executemany of one prepared INSERT ... ON CONFLICT, which is as fast as it gets in-process.
Only the columns a file has are updated on an existing subscriber; its tags are replaced when the
file has a tags column. The opt-out registry is another table and is never touched here."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection, Engine, delete, func, select, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engage.engine.store.schema import Subscriber, SubscriberTag, UsageEvent, UsageTotal
from engage.engine.subscriber_fields import BOOL, CHOICE, DATE, DATETIME, FIELDS, INTEGER, NUMBER, TEXT
from engage.engine.subscribers.rows import TAG_SEPARATOR, parse_tags

TABLE = Subscriber.__table__
STORABLE = {*FIELDS, "attributes", "tags"}
# staging column types for binary COPY, whose dumpers take exactly the parsers' value types
BINARY_TYPES = {TEXT: "text", CHOICE: "text", NUMBER: "numeric", INTEGER: "int8", DATE: "date",
                DATETIME: "timestamptz", BOOL: "bool"}
STAGING = "subscribers_import"  # + a token per writer + the slot
TEMP_IDS = "subscribers_import_ids"


class Writer(Protocol):
    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Store rows laid out as the writer's columns; one transaction; numbers unique."""

    def prepare(self, rows: Sequence[tuple[Any, ...]]) -> Any:
        """The CPU part of storing rows, for the caller's thread: what write_prepared takes."""

    def write_prepared(self, prepared: Any) -> None:
        """The database part, which a second thread can run while the next chunk is parsed."""


@contextmanager
def open_writer(engine: Engine, columns: Sequence[str]) -> Iterator[Writer]:
    """A writer for rows with these columns (msisdn first), holding one connection throughout."""
    unknown = set(columns) - STORABLE
    if unknown or columns[0] != "msisdn":
        raise ValueError(f"not subscriber columns: {sorted(unknown) or list(columns)}")
    if engine.dialect.name == "postgresql":
        writer = _PostgresWriter(engine, tuple(columns))
        try:
            yield writer
        finally:
            writer.close()
    else:
        yield _SqliteWriter(engine, tuple(columns))


def upsert(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """Store rows of already-parsed values (keys: catalogue fields, "attributes", "tags"); a number
    seen twice keeps its last row. For seeding and tests: files go through importer.import_file."""
    if not rows:
        return
    columns = ["msisdn", *sorted({k for r in rows for k in r} - {"msisdn"})]
    defaults = {"attributes": {}, "tags": ""}
    unique = {r["msisdn"]: _typed(r) for r in rows}
    with open_writer(engine, columns) as writer:
        writer.write([tuple(r.get(c, defaults.get(c)) for c in columns) for r in unique.values()])


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    """Values as the import's parsers make them (Decimal for money, not float), which binary COPY needs."""
    out = {k: FIELDS[k].parse(v) if k in FIELDS and v is not None else v for k, v in row.items()}
    if "tags" in out:
        out["tags"] = parse_tags(out["tags"])
    return out


def _split(columns: tuple[str, ...]) -> tuple[list[str], bool, bool]:
    fields = [c for c in columns if c in FIELDS]
    return fields, "attributes" in columns, "tags" in columns


class _PostgresWriter:
    """Two connections: the caller's thread COPYs a chunk into a staging table (psycopg's C row
    formatting, no SQL per row), the writer thread upserts it into subscribers. Two staging tables
    take turns, so chunk N+1 is copied while chunk N is upserted. They are UNLOGGED tables rather
    than temporary ones because both connections must see them; each writer names its own."""

    def __init__(self, engine: Engine, columns: tuple[str, ...]) -> None:
        self.columns = columns
        fields, self.has_attributes, self.has_tags = _split(columns)
        self._types = [BINARY_TYPES[FIELDS[c].type] if c in FIELDS else "text" for c in columns]
        staging_columns = [f"{c} {t}" for c, t in zip(columns, self._types, strict=True)]
        token = secrets.token_hex(4)
        self._staging = [f"{STAGING}_{token}_{slot}" for slot in (0, 1)]
        self._turn = 0
        self._raws = [engine.raw_connection(), engine.raw_connection()]
        self._copier, self._writer = (raw.driver_connection for raw in self._raws)
        for pg in (self._copier, self._writer):
            pg.commit()  # whatever the pool left open
        for table in self._staging:
            self._copier.execute(f"CREATE UNLOGGED TABLE {table} ({', '.join(staging_columns)})")
        self._copier.commit()
        self._writer.execute(f"DROP TABLE IF EXISTS pg_temp.{TEMP_IDS}")
        self._writer.execute(f"CREATE TEMP TABLE {TEMP_IDS} (id bigint, msisdn text, fresh boolean) "
                             "ON COMMIT DELETE ROWS")
        self._writer.commit()
        attributes = "attributes::json" if self.has_attributes else "'{}'::json"
        updates = [f"{c} = EXCLUDED.{c}" for c in fields if c != "msisdn"]
        updates += ["attributes = EXCLUDED.attributes"] if self.has_attributes else []
        self._fields, self._attributes, self._updates = fields, attributes, updates

    def _upsert(self, staging: str) -> str:
        sql = (f"INSERT INTO subscribers ({', '.join(self._fields)}, attributes) "
               f"SELECT {', '.join(self._fields)}, {self._attributes} FROM {staging} "
               f"ON CONFLICT (msisdn) DO UPDATE SET {', '.join([*self._updates, 'updated_at = now()'])}")
        if not self.has_tags:
            return sql
        # the ids, for replacing tags without joining the whole subscribers table; xmax = 0 marks
        # a row this statement inserted: a new subscriber has no tags to delete
        return (f"WITH up AS ({sql} RETURNING id, msisdn, xmax = 0 AS fresh) "
                f"INSERT INTO {TEMP_IDS} (id, msisdn, fresh) SELECT id, msisdn, fresh FROM up")

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        self.write_prepared(self.prepare(rows))

    def prepare(self, rows: Sequence[tuple[Any, ...]]) -> str | None:
        """COPY the rows into the next staging table; returns its name for write_prepared."""
        if not rows:
            return None
        staging = self._staging[self._turn]
        self._turn = 1 - self._turn
        at = self.columns.index("attributes") if self.has_attributes else None
        try:
            with self._copier.cursor() as cur, cur.copy(
                    f"COPY {staging} ({', '.join(self.columns)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(self._types)
                for row in rows:
                    if at is not None:  # JSON text, which COPY takes
                        row = (*row[:at], json.dumps(row[at], ensure_ascii=False), *row[at + 1:])
                    copy.write_row(row)
            self._copier.commit()
        except BaseException:
            self._copier.rollback()
            raise
        return staging

    def write_prepared(self, staging: str | None) -> None:
        if staging is None:
            return
        try:
            with self._writer.cursor() as cur:
                cur.execute(self._upsert(staging))
                if self.has_tags:
                    _replace_tags_pg(cur, staging)
                cur.execute(f"TRUNCATE {staging}")
            self._writer.commit()
        except BaseException:
            self._writer.rollback()
            raise

    def close(self) -> None:
        try:
            self._copier.execute(f"DROP TABLE IF EXISTS {', '.join(self._staging)}")
            self._copier.commit()
            self._writer.execute(f"DROP TABLE IF EXISTS pg_temp.{TEMP_IDS}")
            self._writer.commit()
        finally:
            for raw in self._raws:
                raw.close()


def _replace_tags_pg(cur: Any, staging: str) -> None:
    """The chunk's ids came back from the upsert into TEMP_IDS, so neither statement joins the
    whole subscribers table."""
    cur.execute(f"DELETE FROM subscriber_tags t USING {TEMP_IDS} s WHERE t.subscriber_id = s.id AND NOT s.fresh")
    cur.execute("INSERT INTO subscriber_tags (subscriber_id, tag) "
                f"SELECT s.id, x.tag FROM {staging} i JOIN {TEMP_IDS} s ON s.msisdn = i.msisdn "
                f"CROSS JOIN LATERAL unnest(string_to_array(i.tags, '{TAG_SEPARATOR}')) AS x(tag) "
                "WHERE i.tags <> ''")


def delete_subscribers(conn: Connection, where: ColumnElement[bool]) -> int:
    """Subscribers matching `where`, with their tags, usage events and usage totals (which hold no
    foreign key, for speed). Sent messages keep their history. Returns how many were deleted."""
    ids = select(Subscriber.id).where(where)
    for table in (SubscriberTag, UsageEvent, UsageTotal):
        conn.execute(delete(table).where(table.subscriber_id.in_(ids)))
    return conn.execute(delete(Subscriber).where(where)).rowcount


class _SqliteWriter:
    def __init__(self, engine: Engine, columns: tuple[str, ...]) -> None:
        self.engine = engine
        self.columns = columns
        self.stored = [c for c in columns if c != "tags"]
        stmt = sqlite_insert(TABLE)
        updates = {c: stmt.excluded[c] for c in self.stored if c != "msisdn"}
        self._insert = stmt.on_conflict_do_update(index_elements=["msisdn"],
                                                  set_={**updates, "updated_at": func.now()})
        self._tags = columns.index("tags") if "tags" in columns else None

    def prepare(self, rows: Sequence[tuple[Any, ...]]) -> Sequence[tuple[Any, ...]]:
        return rows

    def write_prepared(self, prepared: Sequence[tuple[Any, ...]]) -> None:
        self.write(prepared)

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
