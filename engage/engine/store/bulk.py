"""Set-based writes for the hot paths: one statement per batch, never one per row.

`update_from_values` is UPDATE ... FROM (VALUES ...) on PostgreSQL, one join instead of one
round trip and plan per row. SQLite runs in-process, where executemany of one prepared
statement is just as fast (and SQLite cannot name the columns of a VALUES list).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import Column, Connection, Table, bindparam, cast, values

# SQLite allows 32,766 bound parameters per statement; PostgreSQL 65,535.
MAX_PARAMS = 30_000


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def update_from_values(conn: Connection, table: Table, key: str, rows: Sequence[dict[str, Any]],
                       extra: dict[str, Any] | None = None, where: Any = None) -> int:
    """Set each row's columns (every key of the row dicts but `key`) on the row whose `key` matches.

    extra: constant values or SQL expressions set on every matched row (e.g. status, now()).
    where: an extra condition on the target table (e.g. only rows still in flight); no IN lists,
    as SQLite runs this as executemany, which cannot expand them.
    """
    if not rows:
        return 0
    names = list(rows[0])
    if conn.dialect.name == "sqlite":
        stmt = table.update().where(table.c[key] == bindparam(f"_{key}")).values(
            {n: bindparam(f"_{n}") for n in names if n != key} | (extra or {}))
        if where is not None:
            stmt = stmt.where(where)
        return conn.execute(stmt, [{f"_{n}": r[n] for n in names} for r in rows]).rowcount
    per_chunk = max(1, MAX_PARAMS // len(names))
    updated = 0
    for part in chunks(rows, per_chunk):
        v = values(*(Column(n, table.c[n].type) for n in names), name="v").data(
            [tuple(r[n] for n in names) for r in part])
        # PostgreSQL types VALUES columns from their first row; cast so a NULL there is typed
        cols = {n: cast(v.c[n], table.c[n].type) for n in names}
        stmt = table.update().where(table.c[key] == cols[key]).values(
            {n: cols[n] for n in names if n != key} | (extra or {}))
        if where is not None:
            stmt = stmt.where(where)
        updated += conn.execute(stmt).rowcount
    return updated


def update_ids(conn: Connection, table: Table, ids: Sequence[Any], changes: dict[str, Any], where: Any = None,
               key: str = "id") -> int:
    """The same change for many rows, chosen by id: one statement per chunk of ids."""
    updated = 0
    for part in chunks(list(ids), MAX_PARAMS):
        stmt = table.update().where(table.c[key].in_(part)).values(changes)
        if where is not None:
            stmt = stmt.where(where)
        updated += conn.execute(stmt).rowcount
    return updated
