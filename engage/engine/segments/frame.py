"""The subscriber base held in memory as one numpy array per profile column, for live counts.

A count in SQL visits every subscriber the criteria do not exclude by index, and typical
criteria (prepaid, active this month, in two regions) exclude few: at a million subscribers that
is 300-400 ms of PostgreSQL per count, however it is indexed. Held column by column in memory
the same tests take a few milliseconds each (engage.engine.segments.vector), so the count can
follow the marketer's typing.

The frame stays exact rather than periodically reloaded: before each use, `refresh` reads the
rows whose `updated_at` is at or after the watermark (an index range; every write to
subscribers sets it) and the ids deleted since (the subscriber_removals log). The watermark is
the start of the oldest transaction still open when the previous refresh ran, so rows a
long-running import commits later are still caught: they carry that transaction's now().

Text columns are dictionary-encoded (codes into the distinct values), so "city in (...)" is an
integer test; dates are days and datetimes microseconds since 1970 (UTC), each column with its
NULL mask. JSON attributes are not held: criteria on them are asked of the database."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlalchemy import BigInteger, Boolean, Connection, Date, DateTime, Integer, Numeric, String, select, text

from engage.engine.store.schema import Subscriber, SubscriberRemoval

TABLE = Subscriber.__table__
EPOCH = date(1970, 1, 1)
EPOCH_DT = datetime(1970, 1, 1, tzinfo=UTC)
# SQLite stores CURRENT_TIMESTAMP to the second: a refresh re-reads the last seconds, harmlessly
SQLITE_OVERLAP = timedelta(seconds=2)
LONG_TRANSACTION = timedelta(minutes=30)  # see watermark()
MAX_REFRESH_ROWS = 20_000  # read one by one: ~0.4 s; more, and a reload (a COPY) is the better way


def _kind(column: Any) -> str | None:
    t = column.type
    if isinstance(t, Boolean):
        return "bool"
    if isinstance(t, DateTime):
        return "datetime"
    if isinstance(t, Date):
        return "date"
    if isinstance(t, Numeric) and not isinstance(t, Integer):
        return "float"
    if isinstance(t, Integer | BigInteger):
        return "int"
    if isinstance(t, String):
        return "text"
    return None  # JSON attributes


KINDS: dict[str, str] = {c.name: k for c in TABLE.columns if c.name != "id" and (k := _kind(c)) is not None}
ROWS = select(TABLE.c.id, *(TABLE.c[n] for n in KINDS)).order_by(TABLE.c.id)  # the frame's columns, row by row


def to_number(kind: str, value: Any) -> Any:
    """A Python value as the frame stores it (days, microseconds, float); None stays None."""
    if value is None:
        return None
    if kind == "datetime":
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return (moment - EPOCH_DT) // timedelta(microseconds=1)
    if kind == "date":
        return (value - EPOCH).days
    if kind == "float":
        return float(value)
    if kind == "bool":
        return bool(value)
    return value


@dataclass
class FrameColumn:
    kind: str
    values: np.ndarray  # codes (text, -1 = NULL), or numbers
    null: np.ndarray  # bool
    categories: pd.Index | None = None  # text: the distinct values, codes index into it
    lookup: dict[str, int] | None = None  # text: value -> code, built on first use, kept by _recode

    def codes_of(self, values: list[Any]) -> np.ndarray:
        """The codes of these text values (only those present). A dict, not Index.get_indexer: 10,000
        opted-out numbers among a million take 1-2 ms instead of 20."""
        assert self.categories is not None
        if self.lookup is None:
            self.lookup = {value: code for code, value in enumerate(self.categories)}
        get = self.lookup.get
        found = [code for code in map(get, values) if code is not None]
        return np.asarray(found, dtype=np.int64)

    def holding(self, values: list[Any]) -> np.ndarray:
        """Where the column holds one of these text values: a lookup per code, not a set search."""
        table = np.zeros(len(self.categories) + 1, dtype=bool)  # the extra last entry is code -1, NULL
        table[self.codes_of(values)] = True
        return table[self.values]


@dataclass
class SubscriberFrame:
    ids: np.ndarray  # int64, ascending
    columns: dict[str, FrameColumn]
    watermark: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    derived: dict[str, Any] = field(default_factory=dict)  # caches cleared when rows change (birthday keys, id slots)

    def __len__(self) -> int:
        return len(self.ids)

    def memory_bytes(self) -> int:
        held = self.ids.nbytes + sum(c.values.nbytes + c.null.nbytes for c in self.columns.values())
        return held + sum(int(c.categories.memory_usage(deep=True)) for c in self.columns.values()
                          if c.categories is not None)

    def positions(self, ids: Any) -> np.ndarray:
        """Where these subscriber ids sit in the frame (ids the frame does not hold are left out)."""
        wanted = np.asarray(ids, dtype=np.int64)
        if not len(wanted) or not len(self.ids):
            return np.empty(0, dtype=np.int64)
        slots = self._slots()
        if slots is not None:  # ids from a sequence are dense: a direct table beats a binary search
            inside = wanted[(wanted >= 0) & (wanted < len(slots))]
            at = slots[inside]
            return at[at >= 0]
        at = np.searchsorted(self.ids, wanted)
        at[at >= len(self.ids)] = 0
        return at[self.ids[at] == wanted]

    def _slots(self) -> np.ndarray | None:
        """id -> position, while the ids are dense enough for a table of 4 bytes per id to be small."""
        if "slots" not in self.derived:
            top = int(self.ids[-1]) + 1 if len(self.ids) else 0
            slots = None
            if top <= max(4 * len(self.ids), 1 << 16):
                slots = np.full(top, -1, dtype=np.int32)
                slots[self.ids] = np.arange(len(self.ids), dtype=np.int32)
            self.derived["slots"] = slots
        return self.derived["slots"]

    def mask_of(self, ids: Any) -> np.ndarray:
        mask = np.zeros(len(self.ids), dtype=bool)
        mask[self.positions(ids)] = True
        return mask


def load(conn: Connection, watermark: datetime) -> SubscriberFrame:
    """The whole subscriber base; on PostgreSQL through one COPY read by Arrow's CSV reader.
    `watermark`: taken by watermark() before this transaction's snapshot."""
    if conn.dialect.name == "postgresql":
        ids, columns = _copy_all(conn)
    else:
        ids, columns = _from_rows(conn.execute(ROWS).all())
    return SubscriberFrame(ids=ids, columns=columns, watermark=watermark)


class TooManyChanges(Exception):
    """More rows changed since the last refresh than are worth reading one by one: reload instead."""


def refresh(frame: SubscriberFrame, conn: Connection, watermark: datetime, limit: int | None = None
            ) -> dict[str, int]:
    """Bring the frame up to what `conn` sees: changed and new rows since the frame's watermark,
    and the subscribers removed since; `watermark` (taken by watermark() before the snapshot of
    `conn`'s transaction) becomes the next one. Returns how many rows each moved; raises
    TooManyChanges (leaving the frame as it was) when more than `limit` rows changed."""
    limit = MAX_REFRESH_ROWS if limit is None else limit
    since = frame.watermark - SQLITE_OVERLAP if conn.dialect.name == "sqlite" and frame.watermark else frame.watermark
    rows = conn.execute((ROWS.where(TABLE.c.updated_at >= since) if since is not None else ROWS)
                        .limit(limit + 1)).all()
    if len(rows) > limit:
        raise TooManyChanges(f"more than {limit} subscribers changed since the frame's last refresh")
    # by the same watermark, not by seq: a removal committed late can carry a lower seq than one already read
    removed = conn.execute(select(SubscriberRemoval.subscriber_id).where(
        SubscriberRemoval.removed_at >= since)).scalars().all() if since is not None else []
    if rows:
        _merge(frame, *_from_rows(rows))
    gone = frame.positions(removed) if removed else np.empty(0, dtype=np.int64)
    if len(gone):
        keep = np.ones(len(frame.ids), dtype=bool)
        keep[gone] = False
        _take(frame, keep)
    frame.watermark = watermark
    return {"changed": len(rows), "removed": len(gone)}


def watermark(conn: Connection) -> datetime:
    """Now, or the start of the oldest other transaction still open: rows it writes carry its
    now(), which may be earlier than this moment, and become visible only when it commits.
    Taken in a transaction of its own that ends before the reading one begins: read inside the
    reading snapshot, a transaction committing between that snapshot and this look would be
    neither seen nor waited for. `conn` must not be in a transaction.

    Transactions open longer than LONG_TRANSACTION (a forgotten session) are not waited for, or
    every refresh would re-read all changes since they began: what they commit is picked up by the
    periodic full reload (engine.segments.live.RELOAD_EVERY)."""
    if conn.dialect.name != "postgresql":
        return datetime.now(UTC).replace(microsecond=0)
    moment = conn.execute(text(
        "SELECT least(now(), (SELECT min(xact_start) FROM pg_stat_activity WHERE xact_start IS NOT NULL "
        "AND pid <> pg_backend_pid() AND xact_start > now() - :longest))"),
        {"longest": LONG_TRANSACTION}).scalar_one()
    conn.rollback()
    return moment


# PostgreSQL writes each column as text Arrow reads without help: numbers for times and truths
def _copy_expression(name: str, kind: str) -> str:
    if kind == "datetime":
        return f"(extract(epoch FROM {name}) * 1000000)::bigint"
    if kind == "date":
        return f"({name} - date '1970-01-01')"
    if kind == "bool":
        return f"{name}::int"
    if kind == "float":
        return f"{name}::float8"
    return name


def _copy_all(conn: Connection) -> tuple[np.ndarray, dict[str, FrameColumn]]:
    """Every subscriber as CSV through COPY (no parameters: the query is fixed text)."""
    expressions = ", ".join(["id", *(_copy_expression(n, k) for n, k in KINDS.items())])
    buffer = io.BytesIO()
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY (SELECT {expressions} FROM subscribers ORDER BY id) TO STDOUT (FORMAT csv)") as copy:
        for chunk in copy:
            buffer.write(chunk)
    names = ["id", *KINDS]
    types = {"id": pa.int64(), **{n: _arrow_type(k) for n, k in KINDS.items()}}
    if not buffer.tell():  # no subscribers yet (Arrow refuses an empty file)
        return _from_rows([])
    buffer.seek(0)
    table = pacsv.read_csv(buffer,
                           read_options=pacsv.ReadOptions(column_names=names),
                           convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True,
                                                                quoted_strings_can_be_null=False))
    del buffer
    ids = np.array(table.column("id").to_numpy(), dtype=np.int64)  # writable: refreshes change frames in place
    columns = {n: _from_arrow(table.column(n), k) for n, k in KINDS.items()}
    del table
    pa.default_memory_pool().release_unused()  # Arrow keeps freed buffers for reuse otherwise
    return ids, columns


def _arrow_type(kind: str) -> pa.DataType:
    return {"datetime": pa.int64(), "date": pa.int32(), "bool": pa.int8(), "float": pa.float64(),
            "int": pa.int64(), "text": pa.string()}[kind]


def _from_arrow(chunked: pa.ChunkedArray, kind: str) -> FrameColumn:
    array = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
    null = np.array(array.is_null().to_numpy(zero_copy_only=False), dtype=bool)
    if kind == "text":
        encoded = array.dictionary_encode()
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int32)
        return FrameColumn(kind, codes, null, pd.Index(encoded.dictionary.to_pylist(), dtype=object))
    values = np.array(array.fill_null(0).to_numpy(zero_copy_only=False), dtype=bool if kind == "bool" else None)
    return FrameColumn(kind, values, null)


def _from_rows(rows: list[Any]) -> tuple[np.ndarray, dict[str, FrameColumn]]:
    """Rows read through SQLAlchemy (SQLite, and the few rows of a refresh) as frame columns."""
    ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    columns = {}
    for i, (name, kind) in enumerate(KINDS.items(), start=1):
        raw = [r[i] for r in rows]
        null = np.fromiter((v is None for v in raw), dtype=bool, count=len(raw))
        if kind == "text":
            codes, uniques = pd.factorize(pd.Series(raw, dtype=object), use_na_sentinel=True)
            columns[name] = FrameColumn(kind, codes.astype(np.int32), null, pd.Index(list(uniques), dtype=object))
            continue
        numbers = [0 if v is None else to_number(kind, v) for v in raw]
        dtype = {"float": np.float64, "bool": bool, "date": np.int32}.get(kind, np.int64)
        columns[name] = FrameColumn(kind, np.asarray(numbers, dtype=dtype), null)
    return ids, columns


def _merge(frame: SubscriberFrame, ids: np.ndarray, columns: dict[str, FrameColumn]) -> None:
    """Changed rows overwrite their place, new rows are added; ids stay ascending."""
    frame.derived.clear()
    at = np.searchsorted(frame.ids, ids)
    inside = at < len(frame.ids)
    known = np.zeros(len(ids), dtype=bool)
    known[inside] = frame.ids[at[inside]] == ids[inside]
    for name, column in frame.columns.items():
        incoming = columns[name]
        values = incoming.values
        if column.kind == "text":
            values = _recode(column, incoming)
        column.values[at[known]] = values[known]
        column.null[at[known]] = incoming.null[known]
        if (~known).any():
            column.values = np.concatenate([column.values, values[~known]])
            column.null = np.concatenate([column.null, incoming.null[~known]])
    if (~known).any():
        frame.ids = np.concatenate([frame.ids, ids[~known]])
        if (np.diff(frame.ids) < 0).any():
            _take(frame, np.argsort(frame.ids, kind="stable"))


def _recode(column: FrameColumn, incoming: FrameColumn) -> np.ndarray:
    """The incoming codes in terms of the frame column's categories, adding the new values."""
    assert column.categories is not None and incoming.categories is not None
    mapped = column.categories.get_indexer(incoming.categories)
    new = mapped < 0
    if new.any():
        added = incoming.categories[new]
        mapped[new] = codes = np.arange(len(column.categories), len(column.categories) + len(added))
        column.categories = column.categories.append(added)
        if column.lookup is not None:
            column.lookup.update(zip(added, codes.tolist(), strict=True))
    mapped = np.append(mapped, -1).astype(np.int32)  # code -1 (NULL) maps to -1
    return mapped[incoming.values]


def _take(frame: SubscriberFrame, selector: np.ndarray) -> None:
    frame.derived.clear()
    frame.ids = frame.ids[selector]
    for column in frame.columns.values():
        column.values = column.values[selector]
        column.null = column.null[selector]
