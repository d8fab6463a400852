"""The Subscribers pages: find subscribers by number or by a profile field, open one (profile and
history: messages, receipts, replies, opt-outs), and import a CSV or Parquet file with a progress
bar and a report of the rejected rows. They call what /api/v1/subscribers and /api/v1/imports call
(the progress bar polls the latter), so a page and an integration get the same answers.

Numbers are masked by the server for roles outside NUMBER_READERS; a branch user sees, opens and
imports only their branch's subscribers, and another branch's subscriber or import is a 404."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import tornado.web

from engage import config
from engage.engine.subscriber_fields import FIELDS, label_of
from engage.engine.subscribers import RowError, import_jobs, rejections
from engage.engine.subscribers.history import history
from engage.engine.subscribers.outcome_words import raw_code
from engage.engine.subscribers.search import OPS, SEARCHABLE, Query, SearchError, profile, search
from engage.engine.users.roles import NUMBER_READERS, SUBSCRIBER_IMPORTERS, SUBSCRIBER_READERS
from engage.engine.users.scope import Scope
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires
from engage.web.subscribers_api import HISTORY, query_from, send_report, start_import
from engage.web.uploads import StreamedUpload, UploadError

OP_WORDS = {"eq": "is", "contains": "contains"}  # search.OPS as the form says them
JOB_WORDS = {import_jobs.QUEUED: "waiting to start", import_jobs.RUNNING: "importing", import_jobs.DONE: "done",
             import_jobs.FAILED: "failed"}


def field_words(key: str, value: Any) -> Any:
    """A profile value as a person reads it (Yes, Male, Prepaid)."""
    return FIELDS[key].words(value) if key in FIELDS else value


def when(at: datetime | None) -> str:
    """A moment as the pages show it: UTC, to the minute (the history's header says UTC)."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if at is not None else ""


class SubscriberPageBase(PageHandler):
    def shown(self) -> Scope:
        user = self.current_user
        return Scope(branch=user.branch, show_numbers=user.role in NUMBER_READERS)


class SubscribersPage(SubscriberPageBase):
    @requires(*SUBSCRIBER_READERS)
    async def get(self) -> None:
        args = {name: self.get_query_argument(name, "") for name in ("q", "field", "op", "value")}
        page: dict[str, Any] = {"subscribers": [], "next_after": None, "match": None}
        error = None
        try:
            page = await off_loop(self._search, query_from(self))
        except SearchError as exc:
            error = str(exc)
            self.set_status(400)
        asked = {k: v for k, v in args.items() if v}
        next_url = (f"/subscribers?{urlencode({**asked, 'after': page['next_after']})}"
                    if page["next_after"] is not None else None)
        first_url = f"/subscribers?{urlencode(asked)}" if self.get_query_argument("after", "") else None
        self.render("subscribers.html", args=args, page=page, error=error, fields=SEARCHABLE, ops=OPS,
                    field_label=label_of, op_words=OP_WORDS, searched=bool(asked), branch=self.current_user.branch,
                    next_url=next_url, first_url=first_url,
                    can_import=self.current_user.role in SUBSCRIBER_IMPORTERS,
                    masked=self.current_user.role not in NUMBER_READERS)


    def _search(self, query: Query) -> dict[str, Any]:  # may scan the base: off the IO loop
        with self.db.connect() as conn:
            return search(conn, query, self.shown(), config.load().default_region)


class SubscriberPage(SubscriberPageBase):
    @requires(*SUBSCRIBER_READERS)
    def get(self, subscriber_id: str) -> None:
        with self.db.connect() as conn:
            shown = self.shown()
            found = profile(conn, int(subscriber_id), shown)
            if found is None:
                raise tornado.web.HTTPError(404, reason=f"no subscriber {subscriber_id}")
            entries = history(conn, int(subscriber_id), HISTORY, masked=not shown.show_numbers)
        self.render("subscriber.html", s=found, history=entries, when=when, field_label=label_of,
                    field_words=field_words, raw_code=raw_code)


@tornado.web.stream_request_body
class ImportPage(StreamedUpload, SubscriberPageBase):
    """The upload form. The file streams to disk as it arrives, so the form's _xsrf field is read
    with it and checked before any job is made (an X-XSRFToken header is checked at once)."""

    xsrf_in_form = True

    def prepare(self) -> None:
        if self.request.method != "POST":
            return
        user = self.current_user
        if user is None or user.role not in SUBSCRIBER_IMPORTERS:  # before a byte is written
            raise tornado.web.HTTPError(403, reason="sign in as a user who may import subscribers")
        try:
            self.begin_upload(import_jobs.imports_dir(), import_jobs.max_upload_bytes())
        except UploadError as exc:
            self.set_status(exc.status)
            self.form(exc.message)

    def form(self, error: str | None = None) -> None:
        limit = import_jobs.max_upload_bytes() // (1024 * 1024)
        self.render("subscriber_import.html", error=error, limit_mb=limit, branch=self.current_user.branch)

    @requires(*SUBSCRIBER_IMPORTERS)
    def get(self) -> None:
        self.form()

    @requires(*SUBSCRIBER_IMPORTERS)
    def post(self) -> None:
        assert self.upload is not None
        try:  # a refused upload (its fields unread) says why; nothing is done with it
            path = self.upload.end()
        except UploadError as exc:
            self.set_status(exc.status)
            self.form(exc.message)
            return
        self.check_xsrf_of_upload()
        encoding = self.upload.fields.get("encoding")
        filename, self.upload = self.upload.filename, None  # the job owns the file now
        try:
            with self.db.begin() as conn:
                job_id = import_jobs.create(conn, filename=filename, path=path, actor=self.current_user.email,
                                            branch=self.current_user.branch, encoding=encoding)
        except RowError as exc:
            path.unlink(missing_ok=True)
            self.set_status(400)
            self.form(str(exc))
            return
        start_import(self.db, job_id)
        self.redirect(f"/subscribers/import/{job_id}", status=303)


class ImportJobPage(SubscriberPageBase):
    """The import's progress and, once it is done, its rejected rows a page at a time (?page=N)."""

    @requires(*SUBSCRIBER_IMPORTERS)
    async def get(self, job_id: str) -> None:
        with self.db.begin() as conn:  # get() may mark a job whose process died as failed
            job = import_jobs.get(conn, int(job_id), self.current_user.branch)
        if job is None:
            raise tornado.web.HTTPError(404, reason=f"no import {job_id}")
        raw = self.get_query_argument("page", "1")
        last = max(1, -(-job["rows_rejected"] // rejections.PAGE_SIZE))
        number = min(int(raw), last) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 9 else 1
        shown = None
        if job["has_report"]:
            with self.db.connect() as conn:
                report = import_jobs.report_file(conn, int(job_id), self.current_user.branch)
            if report is not None:  # a deep page reads the report up to it: off the IO loop
                shown = await off_loop(rejections.read_page, report, max(1, number))
        self.render("subscriber_import_job.html", job=job, rejected=shown, page_number=number,
                    status_words=JOB_WORDS)


class RejectedRowsPage(SubscriberPageBase):
    @requires(*SUBSCRIBER_IMPORTERS)
    async def get(self, job_id: str) -> None:
        with self.db.connect() as conn:
            path = import_jobs.report_file(conn, int(job_id), self.current_user.branch)
        if path is None:
            raise tornado.web.HTTPError(404, reason=f"import {job_id} has no report of rejected rows")
        await send_report(self, int(job_id), path)


SUBSCRIBER_PAGE_ROUTES = [
    (r"/subscribers", SubscribersPage),
    (r"/subscribers/import", ImportPage),
    (r"/subscribers/import/(\d+)", ImportJobPage),
    (r"/subscribers/import/(\d+)/rejected\.csv", RejectedRowsPage),
    (r"/subscribers/(\d+)", SubscriberPage),
]
