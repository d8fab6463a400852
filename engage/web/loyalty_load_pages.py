"""Bulk point loads in the back office: /loyalty/<p>/loads takes a CSV or Parquet file (msisdn, points,
reason, external_id) and lists the programme's loads; /loyalty/<p>/loads/<id> shows one load's counts
and its rows with a problem, 100 at a time, with the report as CSV, and lets an approver who did not
upload it approve (its good rows are posted) or reject it with a reason.

Admin and marketer of no branch upload; admin and approver approve; the back office's readers see the
loads. A load is the whole operator's (its rows name subscribers of every branch), so its pages are
for users of no branch. Numbers are masked for roles that may not see them whole. The file streams
to disk as it arrives (web.uploads), so the form's _xsrf field is checked once the body is in."""

from __future__ import annotations

from typing import Any

import tornado.web
from sqlalchemy import Engine

from engage.engine.loyalty import load_posting, loads, programmes
from engage.engine.loyalty.loads import LoadError
from engage.engine.subscribers import import_jobs
from engage.engine.users.roles import LOYALTY_APPROVERS, LOYALTY_EDITORS, LOYALTY_READERS, NUMBER_READERS
from engage.web.loyalty_forms import programme_of
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires
from engage.web.uploads import StreamedUpload, UploadError

LOAD_VIEWERS = LOYALTY_READERS | LOYALTY_APPROVERS
BRANCH_REFUSAL = "a load gives points to members of every branch: its pages are for users of no branch"


def waiting_loads_for_approver(engine: Engine, user: Any) -> list[tuple[str, str, int]]:
    """For the approvals page, where approvers look: the programmes whose loads wait, and how many."""
    if user.role not in LOYALTY_APPROVERS or user.branch is not None:
        return []
    with engine.connect() as conn:
        return loads.waiting_by_programme(conn)


def _refuse_a_branch(handler: PageHandler) -> None:
    if handler.current_user.branch is not None:
        raise tornado.web.HTTPError(403, reason=BRANCH_REFUSAL)


def _may_upload(handler: PageHandler) -> bool:
    user = handler.current_user
    return user is not None and user.role in LOYALTY_EDITORS and user.branch is None


@tornado.web.stream_request_body
class LoyaltyLoadsPage(StreamedUpload, PageHandler):
    """The upload form and the programme's loads."""

    xsrf_in_form = True

    async def prepare(self) -> None:
        if self.request.method != "POST":
            return
        if not _may_upload(self):  # before a byte is written
            raise tornado.web.HTTPError(403, reason="sign in as an admin or marketer of no branch to upload a load")
        try:
            self.begin_upload(import_jobs.imports_dir(), import_jobs.max_upload_bytes())
        except UploadError as exc:
            self.set_status(exc.status)
            await self._show(await programme_of(self, self.path_args[0]), error=exc.message)

    @requires(*LOAD_VIEWERS)
    async def get(self, code: str) -> None:
        _refuse_a_branch(self)
        await self._show(await programme_of(self, code))

    @requires(*LOYALTY_EDITORS)
    async def post(self, code: str) -> None:
        _refuse_a_branch(self)
        programme = await programme_of(self, code)
        assert self.upload is not None
        try:
            path = self.upload.end()
        except UploadError as exc:
            self.set_status(exc.status)
            await self._show(programme, error=exc.message)
            return
        self.check_xsrf_of_upload()
        filename, enrol = self.upload.filename, self.upload.fields.get("enrol") == "1"

        def read() -> dict[str, Any]:
            data = path.read_bytes()
            with self.db.begin() as conn:
                return loads.read(conn, programme, filename, data, actor=self.current_user.email, enrol=enrol)
        try:
            made = await off_loop(read)
        except LoadError as exc:
            self.set_status(400)
            await self._show(programme, error=str(exc))
            return
        self.redirect(f"/loyalty/{programme.code}/loads/{made['load']}", status=303)

    async def _show(self, programme: programmes.Programme, *, error: str | None = None) -> None:
        def read() -> list[dict[str, Any]]:
            with self.db.connect() as conn:
                return loads.listed(conn, programme.id)
        self.render("loyalty_loads.html", programme=programme, loads=await off_loop(read), error=error,
                    can_upload=_may_upload(self), limit_mb=import_jobs.max_upload_bytes() // (1024 * 1024))


class LoyaltyLoadPage(PageHandler):
    """One load: its counts, its problem rows a page at a time (?page=N), approve or reject."""

    @requires(*LOAD_VIEWERS)
    async def get(self, code: str, load_id: str) -> None:
        _refuse_a_branch(self)
        programme = await programme_of(self, code)
        await self._show(programme, int(load_id), done=self.get_query_argument("done", ""))

    @requires(*LOYALTY_APPROVERS)
    async def post(self, code: str, load_id: str) -> None:
        _refuse_a_branch(self)
        programme = await programme_of(self, code)
        await self._load(programme, int(load_id))  # 404 for a load of another programme
        action, actor = self.get_body_argument("do", ""), self.current_user.email
        reason = self.get_body_argument("reason", "")[:1000]

        def decide() -> None:
            if action == "approve":
                load_posting.approve(self.db, int(load_id), actor=actor)
                return
            with self.db.begin() as conn:
                load_posting.reject(conn, int(load_id), actor=actor, reason=reason)
        if action not in ("approve", "reject"):
            raise tornado.web.HTTPError(400, reason="do: approve or reject")
        try:
            await off_loop(decide)
        except LoadError as exc:
            self.set_status(400)
            await self._show(programme, int(load_id), error=str(exc), reason=reason)
            return
        self.redirect(f"/loyalty/{programme.code}/loads/{load_id}?done={action}", status=303)

    async def _load(self, programme: programmes.Programme, load_id: int) -> dict[str, Any]:
        def read() -> dict[str, Any] | None:
            with self.db.connect() as conn:
                return loads.summary(conn, load_id)
        found = await off_loop(read)
        if found is None or found["programme_id"] != programme.id:
            raise tornado.web.HTTPError(404)
        return found

    async def _show(self, programme: programmes.Programme, load_id: int, *, done: str = "",
                    error: str | None = None, reason: str = "") -> None:
        load = await self._load(programme, load_id)
        pages = max(1, -(-load["bad"] // loads.PAGE))
        raw = self.get_query_argument("page", "1")
        number = min(int(raw), pages) if raw.isascii() and raw.isdigit() and 0 < len(raw) < 9 and int(raw) else 1
        masked = self.current_user.role not in NUMBER_READERS

        def read() -> list[dict[str, Any]]:
            with self.db.connect() as conn:
                return loads.report(conn, load_id, (number - 1) * loads.PAGE, loads.PAGE, masked=masked)
        user = self.current_user
        may_decide = (user.role in LOYALTY_APPROVERS and load["state"] in ("pending", "approved")
                      and user.email.lower() != load["uploaded_by"].lower())
        self.render("loyalty_load.html", programme=programme, load=load, rows=await off_loop(read), page=number,
                    pages=pages, may_decide=may_decide, is_uploader=user.email.lower() == load["uploaded_by"].lower(),
                    done=done if done in ("approve", "reject") else "", error=error, reason=reason)


class LoyaltyLoadReportPage(PageHandler):
    """The load's problem rows as CSV, to fix the file by."""

    @requires(*LOAD_VIEWERS)
    async def get(self, code: str, load_id: str) -> None:
        _refuse_a_branch(self)
        programme = await programme_of(self, code)
        masked = self.current_user.role not in NUMBER_READERS

        def read() -> str | None:
            with self.db.connect() as conn:
                found = loads.summary(conn, int(load_id))
                if found is None or found["programme_id"] != programme.id:
                    return None
                return loads.report_csv(conn, int(load_id), masked=masked)
        text = await off_loop(read)
        if text is None:
            raise tornado.web.HTTPError(404)
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="load-{int(load_id)}-problems.csv"')
        self.finish(text)


LOYALTY_LOAD_ROUTES = [(r"/loyalty/([a-z0-9_-]+)/loads", LoyaltyLoadsPage),
                       (r"/loyalty/([a-z0-9_-]+)/loads/(\d+)", LoyaltyLoadPage),
                       (r"/loyalty/([a-z0-9_-]+)/loads/(\d+)/problems\.csv", LoyaltyLoadReportPage)]
