"""What a dataset is: its columns (Arrow type, meaning, the SQL that reads each on either database),
its version, where its rows come from and how a run finds what changed. A dataset module builds one
Dataset and registers it (registry.py); the writer, the reader and the schema page work from this
declaration alone, so a dataset is one small file.

Two ways of being incremental (`mode`):
- append: rows never change once written (events, inbound MOs): a run adds the rows whose key is
  above the watermark; the files of a partition accumulate run after run.
- snapshot: rows change after they are written (a message's late receipt, a subscriber's new tier):
  a run finds the dates touched since the watermark (`touched`) and replaces those partitions whole,
  so every row is in exactly one file and BI never has to pick the latest version of a row.
  `small` datasets (campaigns) are read whole each run and a partition is replaced only when its
  content changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import pyarrow as pa

STATUS = pa.dictionary(pa.int32(), pa.string())  # statuses, kinds, currencies: few distinct values
TIMESTAMP = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(18, 6)

Personal = Literal["msisdn", "text"]
Mode = Literal["append", "snapshot", "small"]


@dataclass(frozen=True)
class Column:
    """One exported column. `sql` reads it (one expression, or one per database when they differ).
    personal="msisdn": a phone number, written as its keyed hash unless an admin asks for it in clear;
    personal="text": a name or free text, left out unless ENGAGE_EXPORT_TEXT is set."""

    name: str
    type: pa.DataType
    doc: str
    sql: str | Mapping[str, str]
    personal: Personal | None = None

    def expression(self, dialect: str) -> str:
        return self.sql if isinstance(self.sql, str) else self.sql[dialect]


@dataclass(frozen=True)
class Changes:
    """What a snapshot dataset's run must rewrite: the partition dates touched (each with the lowest
    key seen in it, to bound the read), the cursor to store once the files are in place, and the
    highest key as of that cursor (a rebuild reads up to it)."""

    dates: dict[date, int | None]
    cursor: dict[str, Any]
    last_id: int


# touched(session, state, cutoff) for snapshot datasets: with state None, only the cursor as of now
# (no dates); cutoff: rows written after it wait for the next run (None: no wait)
Touched = Callable[[Any, Any, "datetime | None"], Changes]


@dataclass(frozen=True)
class Dataset:
    name: str
    version: int
    doc: str
    columns: tuple[Column, ...]
    source: str | Mapping[str, str]  # FROM ... (joins included); the columns' expressions refer to it
    key: str  # the row's unique, increasing id as SQL (e.g. "e.id"); its column is `key_column`
    key_column: str
    partition: str  # the TIMESTAMP column (by name) whose UTC date is the row's dt=YYYY-MM-DD
    mode: Mode
    time: str = ""  # SQL of the partition column's source, to select whole dates
    touched: Touched | None = None
    where: str | Mapping[str, str] = ""  # always applied (e.g. a dataset's rows only)
    extra: dict[str, Any] = field(default_factory=dict)
    order: str = ""  # small datasets: ORDER BY of the rows, so that unchanged content reads the same each run

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def sql_of(self, value: str | Mapping[str, str], dialect: str) -> str:
        return value if isinstance(value, str) else value[dialect]

    def output_columns(self, *, text: bool) -> tuple[Column, ...]:
        """The columns a run writes: free text and names only when configured."""
        return tuple(c for c in self.columns if text or c.personal != "text")

    def arrow_schema(self, *, text: bool = False, clear_msisdn: bool = False) -> pa.Schema:
        fields = []
        for c in self.output_columns(text=text):
            name = clear_name(c.name) if clear_msisdn and c.personal == "msisdn" else c.name
            fields.append(pa.field(name, c.type, metadata={"doc": c.doc}))
        return pa.schema(fields, metadata={"dataset": self.name, "schema_version": str(self.version)})

    def fingerprint(self) -> str:
        """What a version promises: every column's name, type and kind (the docs may be reworded freely).
        tests/test_export_schema.py holds the fingerprint of each dataset's version."""
        shape = [[c.name, str(c.type), c.personal or ""] for c in self.columns]
        shape.append(["partition", self.partition, self.mode])
        return hashlib.sha256(json.dumps(shape).encode()).hexdigest()[:16]


def clear_name(name: str) -> str:
    """msisdn_hash -> msisdn: a clear export names the column for what it holds."""
    return name.removesuffix("_hash")


def ts(expression: str) -> dict[str, str]:
    """A timestamp as Arrow reads it in UTC. PostgreSQL: the column itself (binary COPY hands it over as
    microseconds, nothing printed); SQLite: its naive UTC text, given its offset."""
    return {"postgresql": expression, "sqlite": f"({expression} || '+00')"}


def json_field(column: str, key: str, *, integer: bool = False) -> dict[str, str]:
    """One key of a JSON column: the text, or an integer."""
    pg = f"({column}->>'{key}')" + ("::bigint" if integer else "")
    return {"postgresql": pg, "sqlite": f"json_extract({column}, '$.{key}')"}


def json_text(column: str) -> dict[str, str]:
    """A JSON column as its text; JSON null as NULL."""
    return {"postgresql": f"NULLIF(CAST({column} AS text), 'null')", "sqlite": f"NULLIF({column}, 'null')"}
