"""Files on disk: `<dir>/<dataset>/dt=YYYY-MM-DD/part-<run>-<n>.parquet` (Hive partitions, zstd), a
manifest per run in `<dir>/<dataset>/_manifests/<run>.json` and the latest one in
`<dir>/<dataset>/_manifest.json`.

Nothing half made is ever visible. A run writes into `<dir>/.staging/<dataset>-<run>/` (outside the
dataset's directory, so no glob over it finds a file being written), each file as *.parquet.tmp until
it is closed. Publishing is renames on the same file system: an appended file moves into its
partition; a replaced partition is swapped (the old directory moved aside, the new one moved in). The
manifest is written (atomically) after the files are in place and the watermark is moved after the
manifest, so `recover()` can finish or undo a run that died at any point: a run with a manifest was
published and its watermark is adopted; a run without one has its appended files deleted and any
partition it had moved aside put back.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROW_GROUP_ROWS = 65_536  # rows buffered per partition before a row group is written
FILE_ROWS = 4_000_000  # a partition's file is closed and the next begun after this many rows
MAX_BUFFERED = 131_072  # rows buffered over all partitions before the largest buffers are written
MAX_OPEN = 32  # open files; the least recently written is closed beyond it


def dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns Parquet dictionary-encodes: all but 64-bit integers and timestamps (ids, moments),
    whose values hardly repeat. Tried on those, the dictionary fills up and falls back to plain after
    every value was hashed: half the writer's time, and files three times the size."""
    return [f.name for f in schema if not (pa.types.is_int64(f.type) or pa.types.is_timestamp(f.type))]


def partition_name(day: date) -> str:
    return f"dt={day.isoformat()}"


def write_json_atomically(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    draft.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(draft, path)


@dataclass
class _Partition:
    buffered: list[pa.RecordBatch] = field(default_factory=list)
    buffered_rows: int = 0
    writer: pq.ParquetWriter | None = None
    path: Path | None = None
    file_rows: int = 0
    files: int = 0


@dataclass
class Written:
    """What a run wrote: files (relative to the dataset's directory), rows and key range per date."""

    files: list[str] = field(default_factory=list)
    rows: dict[date, int] = field(default_factory=dict)
    keys: dict[date, tuple[int, int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


class RunWriter:
    """Streams record batches into staged partition files; `publish` puts them in place."""

    def __init__(self, root: Path, dataset: str, run: str, schema: pa.Schema, partition: str, key: str) -> None:
        self.root = root
        self.dataset_dir = root / dataset
        self.staging = root / ".staging" / f"{dataset}-{run}"
        self.run = run
        self.schema = schema
        self.partition = partition
        self.key = key
        self.parts: dict[date, _Partition] = {}
        self.written = Written()
        self._buffered = 0
        self._order: list[date] = []  # partitions by last write, oldest first
        self.staging.mkdir(parents=True, exist_ok=True)

    def add(self, batch: pa.RecordBatch, keep: set[date] | None = None) -> int:
        """Split a batch by its rows' UTC dates; keep: only rows of these dates (None: all)."""
        if batch.num_rows == 0:
            return 0
        days = pc.cast(batch.column(self.partition), pa.date32())
        distinct = pc.unique(days).to_pylist()
        added = 0
        for day in distinct:
            if day is None or (keep is not None and day not in keep):
                continue
            rows = batch if len(distinct) == 1 else batch.filter(pc.equal(days, pa.scalar(day, pa.date32())))
            self._buffer(day, rows)
            added += rows.num_rows
        return added

    def _buffer(self, day: date, rows: pa.RecordBatch) -> None:
        part = self.parts.setdefault(day, _Partition())
        part.buffered.append(rows)
        part.buffered_rows += rows.num_rows
        self._buffered += rows.num_rows
        keys = rows.column(self.key)
        low, high = pc.min(keys).as_py(), pc.max(keys).as_py()
        if low is not None:
            seen = self.written.keys.get(day)
            self.written.keys[day] = (low, high) if seen is None else (min(seen[0], low), max(seen[1], high))
        self.written.rows[day] = self.written.rows.get(day, 0) + rows.num_rows
        if part.buffered_rows >= ROW_GROUP_ROWS:
            self._flush(day)
        while self._buffered > MAX_BUFFERED:
            self._flush(max(self.parts, key=lambda d: self.parts[d].buffered_rows))

    def _flush(self, day: date) -> None:
        part = self.parts[day]
        if not part.buffered:
            return
        if part.writer is None:
            self._open(day, part)
        assert part.writer is not None
        table = pa.Table.from_batches(part.buffered, schema=self.schema)
        part.writer.write_table(table, row_group_size=ROW_GROUP_ROWS)
        part.file_rows += table.num_rows
        self._buffered -= part.buffered_rows
        part.buffered, part.buffered_rows = [], 0
        if day in self._order:
            self._order.remove(day)
        self._order.append(day)
        if part.file_rows >= FILE_ROWS:
            self._close(day)
        while len(self._order) > MAX_OPEN:
            self._close(self._order[0])

    def _open(self, day: date, part: _Partition) -> None:
        part.files += 1
        folder = self.staging / partition_name(day)
        folder.mkdir(exist_ok=True)
        part.path = folder / f"part-{self.run}-{part.files}.parquet.tmp"
        part.writer = pq.ParquetWriter(part.path, self.schema, compression="zstd",
                                       use_dictionary=dictionary_columns(self.schema), write_statistics=True)
        part.file_rows = 0

    def _close(self, day: date) -> None:
        part = self.parts[day]
        if day in self._order:
            self._order.remove(day)
        if part.writer is None or part.path is None:
            return
        part.writer.close()
        final = part.path.with_suffix("")  # .parquet.tmp -> .parquet: whole now, still in staging
        part.path.rename(final)
        self.written.files.append(f"{partition_name(day)}/{final.name}")
        part.writer, part.path = None, None

    def finish(self) -> Written:
        for day in list(self.parts):
            self._flush(day)
            self._close(day)
        return self.written

    def publish(self, replace: Iterable[date] | None) -> None:
        """Put the staged files in place. replace=None: add them to their partitions; else the
        partitions of these dates are swapped whole for the staged ones (or removed if none staged)."""
        self.dataset_dir.mkdir(parents=True, exist_ok=True)
        if replace is None:
            for name in self.written.files:
                target = self.dataset_dir / name
                target.parent.mkdir(exist_ok=True)
                os.rename(self.staging / name, target)
            return
        for day in sorted(set(replace) | set(self.written.rows)):
            current, staged = self.dataset_dir / partition_name(day), self.staging / partition_name(day)
            if current.exists():
                os.rename(current, self.staging / f"old-{partition_name(day)}")
            if staged.exists():
                os.rename(staged, current)

    def discard(self) -> None:
        for part in self.parts.values():
            if part.writer is not None:
                part.writer.close()
        shutil.rmtree(self.staging, ignore_errors=True)


def manifest_path(root: Path, dataset: str, run: str) -> Path:
    return root / dataset / "_manifests" / f"{run}.json"


def write_manifest(root: Path, dataset: str, manifest: dict[str, Any]) -> None:
    write_json_atomically(manifest_path(root, dataset, manifest["run"]), manifest)
    write_json_atomically(root / dataset / "_manifest.json", manifest)


def recover(root: Path, dataset: str) -> list[dict[str, Any]]:
    """Finish or undo the runs of this dataset that died; returns the manifests of those that were
    published (their watermark may not have been moved: the caller adopts it)."""
    published = []
    staging_root = root / ".staging"
    if not staging_root.is_dir():
        return published
    dataset_dir = root / dataset
    for staging in sorted(staging_root.glob(f"{dataset}-*")):
        run = staging.name[len(dataset) + 1:]
        manifest = manifest_path(root, dataset, run)
        if manifest.is_file():
            published.append(json.loads(manifest.read_text(encoding="utf-8")))
        else:
            for old in staging.glob("old-dt=*"):  # a swap cut in half: the old partition goes back
                current = dataset_dir / old.name.removeprefix("old-")
                if not current.exists():
                    os.rename(old, current)
            for appended in dataset_dir.glob(f"dt=*/part-{run}-*.parquet"):
                appended.unlink()
        shutil.rmtree(staging, ignore_errors=True)
    return published


def existing_dates(root: Path, dataset: str) -> set[date]:
    found = set()
    for folder in (root / dataset).glob("dt=*"):
        try:
            found.add(date.fromisoformat(folder.name[3:]))
        except ValueError:
            continue
    return found
