"""/api/v1/subscribers and /api/v1/imports: integrations (a CRM, a billing system) upsert subscribers
in JSON batches with the same checks as a file import; people and integrations find subscribers,
read a profile with its history, and import files with a progress report, as the Subscribers pages
do (the pages call the same engine functions and poll /api/v1/imports/N for the progress bar).

Numbers are masked server side for whoever may not see them: tokens and every session role but
roles.NUMBER_READERS. A token or user bound to a branch reads and writes only that branch."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import tornado.web
from sqlalchemy import Engine

from engage import config
from engage.engine.subscribers import RowError, import_jobs, upsert_records
from engage.engine.subscribers.history import history
from engage.engine.subscribers.search import PAGE_SIZE, Query, SearchError, profile, search
from engage.engine.users.roles import NUMBER_READERS, SUBSCRIBER_IMPORTERS, SUBSCRIBER_READERS, SUBSCRIBER_WRITERS
from engage.engine.users.scope import Scope
from engage.web.audience_api import ApiBase, ApiError
from engage.web.off_loop import off_loop
from engage.web.uploads import StreamedUpload, UploadError

MAX_BATCH = 10_000  # subscribers per upsert request
HISTORY = 100  # history entries shown with a profile
MAX_ID = 2**63 - 1  # the largest BIGINT: past it SQLite's driver overflows
# one import at a time per web process: an import keeps a core busy, and requests need the other
_RUNNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engage-import")


def start_import(db: Engine, job_id: int) -> None:
    """Run the queued job on the web process's import thread (its errors end up in the job)."""
    _RUNNER.submit(import_jobs.run, db, job_id, config.load().default_region)


def plain(value: Any) -> Any:
    """JSON-ready: datetimes and dates in ISO 8601, money as exact decimal text."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def query_from(handler: tornado.web.RequestHandler) -> Query:
    """The search a request asks for: q (a number), field + op + value, after (keyset), limit."""
    numbers = {}
    for name, default in (("after", 0), ("limit", PAGE_SIZE)):
        raw = handler.get_query_argument(name, "").strip()
        # ASCII digits only ("²".isdigit() holds), and no more than an id (a BIGINT) can hold
        if raw and not (raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) <= MAX_ID):
            raise SearchError(f"{name}: a whole number from 0 to {MAX_ID}, not {raw[:20]!r}")
        numbers[name] = int(raw) if raw else default
    return Query(number=handler.get_query_argument("q", "")[:40], field=handler.get_query_argument("field", ""),
                 op=handler.get_query_argument("op", "eq"), value=handler.get_query_argument("value", "")[:200],
                 **numbers)


def job_json(job: dict[str, Any]) -> dict[str, Any]:
    out = plain(job)
    out["report"] = f"/api/v1/imports/{job['id']}/rejected.csv" if job["has_report"] else None
    return out


class SubscriberApiBase(ApiBase):
    def shown(self) -> Scope:
        """The caller's scope, numbers shown only to sessions of a role that needs them."""
        user = self.request_user()  # a user token's owner, judged like their session
        return Scope(branch=self.scope.branch,
                     show_numbers=self.scope.show_numbers or (user is not None and user.role in NUMBER_READERS))


class SubscribersApi(SubscriberApiBase):
    """GET: search. POST: upsert a JSON batch with the import's validation: each bad record named by
    its index, the good ones stored. A caller bound to a branch writes only that branch's subscribers:
    a record naming another branch refuses the request (403); one whose number is a subscriber outside
    the branch is refused by its index, that subscriber unchanged, the others stored."""

    session_roles: ClassVar[dict[str, frozenset[str]]] = {"GET": SUBSCRIBER_READERS, "POST": SUBSCRIBER_WRITERS}

    async def get(self) -> None:
        try:
            page = await off_loop(self._search, query_from(self))
        except SearchError as exc:
            raise ApiError(400, str(exc)) from None
        self.write(plain(page))

    def _search(self, query: Query) -> dict[str, Any]:  # may scan the base: off the IO loop
        with self.db.connect() as conn:
            return search(conn, query, self.shown(), config.load().default_region)

    async def post(self) -> None:
        records = self.body().get("subscribers")
        if not isinstance(records, list) or not records:
            raise ApiError(400, "subscribers: a non-empty list of objects is needed")
        if len(records) > MAX_BATCH:
            raise ApiError(413, f"subscribers: at most {MAX_BATCH} per request")
        branch = self.scope.branch
        if branch is not None:
            for i, record in enumerate(records):
                if isinstance(record, dict) and record.get("branch") not in (None, "", branch):
                    raise ApiError(403, f"subscribers[{i}].branch: this token may only write branch {branch!r}")
            records = [{**r, "branch": branch} if isinstance(r, dict) else r for r in records]
        # up to MAX_BATCH records parsed and written: off the IO loop
        report = await off_loop(upsert_records, self.db, records, config.load().default_region, branch=branch)
        self.write(report.as_dict(details=True))


class SubscriberApi(SubscriberApiBase):
    """A profile with its history, newest first; 404 also for another branch's subscriber."""

    session_roles: ClassVar[dict[str, frozenset[str]]] = {"GET": SUBSCRIBER_READERS}

    def get(self, subscriber_id: str) -> None:
        with self.db.connect() as conn:
            shown = self.shown()
            found = profile(conn, int(subscriber_id), shown)
            if found is None:
                raise ApiError(404, f"no subscriber {subscriber_id}")
            entries = history(conn, int(subscriber_id), HISTORY, masked=not shown.show_numbers)
        self.write(plain({"subscriber": found, "history": entries}))


@tornado.web.stream_request_body
class ImportsApi(StreamedUpload, ApiBase):
    """POST a CSV or Parquet file (the raw body, ?filename=...; or multipart/form-data, field "file"),
    ?encoding=cp1251 (or a form field) for a CSV that is not UTF-8: 202 and the queued job, whose
    progress GET /api/v1/imports/N tells."""

    session_roles: ClassVar[dict[str, frozenset[str]]] = {"POST": SUBSCRIBER_IMPORTERS}

    def prepare(self) -> None:
        super().prepare()
        if self._finished or self.request.method != "POST":
            return
        try:
            self.begin_upload(import_jobs.imports_dir(), import_jobs.max_upload_bytes(),
                              self.get_query_argument("filename", None))
        except UploadError as exc:
            self.fail(exc.status, exc.message)

    def post(self) -> None:
        assert self.upload is not None
        try:
            path = self.upload.end()
        except UploadError as exc:
            raise ApiError(exc.status, exc.message) from None
        encoding = self.get_query_argument("encoding", None) or self.upload.fields.get("encoding")
        filename, self.upload = self.upload.filename, None  # the job owns the file now
        try:
            with self.db.begin() as conn:
                job_id = import_jobs.create(conn, filename=filename, path=path, actor=self.actor(),
                                            branch=self.scope.branch, encoding=encoding)
                job = import_jobs.get(conn, job_id, None)
        except RowError as exc:
            path.unlink(missing_ok=True)
            raise ApiError(400, str(exc)) from None
        start_import(self.db, job_id)
        self.set_status(202)
        self.set_header("Location", f"/api/v1/imports/{job_id}")
        self.write(job_json(job or {}))


class ImportApi(ApiBase):
    """An import's progress: status, rows read/imported/rejected of total_rows, percent, error, report."""

    session_roles: ClassVar[dict[str, frozenset[str]]] = {"GET": SUBSCRIBER_IMPORTERS}

    def get(self, job_id: str) -> None:
        with self.db.begin() as conn:  # get() may mark a job whose process died as failed
            job = import_jobs.get(conn, int(job_id), self.scope.branch)
        if job is None:
            raise ApiError(404, f"no import {job_id}")
        self.write(job_json(job))


class ImportRejectedApi(ApiBase):
    """The rejected rows of an import, CSV: their line (row, for Parquet) and the reason."""

    session_roles: ClassVar[dict[str, frozenset[str]]] = {"GET": SUBSCRIBER_IMPORTERS}

    async def get(self, job_id: str) -> None:
        with self.db.connect() as conn:
            path = import_jobs.report_file(conn, int(job_id), self.scope.branch)
        if path is None:
            raise ApiError(404, f"import {job_id} has no report of rejected rows")
        await send_report(self, int(job_id), path)


async def send_report(handler: tornado.web.RequestHandler, job_id: int, path: Path) -> None:
    """The report as a download, a block at a time: a file of millions of bad rows makes a big one."""
    handler.set_header("Content-Type", "text/csv; charset=utf-8")
    handler.set_header("Content-Disposition", f'attachment; filename="import-{job_id}-rejected.csv"')
    with path.open("rb") as report:
        while block := report.read(1 << 16):
            handler.write(block)
            await handler.flush()


# path -> method -> (summary, takes a JSON body), for engage.web.openapi
OPERATIONS: dict[str, dict[str, tuple[str, bool]]] = {
    "/api/v1/subscribers": {
        "get": ("Find subscribers: q (a number), field + op (eq, contains) + value; after, limit", False),
        "post": ("Upsert a batch of subscribers; each bad record reported by index", True)},
    "/api/v1/subscribers/{id}": {"get": ("A subscriber's profile and history (messages, receipts, replies)", False)},
    "/api/v1/imports": {"post": ("Import a CSV or Parquet file (raw body or multipart field 'file')", False)},
    "/api/v1/imports/{id}": {"get": ("An import's progress and counts", False)},
    "/api/v1/imports/{id}/rejected.csv": {"get": ("An import's rejected rows, CSV: line and reason", False)},
}

SUBSCRIBER_API_ROUTES = [
    (r"/api/v1/subscribers", SubscribersApi),
    (r"/api/v1/subscribers/(\d+)", SubscriberApi),
    (r"/api/v1/imports", ImportsApi),
    (r"/api/v1/imports/(\d+)", ImportApi),
    (r"/api/v1/imports/(\d+)/rejected\.csv", ImportRejectedApi),
]
