"""Reading a dataset's rows as Arrow record batches, never the whole result at once.

PostgreSQL: `COPY (SELECT ...) TO STDOUT (FORMAT csv)` streamed into pyarrow's CSV reader, which
parses blocks on its own threads into typed columns: no Python object per value. The read runs in one
REPEATABLE READ transaction (the bounds the planner read and the rows agree), in UTC.
SQLite: batched SELECTs, each batch's columns cast to their Arrow types.

Statements are written once with `:name` parameters; PostgreSQL's are handed to psycopg as
`%(name)s`, bound by the driver.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import pq
from sqlalchemy import Engine

from engage.engine.analytics.exports import personal

BATCH_ROWS = 100_000  # SQLite rows per fetch
CSV_BLOCK = 1 << 20  # bytes of CSV pyarrow parses at a time (its read-ahead holds several)
_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class ReadSession:
    """One read-only transaction over a raw connection of `engine`; key: the export key, registered
    for hashing phone numbers (None: numbers are not hashed, the caller writes none or clear ones)."""

    def __init__(self, engine: Engine, key: bytes | None) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.key = key
        self._raw: Any = None
        self._readers: list[Any] = []

    def __enter__(self) -> ReadSession:
        self._raw = self.engine.raw_connection()
        dbapi = self._raw.driver_connection
        if self.dialect == "postgresql":
            with dbapi.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cur.execute("SET LOCAL TimeZone = 'UTC'")
                cur.execute("SET LOCAL DateStyle = 'ISO, YMD'")
                cur.execute("SET LOCAL extra_float_digits = 0")
                if self.key is not None:
                    personal.set_postgres_key(cur, self.key)
        else:
            if self.key is not None:
                personal.register_sqlite_hash(dbapi, self.key)
            dbapi.execute("BEGIN")  # deferred: a read snapshot that blocks no writer (WAL)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        raw, self._raw = self._raw, None
        if exc_type is not None:  # perhaps mid-COPY: a connection in that state is closed, never pooled
            if self.dialect == "postgresql":
                with contextlib.suppress(Exception):
                    raw.driver_connection.cancel_safe(timeout=5)
            for reader in self._readers:  # their cursors, on the way out (the error is already known)
                with contextlib.suppress(Exception):
                    reader.close()
            raw.invalidate()
            raw.close()
            return
        try:
            raw.driver_connection.rollback() if self.dialect == "postgresql" else raw.driver_connection.execute(
                "ROLLBACK")
        finally:
            raw.close()

    def _statement(self, sql: str) -> str:
        return _NAMED.sub(r"%(\1)s", sql) if self.dialect == "postgresql" else sql

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        cur = self._raw.driver_connection.cursor()
        try:
            cur.execute(self._statement(sql), dict(params or {}))
            return list(cur.fetchall())
        finally:
            cur.close()

    def scalar(self, sql: str, params: Mapping[str, Any] | None = None) -> Any:
        found = self.rows(sql, params)
        return found[0][0] if found else None

    def batches(self, sql: str, params: Mapping[str, Any], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        """Closed with the session when a run stops half way."""
        if self.dialect == "postgresql":
            reader = self._copy_batches(sql, params, schema)
        else:
            reader = self._select_batches(sql, params, schema)
        self._readers.append(reader)
        return reader

    def _copy_batches(self, sql: str, params: Mapping[str, Any], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        conn = self._raw.driver_connection
        statement = psycopg.ClientCursor(conn).mogrify(f"COPY ({self._statement(sql)}) TO STDOUT (FORMAT csv)",
                                                      dict(params))
        stream = _CopyStream(conn.pgconn, statement.encode())
        if stream.empty():  # no rows: pyarrow refuses an empty file
            return
        # timestamps come as microseconds since 1970 (spec.ts): integers, cast back below
        printed = [pa.int64() if pa.types.is_timestamp(t) else t for t in schema.types]
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(column_names=schema.names, block_size=CSV_BLOCK),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=dict(zip(schema.names, printed, strict=True)), null_values=[""],
                strings_can_be_null=True, quoted_strings_can_be_null=False, true_values=["t"], false_values=["f"]))
        for batch in reader:
            yield pa.RecordBatch.from_arrays(
                [c.cast(t) if t != p else c for c, t, p in zip(batch.columns, schema.types, printed, strict=True)],
                schema=schema)
        stream.finish()

    def _select_batches(self, sql: str, params: Mapping[str, Any], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        cur = self._raw.driver_connection.cursor()
        try:
            cur.execute(sql, dict(params))
            while rows := cur.fetchmany(BATCH_ROWS):
                yield _typed(list(zip(*rows, strict=True)), schema)
        finally:
            cur.close()


def _typed(columns: Sequence[Sequence[Any]], schema: pa.Schema) -> pa.RecordBatch:
    arrays = []
    for values, f in zip(columns, schema, strict=True):
        if pa.types.is_decimal(f.type):  # SQLite keeps money as REAL: to text first, rounded to the scale
            values = [None if v is None else f"{v:.{f.type.scale}f}" for v in values]
        elif pa.types.is_string(f.type) or pa.types.is_dictionary(f.type):
            values = [None if v is None else str(v) for v in values]
        arrays.append(pa.array(values).cast(f.type) if len(values) else pa.array([], f.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


class _CopyStream(io.RawIOBase):
    """The COPY stream as a file pyarrow reads, straight from libpq: PostgreSQL sends one message per
    row, and psycopg's Copy object spends a Python generator step on each; this loop is the leanest
    Python can read them (the statement is bound on the client, as psycopg binds a COPY's)."""

    def __init__(self, pgconn: Any, statement: bytes) -> None:
        self._pg = pgconn
        self._buffer = bytearray()
        self._ended = False
        pgconn.send_query(statement)
        result = pgconn.get_result()
        if result.status != pq.ExecStatus.COPY_OUT:
            self._drain()
            raise psycopg.DatabaseError((result.error_message or b"COPY did not start").decode(errors="replace"))

    def readable(self) -> bool:
        return True

    def empty(self) -> bool:
        self._buffer += self._next()
        return self._ended

    def _next(self) -> bytes:
        if self._ended:
            return b""
        size, data = self._pg.get_copy_data(0)
        if size < 0:  # -1: the end (the statement's result follows); -2: an error
            self._ended = True
            self.finish()
            return b""
        return data

    def finish(self) -> None:
        result = self._pg.get_result()
        self._drain()
        if result is not None and result.status != pq.ExecStatus.COMMAND_OK:
            raise psycopg.DatabaseError((result.error_message or b"COPY failed").decode(errors="replace"))

    def _drain(self) -> None:
        while self._pg.get_result() is not None:
            pass

    def readinto(self, target: Any) -> int:
        """The loop runs once per row: libpq's call bound to a local, no method call per row, and the
        bytes handed over through memoryviews (one copy, not two)."""
        wanted = len(target)
        buffer = self._buffer
        if len(buffer) < wanted and not self._ended:
            get = self._pg.get_copy_data
            while len(buffer) < wanted:
                size, data = get(0)
                if size < 0:  # -1: the end (the statement's result follows); -2: an error
                    self._ended = True
                    self.finish()
                    break
                buffer += data
        n = min(wanted, len(buffer))
        memoryview(target)[:n] = memoryview(buffer)[:n]
        del buffer[:n]
        return n
