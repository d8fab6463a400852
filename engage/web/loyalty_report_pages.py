"""A loyalty programme's reports page: a range of days and a granularity chosen in a form, the report's
tables with their headings and units, and each table as a CSV download. Days are the reader's own time
zone's. The figures are the whole programme's, also for a user of a branch (the page says so): a
programme serves the operator, and its liability and partner statements are the operator's; only a
campaign of another branch is counted without its name."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import tornado.web

from engage.engine.loyalty import programmes, reports
from engage.engine.loyalty.report_periods import GRANULARITIES, ReportError, day
from engage.engine.users.roles import LOYALTY_READERS
from engage.web.loyalty_forms import programme_in
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires


class LoyaltyReportBase(PageHandler):
    def form(self) -> dict[str, str]:
        """The period asked for, as typed; by default this month so far, by day."""
        today = datetime.now(UTC).astimezone(ZoneInfo(self.user_zone())).date()
        arg = self.get_query_argument
        return {"from": arg("from", "").strip()[:30] or today.replace(day=1).isoformat(),
                "to": arg("to", "").strip()[:30] or today.isoformat(), "by": arg("by", "").strip()[:10] or "day"}

    async def made(self, programme_code: str, form: dict[str, str], tables: list[str] | None
                   ) -> tuple[programmes.Programme, dict[str, Any] | None, dict[str, str]]:
        """(the programme, the report or None, what is wrong by field); 404 for no such programme."""
        wrong: dict[str, str] = {}
        first = last = None
        try:
            first = day(form["from"], "from")
        except ReportError as exc:
            wrong["from"] = str(exc)
        try:
            last = day(form["to"], "to")
        except ReportError as exc:
            wrong["to"] = str(exc)
        branch = self.current_user.branch

        def read() -> tuple[programmes.Programme, dict[str, Any] | None]:
            with self.db.connect() as conn:
                programme = programme_in(conn, programme_code)
                if wrong or first is None or last is None:
                    return programme, None
                try:
                    return programme, reports.report(conn, programme.id, first, last, by=form["by"],
                                                     zone=self.user_zone(), tables=tables, branch=branch)
                except ReportError as exc:
                    wrong[exc.field] = str(exc)
                    return programme, None
        programme, made = await off_loop(read)
        return programme, made, wrong


class LoyaltyReportPage(LoyaltyReportBase):
    @requires(*LOYALTY_READERS)
    async def get(self, programme_code: str) -> None:
        form = self.form()
        programme, made, wrong = await self.made(programme_code, form, None)
        self.set_status(400 if wrong else 200)
        self.render("loyalty_reports.html", programme=programme, form=form, wrong=wrong, report=made,
                    granularities=GRANULARITIES, cell=cell, branch=self.current_user.branch,
                    csv_query=lambda table: urlencode({"table": table, **form}))


class LoyaltyReportCsv(LoyaltyReportBase):
    @requires(*LOYALTY_READERS)
    async def get(self, programme_code: str) -> None:
        table = self.get_query_argument("table", "").strip()[:30]
        form = self.form()
        if table not in reports.TABLES:
            raise tornado.web.HTTPError(400, reason=f"table: {table!r} is not one of {', '.join(reports.TABLES)}")
        programme, made, wrong = await self.made(programme_code, form, [table])
        if made is None:
            raise tornado.web.HTTPError(400, reason="; ".join(wrong.values())[:200])
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{programme.code}-{table}-{made["from"]}-'
                                               f'{made["to"]}.csv"')
        self.write("\ufeff" + reports.as_csv(made, table))  # the BOM: spreadsheets then read it as UTF-8


def cell(value: Any) -> str:
    """A report's value as the page shows it: thousands grouped, money as it is, nothing as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, date):
        return value.isoformat()
    return format(value, "f") if isinstance(value, Decimal) else str(value)


LOYALTY_REPORT_ROUTES = [
    (r"/loyalty/([a-z0-9_-]+)/reports", LoyaltyReportPage),
    (r"/loyalty/([a-z0-9_-]+)/reports\.csv", LoyaltyReportCsv),
]
