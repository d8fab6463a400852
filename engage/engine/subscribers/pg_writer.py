"""Storing parsed subscriber rows in PostgreSQL, a chunk per transaction, upserted by number.

Numbers not stored yet are COPYed straight into subscribers (and their tags into subscriber_tags),
with ids taken from the table's sequence beforehand so the tags can name them. That is about half
the database's work of an upsert: no staging table to write and read back, no conflict check per
row, and COPY inserts heap rows in batches. A first import is all new numbers.

Numbers already stored go through the upsert: COPY into a temporary staging table, one INSERT ...
SELECT ... ON CONFLICT DO UPDATE, their tags replaced. A writer starts by assuming every number is
new; the first chunk that proves otherwise (a unique violation, rolled back whole) makes it ask the
database which numbers of each chunk exist, and split; a chunk with no new number at all (a daily
refresh of the base) makes it upsert from then on without asking. A number inserted by someone
else between the question and the insert rolls the chunk back once more, and the chunk is then
upserted whole, which cannot conflict.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from psycopg import errors as pg_errors
from sqlalchemy import BigInteger, Engine

from engage.engine.subscriber_fields import BOOL, CHOICE, DATE, DATETIME, FIELDS, INTEGER, NUMBER, TEXT
from engage.engine.subscribers.rows import TAG_SEPARATOR

# COPY column types for the binary format, whose dumpers take exactly the parsers' value types;
# JSON goes as text, which is its binary wire format too
BINARY_TYPES = {TEXT: "text", CHOICE: "text", NUMBER: "numeric", INTEGER: "int8", DATE: "date",
                DATETIME: "timestamptz", BOOL: "bool"}
STAGING = "subscribers_import"
TEMP_IDS = "subscribers_import_ids"
# The staging tables have no statistics, so the planner guesses millions of tag rows: that guess
# made it JIT-compile the tags statement (~0.3 s per chunk) and sort on disk.
SETTINGS = {"jit": "off", "work_mem": "'64MB'"}
# How a chunk is stored, from the cheapest: all new, split by a lookup, all upserted. A writer moves
# down the list when a chunk proves the cheaper way wrong, and never back.
MODES = NEW, SPLIT, UPSERT = "new", "split", "upsert"


def _binary_type(column: str) -> str:
    """Binary COPY sends a value's bytes as the type named here, which must be the column's own:
    an int8 sent into an integer (int4) column is "incorrect binary data format"."""
    if column not in FIELDS:
        return "text"
    field = FIELDS[column]
    if field.type == INTEGER and not isinstance(field.column.type, BigInteger):
        return "int4"
    return BINARY_TYPES[field.type]


class PostgresWriter:
    """One connection, held from open to close; temporary tables, so nothing is left behind by an
    import that dies. Session settings are reset before the connection returns to the pool."""

    def __init__(self, engine: Engine, columns: tuple[str, ...], *, within_branch: bool = False) -> None:
        self.columns = columns
        self.within_branch = within_branch
        self.fields = [c for c in columns if c in FIELDS]
        self.has_attributes, self.has_tags = "attributes" in columns, "tags" in columns
        self._at_attributes = columns.index("attributes") if self.has_attributes else None
        self._at_tags = columns.index("tags") if self.has_tags else None
        self._types = [_binary_type(c) for c in columns]
        self.mode = NEW
        self._raw = engine.raw_connection()
        self._pg = self._raw.driver_connection
        self._pg.commit()  # whatever the pool left open
        (self._sequence,) = self._pg.execute("SELECT pg_get_serial_sequence('subscribers', 'id')").fetchone()
        for name, value in SETTINGS.items():
            self._pg.execute(f"SET {name} = {value}")
        staging = [f"{c} {t}" for c, t in zip(columns, self._types, strict=True)]
        self._pg.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGING}, pg_temp.{TEMP_IDS}")
        self._pg.execute(f"CREATE TEMP TABLE {STAGING} ({', '.join(staging)}) ON COMMIT DELETE ROWS")
        self._pg.execute(f"CREATE TEMP TABLE {TEMP_IDS} (id bigint, msisdn text, fresh boolean) ON COMMIT DELETE ROWS")
        self._pg.commit()

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Store one chunk (numbers unique) in one transaction."""
        if not rows:
            return
        for mode in MODES[MODES.index(self.mode):]:
            try:
                self._store(rows, mode)
                self._pg.commit()
                return
            except pg_errors.UniqueViolation:
                self._pg.rollback()
                if mode == UPSERT:
                    raise
                if mode == NEW:
                    self.mode = SPLIT
            except BaseException:
                self._pg.rollback()
                raise

    def _store(self, rows: Sequence[tuple[Any, ...]], mode: str) -> None:
        if mode == NEW:
            self._insert_new(rows)
            return
        if mode == UPSERT:
            self._upsert(rows)
            return
        stored = self._existing([row[0] for row in rows])
        new = [row for row in rows if row[0] not in stored]
        self._insert_new(new)
        self._upsert([row for row in rows if row[0] in stored])
        if not new:  # a file of stored numbers (a daily refresh): upsert without asking first
            self.mode = UPSERT

    def _existing(self, numbers: list[str]) -> set[str]:
        found = self._pg.execute("SELECT msisdn FROM subscribers WHERE msisdn = ANY(%s)", [numbers])
        return {number for (number,) in found}

    def _insert_new(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        (ids,) = self._pg.execute("SELECT array_agg(nextval(%s::regclass)) FROM generate_series(1, %s)",
                                  [self._sequence, len(rows)]).fetchone()
        # tags come last in a row and go to their own table; attributes (JSON) come before them
        width = len(self.columns) - self.has_tags
        names = ", ".join(["id", *self.columns[:width], *(() if self.has_attributes else ("attributes",))])
        types = ["int8", *self._types[:width], *(() if self.has_attributes else ("text",))]
        with self._pg.cursor() as cur:
            with cur.copy(f"COPY subscribers ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                write = copy.write_row
                if self.has_attributes:
                    for id_, row in zip(ids, rows, strict=True):
                        write((id_, *row[:width - 1], json.dumps(row[width - 1], ensure_ascii=False)))
                else:
                    for id_, row in zip(ids, rows, strict=True):
                        write((id_, *row[:width], "{}"))
            if self.has_tags:
                at = self._at_tags
                with cur.copy("COPY subscriber_tags (subscriber_id, tag) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.set_types(["int8", "text"])
                    for id_, row in zip(ids, rows, strict=True):
                        if row[at]:
                            for tag in row[at].split(TAG_SEPARATOR):
                                copy.write_row((id_, tag))

    def _upsert(self, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        at = self._at_attributes
        with self._pg.cursor() as cur:
            with cur.copy(f"COPY {STAGING} ({', '.join(self.columns)}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(self._types)
                for row in rows:
                    if at is not None:
                        row = (*row[:at], json.dumps(row[at], ensure_ascii=False), *row[at + 1:])
                    copy.write_row(row)
            cur.execute(self._upsert_sql())
            if self.has_tags:
                # the rows left as they were still take the file's tags: their ids, by the number index
                cur.execute(f"INSERT INTO {TEMP_IDS} (id, msisdn, fresh) SELECT s.id, s.msisdn, false "
                            f"FROM subscribers s WHERE s.msisdn = ANY(ARRAY(SELECT i.msisdn FROM {STAGING} i "
                            f"WHERE NOT EXISTS (SELECT FROM {TEMP_IDS} t WHERE t.msisdn = i.msisdn)))")
                cur.execute(f"DELETE FROM subscriber_tags t USING {TEMP_IDS} s "
                            "WHERE t.subscriber_id = s.id AND NOT s.fresh")
                cur.execute("INSERT INTO subscriber_tags (subscriber_id, tag) "
                            f"SELECT s.id, x.tag FROM {STAGING} i JOIN {TEMP_IDS} s ON s.msisdn = i.msisdn "
                            f"CROSS JOIN LATERAL unnest(string_to_array(i.tags, '{TAG_SEPARATOR}')) AS x(tag) "
                            "WHERE i.tags <> ''")

    def _upsert_sql(self) -> str:
        """Only the columns the file has are updated, and only on rows where one of them changes: a
        daily refresh rewrites (and re-indexes) only what changed, and updated_at says when the
        profile last changed. The ids of the rows written come back for replacing their tags
        (xmax = 0 marks a row this statement inserted)."""
        fields = [c for c in self.fields if c != "msisdn"]
        attributes = "attributes::json" if self.has_attributes else "'{}'::json"
        updates = [f"{c} = EXCLUDED.{c}" for c in fields]
        stored, given = [f"subscribers.{c}" for c in fields], [f"EXCLUDED.{c}" for c in fields]
        if self.has_attributes:  # json has no equality; jsonb compares the values
            updates.append("attributes = EXCLUDED.attributes")
            stored.append("subscribers.attributes::jsonb")
            given.append("EXCLUDED.attributes::jsonb")
        only_own = " AND subscribers.branch = EXCLUDED.branch" if self.within_branch else ""
        conflict = (f"DO UPDATE SET {', '.join([*updates, 'updated_at = now()'])} "
                    f"WHERE ({', '.join(stored)}) IS DISTINCT FROM ({', '.join(given)}){only_own}") if updates \
            else "DO NOTHING"
        sql = (f"INSERT INTO subscribers ({', '.join(self.fields)}, attributes) "
               f"SELECT {', '.join(self.fields)}, {attributes} FROM {STAGING} ON CONFLICT (msisdn) {conflict}")
        if not self.has_tags:
            return sql
        return (f"WITH up AS ({sql} RETURNING id, msisdn, xmax = 0 AS fresh) "
                f"INSERT INTO {TEMP_IDS} (id, msisdn, fresh) SELECT id, msisdn, fresh FROM up")

    def close(self) -> None:
        try:
            self._pg.rollback()
            self._pg.execute(f"DROP TABLE IF EXISTS pg_temp.{STAGING}, pg_temp.{TEMP_IDS}")
            for name in SETTINGS:  # the connection goes back to the pool
                self._pg.execute(f"RESET {name}")
            self._pg.commit()
        finally:
            self._raw.close()
