"""One export run of one dataset, start to end: exclusive (one run per dataset and directory at a
time, across processes), recovering what a dead run left, planning, streaming the rows into staged
files, publishing them, the manifest, and only then the watermark."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Engine

from engage import config
from engage.engine.analytics.exports import layout, planning, state
from engage.engine.analytics.exports.personal import export_key
from engage.engine.analytics.exports.reading import ReadSession
from engage.engine.analytics.exports.spec import Dataset
from engage.engine.scheduler.leadership import Leadership


class ExportError(RuntimeError):
    pass


class ExportBusy(ExportError):
    pass


@dataclass(frozen=True)
class ExportOptions:
    directory: Path
    since: date | None = None
    settle: float = 60.0  # s: rows younger than this wait for the next run (see planning)
    text: bool = False  # names and free text (message body, MO text) written too
    clear_msisdn: bool = False  # numbers in clear: runner.clear_numbers_allowed must have said yes
    progress: Callable[[int], None] | None = None  # rows written so far
    now: datetime | None = None  # the run's "now" (what is settled is older than now - settle); None: the clock


def new_run_id() -> str:
    """Sortable: the manifests of a dataset list in the order the runs started."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(2)


def run_dataset(engine: Engine, dataset: Dataset, options: ExportOptions) -> dict[str, Any]:
    """Export what changed since the watermark; returns the run's manifest (rows 0, no files, when
    nothing changed: then no manifest file is written, only the cursor moves)."""
    settings = config.load()
    if options.clear_msisdn and options.directory.resolve() == settings.exports_dir.resolve():
        raise ExportError("numbers in clear go to their own directory (--to), never into the one BI reads")
    name = state.watermark_name(dataset.name, options.directory, settings.exports_dir)
    with Leadership(engine, name) as lead:
        if not lead.held:
            raise ExportBusy(f"another export of {dataset.name} into {options.directory} is running")
        try:
            return _run(engine, dataset, options, name)
        finally:
            pa.default_memory_pool().release_unused()  # the next dataset starts from a small process


def _run(engine: Engine, dataset: Dataset, options: ExportOptions, name: str) -> dict[str, Any]:
    root = options.directory
    current = state.load(engine, name)
    for manifest in layout.recover(root, dataset.name):  # published, watermark perhaps not moved
        if current is None or manifest["run"] > current.run:
            current = state.ExportState.from_detail(manifest["state"])
            assert current is not None
            state.save(engine, name, current, root, int(manifest["last_id"]))
    started = options.now or datetime.now(UTC)
    cutoff = started - timedelta(seconds=options.settle) if options.settle > 0 or options.now else None
    run = new_run_id()
    hashed = any(c.personal == "msisdn" for c in dataset.columns) and not options.clear_msisdn
    key = export_key(root) if hashed else None
    schema = dataset.arrow_schema(text=options.text, clear_msisdn=options.clear_msisdn)
    writer = layout.RunWriter(root, dataset.name, run, schema, dataset.partition, dataset.key_column)
    try:
        with ReadSession(engine, key) as session:
            plan = planning.plan(session, dataset, current, cutoff=cutoff, since=options.since,
                                 existing=layout.existing_dates(root, dataset.name))
            sql = planning.select_sql(session, dataset, plan, text=options.text, clear=options.clear_msisdn)
            batches = session.batches(sql, plan.params, schema)
            replace = plan.replace
            digests = dict(current.digests) if current else {}
            if plan.whole:
                batches, replace, digests = _changed_only(batches, schema, dataset, current, plan, root)
            written = 0
            for batch in batches:
                written += writer.add(batch, plan.keep)
                if options.progress:
                    options.progress(written)
            result = writer.finish()
        new = _next_state(dataset, current, plan, result, replace, digests, run)
        if not result.files and not replace:
            writer.discard()
            state.save(engine, name, new, root, plan.last_id)
            return _manifest(dataset, run, started, current, new, plan, result, replace, options)
        writer.publish(replace)
        manifest = _manifest(dataset, run, started, current, new, plan, result, replace, options)
        layout.write_manifest(root, dataset.name, manifest)
        state.save(engine, name, new, root, plan.last_id)
        writer.discard()  # the staging directory, with the partitions swapped out
        return manifest
    except BaseException:
        writer.discard()
        raise


def _changed_only(batches: Iterator[pa.RecordBatch], schema: pa.Schema, dataset: Dataset,
                  current: state.ExportState | None, plan: planning.Plan,
                  root: Path) -> tuple[Iterator[pa.RecordBatch], set[date], dict[str, str]]:
    """A small dataset, read whole: the partitions whose content changed (or vanished), and their rows."""
    # sort_by is stable: rows of one key keep the dataset's order (Dataset.order), so the digest is the same
    table = pa.Table.from_batches(list(batches), schema=schema).sort_by(dataset.key_column)
    days = pc.cast(table.column(dataset.partition), pa.date32())
    digests: dict[str, str] = {}
    for day in pc.unique(days).to_pylist():
        if day is None:
            continue
        rows = table.filter(pc.equal(days, pa.scalar(day, pa.date32())))
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, schema) as ipc:
            ipc.write_table(rows)
        digests[day.isoformat()] = hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()
    before = {} if current is None or plan.notes.get("rebuild") else current.digests
    existing = {d.isoformat() for d in layout.existing_dates(root, dataset.name)}
    changed = {date.fromisoformat(d) for d in set(digests) | set(before) | existing
               if digests.get(d) != before.get(d) or (d in digests) != (d in existing)}
    keep = {d for d in changed if d.isoformat() in digests}
    kept = table.filter(pc.is_in(days, pa.array(sorted(keep), pa.date32()))) if keep else table.slice(0, 0)
    return iter(kept.to_batches()), changed, digests


def _next_state(dataset: Dataset, current: state.ExportState | None, plan: planning.Plan, written: layout.Written,
                replace: set[date] | None, digests: dict[str, str], run: str) -> state.ExportState:
    partitions = dict(current.partitions) if current and current.version == dataset.version else {}
    for day in replace or ():
        partitions.pop(day.isoformat(), None)
    for day, (low, high) in written.keys.items():
        seen = partitions.get(day.isoformat())
        partitions[day.isoformat()] = [low, high] if seen is None else [min(seen[0], low), max(seen[1], high)]
    return state.ExportState(cursor=plan.cursor, run=run if written.files or replace else
                             (current.run if current else ""), version=dataset.version, partitions=partitions,
                             digests=digests)


def _manifest(dataset: Dataset, run: str, started: datetime, before: state.ExportState | None,
              after: state.ExportState, plan: planning.Plan, written: layout.Written, replace: set[date] | None,
              options: ExportOptions) -> dict[str, Any]:
    return {
        "dataset": dataset.name, "run": run, "schema_version": dataset.version, "mode": dataset.mode,
        "started": started.isoformat(), "finished": datetime.now(UTC).isoformat(),
        "rows": written.total, "files": sorted(written.files),
        "partitions": {d.isoformat(): n for d, n in sorted(written.rows.items())},
        "replaced": sorted(d.isoformat() for d in replace or ()),
        "watermark": {"from": before.cursor if before else None, "to": after.cursor},
        "since": options.since.isoformat() if options.since else None,
        "msisdn": "clear" if options.clear_msisdn else "hmac-sha256", "free_text": options.text,
        "last_id": plan.last_id, "state": after.as_detail(options.directory),
    }
