"""Subscriber imports started from the browser or the API: the uploaded file becomes an import_jobs
row, run on a thread of the web process, which writes its progress (rows read, imported, rejected)
to the row as it goes, so that any web process can draw the progress bar; the rejected rows end up
in a CSV report under $ENGAGE_HOME/imports/. A failing import marks its job failed with the reason
and is never let out of the thread.

A branch user's import writes only that branch's subscribers: every row gets the branch, a row
naming another branch is rejected, and so is a row whose number is already a subscriber outside
the branch (else an import could take over, or overwrite, another branch's people)."""

from __future__ import annotations

import codecs
import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from engage import config
from engage.engine.audit import audit
from engage.engine.store.schema import ImportJob
from engage.engine.subscribers import ownership
from engage.engine.subscribers.importer import (
    CHUNK_ROWS,
    DistinctNumbers,
    ImportReport,
    add_source_rejections,
    bulk_mode,
    count_rows,
    import_file,
    open_source,
    write_rejections,
)
from engage.engine.subscribers.rows import REJECTIONS, RowError, RowParser
from engage.engine.subscribers.storage import open_writer

log = logging.getLogger(__name__)

KIND = "subscribers"
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
STALLED_AFTER = timedelta(minutes=10)  # a running import writes progress every few seconds
STALLED = ("interrupted: the web process running this import stopped before it finished; "
           "import the file again (rows already imported are kept, re-importing them is harmless)")
DEFAULT_MAX_UPLOAD_MB = 200
JOB_COLUMNS = (ImportJob.id, ImportJob.kind, ImportJob.filename, ImportJob.status, ImportJob.total_rows,
               ImportJob.rows_read, ImportJob.rows_imported, ImportJob.rows_rejected, ImportJob.report_path,
               ImportJob.error, ImportJob.created_by, ImportJob.branch, ImportJob.created_at,
               ImportJob.started_at, ImportJob.finished_at, ImportJob.updated_at)


def imports_dir() -> Path:
    """$ENGAGE_HOME/imports: uploads while they are imported, and the reports of rejected rows."""
    path = Path(os.environ.get("ENGAGE_HOME", str(config.DEFAULT_HOME))) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def max_upload_bytes() -> int:
    """ENGAGE_MAX_UPLOAD_MB (default 200): a bigger file is refused before it fills the disk."""
    return int(float(os.environ.get("ENGAGE_MAX_UPLOAD_MB", str(DEFAULT_MAX_UPLOAD_MB))) * 1024 * 1024)


def create(conn: Connection, *, filename: str, path: Path, actor: str, branch: str | None,
           encoding: str | None = None) -> int:
    """A queued job for an uploaded file (already at ``path``); audited. Returns its id. ``encoding``:
    the CSV's, as given (cp1251, latin-1...); RowError naming it when Python knows no such codec."""
    encoding = checked_encoding(encoding)
    job_id = conn.execute(ImportJob.__table__.insert().values(
        kind=KIND, filename=filename[:255] or "upload", path=str(path), status=QUEUED, rows_read=0,
        rows_imported=0, rows_rejected=0, created_by=actor, branch=branch, encoding=encoding)).inserted_primary_key[0]
    audit(conn, actor, "subscribers.import", "import_job", job_id, filename=filename[:255], branch=branch,
          encoding=encoding)
    return int(job_id)


def checked_encoding(encoding: str | None) -> str | None:
    """A codec's name as given, or None for "find it from the file" (an empty choice of the form)."""
    if not encoding or not encoding.strip():
        return None
    try:
        codecs.lookup(encoding.strip())
    except LookupError:
        raise RowError(f"encoding: unknown encoding {encoding.strip()[:32]!r} (e.g. cp1251, latin-1, utf-16-le)") \
            from None
    return encoding.strip()[:32]


def get(conn: Connection, job_id: int, branch: str | None) -> dict[str, Any] | None:
    """The job with its progress; None when there is none, or it belongs to another branch than
    ``branch`` (None: every branch). ``percent`` is 100 only once the job is done. A queued or
    running job silent for STALLED_AFTER is marked failed here (commit ``conn``): its process died
    (a queued one before its thread took it), and its upload is removed."""
    query = select(*JOB_COLUMNS).where(ImportJob.id == job_id)
    if branch is not None:
        query = query.where(ImportJob.branch == branch)
    row = conn.execute(query).mappings().first()
    if row is None:
        return None
    job = dict(row)
    if job["status"] in (QUEUED, RUNNING) and _silent_since(job) < datetime.now(UTC) - STALLED_AFTER:
        stalled = conn.execute(update(ImportJob).where(ImportJob.id == job_id, ImportJob.status == job["status"])
                               .values(status=FAILED, error=STALLED, finished_at=datetime.now(UTC))
                               .returning(ImportJob.path)).scalar()
        if stalled:
            Path(stalled).unlink(missing_ok=True)
        job.update(status=FAILED, error=STALLED)
    total, read = job["total_rows"] or 0, job["rows_read"] or 0
    # counted lines overcount quoted line breaks: short of done, never claim 100
    job["percent"] = 100 if job["status"] == DONE else min(99, 100 * read // total) if total else 0
    job["has_report"] = bool(job.pop("report_path"))
    return job


def report_file(conn: Connection, job_id: int, branch: str | None) -> Path | None:
    """The rejected rows' CSV of a job visible to ``branch``, if it has one on disk."""
    query = select(ImportJob.report_path).where(ImportJob.id == job_id)
    if branch is not None:
        query = query.where(ImportJob.branch == branch)
    path = conn.execute(query).scalar()
    return Path(path) if path and Path(path).is_file() else None


def run(engine: Engine, job_id: int, region: str) -> None:
    """Run a queued job to its end (done or failed). A job another process already took is left
    alone. Never raises: whatever goes wrong is the job's error."""
    with engine.begin() as conn:
        claimed = conn.execute(update(ImportJob).where(ImportJob.id == job_id, ImportJob.status == QUEUED)
                               .values(status=RUNNING, started_at=datetime.now(UTC),
                                       updated_at=datetime.now(UTC))).rowcount
        row = conn.execute(select(ImportJob.path, ImportJob.filename, ImportJob.branch, ImportJob.encoding)
                           .where(ImportJob.id == job_id)).first()
    if not claimed or row is None:
        return
    upload = Path(row.path)
    try:
        total = count_rows(upload)
        _set(engine, job_id, total_rows=total)
        chunk = max(1000, min(CHUNK_ROWS, total // 20))  # some 20 steps of the bar, in chunks worth a commit
        if row.branch is None:
            report = import_file(engine, upload, region, chunk_rows=chunk, encoding=row.encoding,
                                 progress=lambda read: _set(engine, job_id, rows_read=read))
        else:
            report = import_for_branch(engine, upload, region, row.branch, chunk_rows=chunk, encoding=row.encoding,
                                       progress=lambda r: _set(engine, job_id, rows_read=r.rows,
                                                               rows_imported=r.imported,
                                                               rows_rejected=len(r.rejected)))
        report_path = None
        if report.rejected:
            report_path = imports_dir() / f"{job_id}-rejected.csv"
            write_rejections(report, report_path)
        _set(engine, job_id, status=DONE, rows_read=report.rows, rows_imported=report.imported,
             rows_rejected=len(report.rejected), report_path=str(report_path) if report_path else None,
             finished_at=datetime.now(UTC))
    except Exception as exc:  # noqa: BLE001 - the job's error, for the person waiting on it
        log.exception("import job %s failed", job_id)
        message = _reason(exc).replace(str(upload), row.filename)
        try:
            _set(engine, job_id, status=FAILED, error=message[:2000], finished_at=datetime.now(UTC))
        except Exception:  # noqa: BLE001 - the database itself is down: the log has both errors
            log.exception("import job %s: could not record its failure", job_id)
    finally:
        upload.unlink(missing_ok=True)


def _reason(exc: Exception) -> str:
    """What the person can act on: the file's fault in its own words, anything else by its kind."""
    if isinstance(exc, UnicodeDecodeError):
        return f"the file is neither UTF-8 text (CSV) nor Parquet (byte {exc.start}: {exc.reason})"
    if isinstance(exc, ValueError | OSError):  # RowError and FieldValueError among them
        return str(exc)
    return f"the import stopped on an internal error ({type(exc).__name__}); the server log has the details"


def _silent_since(job: dict[str, Any]) -> datetime:
    last = job.get("updated_at") or job.get("started_at") or job["created_at"]
    return last if last.tzinfo else last.replace(tzinfo=UTC)  # SQLite gives naive UTC


def _set(engine: Engine, job_id: int, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(**values, updated_at=datetime.now(UTC)))


def import_for_branch(engine: Engine, path: Path, region: str, branch: str, *,
                      progress: Callable[[ImportReport], None] | None = None,
                      chunk_rows: int = CHUNK_ROWS, encoding: str | None = None) -> ImportReport:
    """import_file for a branch's user: every row stored with ``branch``; a row naming another
    branch, or a number that is already a subscriber outside the branch, is rejected with its
    line (row for Parquet). progress(report so far) after each chunk."""
    source = open_source(path, encoding)
    numbers = DistinctNumbers()
    with source, bulk_mode():
        header = list(source.header)
        width = len(header)
        keys = [str(h or "").strip().lower() for h in header]
        at = keys.index("branch") if "branch" in keys else None
        parser = RowParser(header if at is not None else [*header, "branch"], region, encoding=source.encoding)
        report = ImportReport(label=source.label)
        with open_writer(engine, parser.columns, within_branch=True) as writer:
            chunk: dict[str, tuple[list[int], tuple[Any, ...]]] = {}
            for where, cells in source.records():
                report.rows += 1
                try:
                    row = parser.parse(_in_branch(list(cells), width, at, branch))
                except REJECTIONS as exc:
                    report.rejected.append((where, str(exc)))
                    continue
                seen = chunk.get(row[0])  # a number seen again in the chunk: its last row wins
                chunk[row[0]] = ([*seen[0], where] if seen else [where], row)
                report.imported += 1
                if len(chunk) >= chunk_rows:
                    _write_branch_chunk(engine, writer, chunk, branch, report)
                    numbers.add(chunk, len(chunk))
                    chunk = {}
                    if progress:
                        progress(report)
            _write_branch_chunk(engine, writer, chunk, branch, report)
            numbers.add(chunk, len(chunk))
    add_source_rejections(report, source.rejected)
    report.duplicates = report.imported - numbers.count()
    report.imported -= report.duplicates
    report.rejected.sort()
    if progress:
        progress(report)
    return report


def _in_branch(cells: list[Any], width: int, at: int | None, branch: str) -> list[Any]:
    """The row's cells with its branch set, or RowError when it names another branch."""
    if len(cells) > width:
        raise RowError(f"{len(cells)} fields, but the header names {width}")
    cells += [None] * (width - len(cells))
    if at is None:
        return [*cells, branch]
    named = cells[at]
    if named is not None and str(named).strip() not in ("", branch):
        raise RowError(f"branch: {str(named).strip()!r} is another branch; an import by branch {branch!r} "
                       "writes only its own subscribers")
    cells[at] = branch
    return cells


def _write_branch_chunk(engine: Engine, writer: Any, chunk: dict[str, tuple[list[int], tuple[Any, ...]]],
                        branch: str, report: ImportReport) -> None:
    """Store the chunk's rows but those whose number is a subscriber outside the branch."""
    if not chunk:
        return
    with engine.connect() as conn:
        taken = ownership.outside(conn, chunk, branch)
    for number in taken:
        lines, _ = chunk.pop(number)
        report.rejected += [(where, ownership.TAKEN) for where in lines]
        report.imported -= len(lines)
    writer.write([row for _, row in chunk.values()])
