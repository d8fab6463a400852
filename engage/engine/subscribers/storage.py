"""Storing parsed subscriber rows, a chunk per transaction, upserted by number.

PostgreSQL: COPY into a temporary table, then one INSERT ... SELECT ... ON CONFLICT per chunk,
which is what makes a million rows a matter of seconds (no SQL text per row, no parameters).
SQLite: executemany of one prepared INSERT ... ON CONFLICT, which is as fast as it gets in-process.
Only the columns a file has are updated on an existing subscriber; its tags are replaced when the
file has a tags column. The opt-out registry is another table and is never touched here."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import Engine, func, text
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from engage.engine.store.schema import Subscriber
from engage.engine.subscriber_fields import FIELDS
from engage.engine.subscribers.rows import TAG_SEPARATOR, parse_tags

TABLE = Subscriber.__table__
STORABLE = {*FIELDS, "attributes", "tags"}
TEMP = "subscribers_import"
TEMP_IDS = "subscribers_import_ids"


class Writer(Protocol):
    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Store rows laid out as the writer's columns; one transaction; numbers unique."""


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
    unique = {r["msisdn"]: {**r, "tags": parse_tags(r["tags"])} if "tags" in r else r for r in rows}
    with open_writer(engine, columns) as writer:
        writer.write([tuple(r.get(c, defaults.get(c)) for c in columns) for r in unique.values()])


def _split(columns: tuple[str, ...]) -> tuple[list[str], bool, bool]:
    fields = [c for c in columns if c in FIELDS]
    return fields, "attributes" in columns, "tags" in columns


class _PostgresWriter:
    def __init__(self, engine: Engine, columns: tuple[str, ...]) -> None:
        self.columns = columns
        fields, self.has_attributes, self.has_tags = _split(columns)
        self._raw = engine.raw_connection()
        self._pg = self._raw.driver_connection
        types = {c: TABLE.c[c].type.compile(dialect=engine.dialect) for c in fields}
        temp_columns = [f"{c} {types[c]}" for c in fields]
        temp_columns += [f"{c} text" for c in ("attributes", "tags") if c in columns]
        attributes = "attributes::json" if self.has_attributes else "'{}'::json"
        updates = [f"{c} = EXCLUDED.{c}" for c in fields if c != "msisdn"]
        updates += ["attributes = EXCLUDED.attributes"] if self.has_attributes else []
        self._copy = f"COPY {TEMP} ({', '.join(columns)}) FROM STDIN"
        self._insert = (f"INSERT INTO subscribers ({', '.join(fields)}, attributes) "
                        f"SELECT {', '.join(fields)}, {attributes} FROM {TEMP} "
                        f"ON CONFLICT (msisdn) DO UPDATE SET {', '.join([*updates, 'updated_at = now()'])}")
        if self.has_tags:  # the ids, for replacing tags without joining the whole subscribers table
            self._insert = (f"WITH up AS ({self._insert} RETURNING id, msisdn) "
                            f"INSERT INTO {TEMP_IDS} (id, msisdn) SELECT id, msisdn FROM up")
        self._pg.commit()  # whatever the pool left open
        self._drop()
        self._pg.execute(f"CREATE TEMP TABLE {TEMP} ({', '.join(temp_columns)}) ON COMMIT DELETE ROWS")
        self._pg.execute(f"CREATE TEMP TABLE {TEMP_IDS} (id bigint, msisdn text) ON COMMIT DELETE ROWS")
        self._pg.commit()

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        try:
            with self._pg.cursor() as cur:
                with cur.copy(self._copy) as copy:
                    for row in self._encoded(rows):
                        copy.write_row(row)
                cur.execute(self._insert)
                if self.has_tags:
                    _replace_tags_pg(cur)
            self._pg.commit()
        except BaseException:
            self._pg.rollback()
            raise

    def _encoded(self, rows: Sequence[tuple[Any, ...]]) -> Iterator[Sequence[Any]]:
        """attributes as JSON text, for COPY; the rest as they are."""
        if not self.has_attributes:
            yield from rows
            return
        at = self.columns.index("attributes")
        for row in rows:
            out = list(row)
            out[at] = json.dumps(out[at], ensure_ascii=False)
            yield out

    def _drop(self) -> None:
        self._pg.execute(f"DROP TABLE IF EXISTS pg_temp.{TEMP}, pg_temp.{TEMP_IDS}")

    def close(self) -> None:
        try:
            self._drop()
            self._pg.commit()
        finally:
            self._raw.close()


def _replace_tags_pg(cur: Any) -> None:
    """The chunk's ids came back from the upsert into TEMP_IDS, so neither statement joins the
    whole subscribers table."""
    cur.execute(f"DELETE FROM subscriber_tags t USING {TEMP_IDS} s WHERE t.subscriber_id = s.id")
    cur.execute("INSERT INTO subscriber_tags (subscriber_id, tag) "
                f"SELECT s.id, x.tag FROM {TEMP} i JOIN {TEMP_IDS} s ON s.msisdn = i.msisdn "
                f"CROSS JOIN LATERAL unnest(string_to_array(i.tags, '{TAG_SEPARATOR}')) AS x(tag) "
                "WHERE i.tags <> ''")


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
