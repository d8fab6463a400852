"""The analysts' pages: a campaign's effectiveness report (/campaigns/<id>/effectiveness) with how it
is judged (its conversion, response window and customer groups, changed there and recomputed at
once), every table of it as CSV, and campaigns compared (/analytics, /analytics/compare).

They are the financial and analytical units' figures: only ANALYTICS_READERS (analyst, admin) and the
holders of the analytics grant (engine.users.grants, given by an admin) open them, a user of a branch
only on that branch's campaigns. The figures come from campaign_results
(engine.analytics.effectiveness), which the events worker keeps fresh."""

from __future__ import annotations

import csv
import io
from typing import Any

import tornado.web

from engage.engine.analytics import delivery_report
from engage.engine.analytics.effectiveness import listing
from engage.engine.analytics.effectiveness.groups import BAND_LABELS, NAMES
from engage.engine.analytics.effectiveness.refresh import refresh
from engage.engine.analytics.effectiveness.report import compare, effectiveness, tables
from engage.engine.analytics.effectiveness.settings import SettingsError, set_settings
from engage.engine.campaigns import records
from engage.engine.segments import store as segments
from engage.engine.subscriber_fields import label_of
from engage.engine.users.roles import ANALYTICS_GRANT, ANALYTICS_READERS
from engage.web import report_charts
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires

MAX_COMPARED = 12
STEP_WORDS = {"recipients": "Recipients", "delivered": "Delivered", "responded": "Responded",
              "converted": "Converted"}
CSV_RISKY = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run these as formulas


def group_label(name: str) -> str:
    return BAND_LABELS.get(name) or label_of(name)


def pct(rate: float | None) -> str:
    """A rate as a page says it: 12.3 %, or a dash while its base is nought."""
    return "–" if rate is None else f"{100 * rate:.1f} %"


def money(amount: float | None, currency: str) -> str:
    return "–" if amount is None else f"{amount:.4f} {currency}".strip()


class AnalyticsBase(PageHandler):
    async def _report(self, campaign_id: int) -> dict[str, Any]:
        def read() -> dict[str, Any] | None:
            with self.db.connect() as conn:
                if not records.visible(conn, campaign_id, self.current_user.branch):
                    return None
                found = effectiveness(conn, campaign_id)
                if found is not None:
                    found["delivery_breakdown"] = delivery_report.breakdown(conn, campaign_id)
                    found["segments"] = [{"id": g["id"], "name": g["name"]}
                                         for g in segments.visible(conn, self.current_user.branch)]
                return found
        report = await off_loop(read)
        if report is None:
            raise tornado.web.HTTPError(404)
        return report


def all_tables(report: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every table of the page, as its CSV downloads offer them."""
    return {**tables(report), **delivery_report.tables(report["delivery_breakdown"])}


class EffectivenessPage(AnalyticsBase):
    """The report (GET); its settings saved and the figures recomputed (POST do=save), or the figures
    recomputed under the same settings (POST do=refresh)."""

    @requires(*ANALYTICS_READERS, grant=ANALYTICS_GRANT)
    async def get(self, campaign_id: str) -> None:
        report = await self._report(int(campaign_id))
        self._show(report, notice=self.get_query_argument("done", None))

    @requires(*ANALYTICS_READERS, grant=ANALYTICS_GRANT)
    async def post(self, campaign_id: str) -> None:
        cid = int(campaign_id)
        report = await self._report(cid)  # 404 for a campaign out of the reader's branch
        saving = self.get_body_argument("do", "save") == "save"
        if saving:
            raw = self._typed(report["campaign"]["settings"])
            try:
                await off_loop(self._save, cid, raw)
            except SettingsError as exc:
                self.set_status(400)
                self._show(report, error=exc, typed=raw)
                return
        await off_loop(refresh, self.db, cid)
        self.redirect(f"/campaigns/{cid}/effectiveness?done={'saved' if saving else 'recomputed'}", status=303)

    def _typed(self, judged: dict[str, Any]) -> dict[str, Any]:
        """The form as settings; a band ticked again keeps the edges it was judged with."""
        kept = {g["field"]: g for g in judged["groups"] if isinstance(g, dict) and "field" in g}
        chosen = [_number(s) for s in dict.fromkeys(self.get_body_arguments("segments")) if s]
        return {"conversion": {"kind": self.get_body_argument("conversion_kind", "").strip(),
                               "days": self.get_body_argument("conversion_days", "").strip()},
                "response_hours": self.get_body_argument("response_hours", "").strip(),
                "groups": [kept.get(g, g) for g in dict.fromkeys(self.get_body_arguments("groups")) if g]
                + [{"segment": s} for s in chosen]}

    def _save(self, campaign_id: int, raw: dict[str, Any]) -> None:
        raw["conversion"]["days"] = _number(raw["conversion"]["days"])
        raw["response_hours"] = _number(raw["response_hours"])
        with self.db.begin() as conn:
            set_settings(conn, campaign_id, raw, actor=self.current_user.email)

    def _show(self, report: dict[str, Any], *, notice: str | None = None, error: SettingsError | None = None,
              typed: dict[str, Any] | None = None) -> None:
        judged = report["campaign"]["settings"]
        shown = typed or judged
        chosen = {g if isinstance(g, str) else g.get("field") or f"segment:{g.get('segment')}"
                  for g in shown["groups"]}
        forest = {g["dimension"]: report_charts.intervals(g["groups"]) for g in report["groups"]}
        arms = report_charts.intervals([{"label": f"Arm {a['arm']}" if a["arm"] else "Sent", **a}
                                        for a in report["arms"]["arms"]])
        curve = report["curve"]
        self.render("effectiveness.html", r=report, notice=notice, error=error, shown=shown, chosen=chosen,
                    kinds=listing.conversion_kinds(str(shown["conversion"]["kind"] or judged["conversion"]["kind"])),
                    group_names=[(n, group_label(n)) for n in NAMES], step_words=STEP_WORDS,
                    funnel=report_charts.funnel(report["funnel"], STEP_WORDS), forest=forest, arms_chart=arms,
                    curve=report_charts.curve(curve["days"], curve["treated"]["rate"], curve["control"]["rate"]),
                    table_names=list(all_tables(report)), width=report_charts.WIDTH, pct=pct, money=money)


def _number(value: Any) -> Any:
    """A typed whole number as a number; anything else as typed, for the settings' own error."""
    try:
        return int(str(value))
    except ValueError:
        return value


class EffectivenessCsv(AnalyticsBase):
    """One table of the report as CSV: summary, funnel, arms, groups, curve or runs."""

    @requires(*ANALYTICS_READERS, grant=ANALYTICS_GRANT)
    async def get(self, campaign_id: str, table: str) -> None:
        report = await self._report(int(campaign_id))
        found = all_tables(report)
        if table not in found:
            raise tornado.web.HTTPError(404, reason=f"no table {table!r}; the report has {', '.join(found)}")
        send_csv(self, f"campaign-{campaign_id}-{table}.csv", found[table])


class AnalyticsIndex(PageHandler):
    """The campaigns that have sent, to open one's report or tick several to compare."""

    @requires(*ANALYTICS_READERS, grant=ANALYTICS_GRANT)
    async def get(self) -> None:
        def read() -> list[dict[str, Any]]:
            with self.db.connect() as conn:
                return listing.launched(conn, self.current_user.branch)
        self.render("analytics.html", campaigns=await off_loop(read), compared=None, ids=[], pct=pct, money=money)


class ComparePage(PageHandler):
    """Campaigns side by side (?id=1&id=2...), with whether they were judged alike."""

    @requires(*ANALYTICS_READERS, grant=ANALYTICS_GRANT)
    async def get(self, as_csv: str = "") -> None:
        ids = _ids(self.get_query_arguments("id"))

        def read() -> tuple[list[dict[str, Any]], dict[str, Any]]:
            with self.db.connect() as conn:
                shown = listing.launched(conn, self.current_user.branch)
                visible = {c["id"] for c in shown}
                return shown, compare(conn, [i for i in ids if i in visible])
        campaigns, compared = await off_loop(read)
        if as_csv:
            send_csv(self, "campaigns-compared.csv", compared["campaigns"])
            return
        self.render("analytics.html", campaigns=campaigns, compared=compared, ids=ids, pct=pct, money=money)


def _ids(values: list[str]) -> list[int]:
    out = []
    for value in values:
        if not value.strip().isdigit():
            raise tornado.web.HTTPError(400, reason=f"id: {value[:20]!r} is not a campaign number")
        out.append(int(value))
    if len(out) > MAX_COMPARED:
        raise tornado.web.HTTPError(400, reason=f"id: at most {MAX_COMPARED} campaigns are compared at once")
    return out


def send_csv(handler: tornado.web.RequestHandler, filename: str, rows: list[dict[str, Any]]) -> None:
    """Rows as a CSV download (UTF-8 with a BOM, which spreadsheets need to read it as UTF-8); a text
    cell that a spreadsheet would run as a formula is written with a leading apostrophe."""
    out = io.StringIO()
    columns = list(dict.fromkeys(k for row in rows for k in row))
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(v) for k, v in row.items()})
    handler.set_header("Content-Type", "text/csv; charset=utf-8")
    handler.set_header("Content-Disposition", f'attachment; filename="{filename}"')
    handler.write("\ufeff" + out.getvalue())


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(CSV_RISKY):
        return "'" + value
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


ANALYTICS_ROUTES = [
    (r"/campaigns/(\d+)/effectiveness", EffectivenessPage),
    (r"/campaigns/(\d+)/effectiveness/([a-z_]+)\.csv", EffectivenessCsv),
    (r"/analytics", AnalyticsIndex),
    (r"/analytics/compare(\.csv)?", ComparePage),
]
