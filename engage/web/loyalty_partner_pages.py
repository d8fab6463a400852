"""A programme's partners from the browser: merchants on the partner API (an admin of no branch adds
one, and its API token is shown on that one answer only: only its hash is kept, so afterwards the page
says that it has one, and an admin may replace it) and the programmes it exchanges points with (rates
both ways, a minimum, a daily limit). Per partner, its statement for a period the reader picks (dates
in their zone, both days included), on the page and as CSV for the partner's accountants. Each
addition and each new token is audited; a token never is."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import tornado.web

from engage.engine.audit import audit
from engage.engine.loyalty import exchange, partners, programmes, settlement
from engage.engine.users.roles import LOYALTY_EDITORS, LOYALTY_PARTNER_ADMINS, LOYALTY_READERS
from engage.engine.users.zones import wall_instant
from engage.web.loyalty_forms import FieldErrors, may_edit, programme_of, refuse_a_branch, whole
from engage.web.off_loop import off_loop
from engage.web.sessions_web import PageHandler, requires

MERCHANT = ("m_code", "m_name", "earn_rate", "currency", "burn_value")
EXCHANGE = ("x_code", "x_name", "rate_in", "rate_out", "min_points", "daily_limit")
KINDS = ("merchant", "exchange")


class LoyaltyPartnersPage(PageHandler):
    @requires(*LOYALTY_READERS)
    async def get(self, code: str) -> None:
        programme = await programme_of(self, code)
        await self._show(programme, {"currency": programme.currency, "min_points": "1"}, FieldErrors())

    @requires(*LOYALTY_EDITORS)
    async def post(self, code: str) -> None:
        refuse_a_branch(self)
        programme = await programme_of(self, code)
        kind = self.get_body_argument("do", "")
        form = {key: self.get_body_argument(key, "").strip()[:100] for key in (*MERCHANT, *EXCHANGE)}
        wrong = FieldErrors()
        if kind == "merchant":
            if self.current_user.role not in LOYALTY_PARTNER_ADMINS:
                raise tornado.web.HTTPError(403, reason="only an admin adds a merchant: its token spends points")
            token = await self._add_merchant(programme, form, wrong)
            await self._show(programme, form, wrong, token=token, status=400 if wrong else 200)
        elif kind == "exchange":
            if await self._add_exchange(programme, form, wrong):
                self.redirect(f"/loyalty/{programme.code}/partners?added={form['x_code'].lower()}", status=303)
                return
            await self._show(programme, form, wrong, status=400)
        else:
            raise tornado.web.HTTPError(400, reason="do: merchant or exchange")

    async def _add_merchant(self, programme: programmes.Programme, form: dict[str, str],
                            wrong: FieldErrors) -> tuple[str, str] | None:
        def add() -> tuple[str, str]:
            with self.db.begin() as conn:
                made, token = partners.add_partner(conn, programme.id, form["m_code"], form["m_name"],
                                                   form["earn_rate"], form["currency"].upper(), form["burn_value"])
                audit(conn, self.current_user.email, "loyalty.partner.add", "loyalty_partner", made.id,
                      code=made.code, name=made.name, earn_rate=str(made.earn_rate), currency=made.currency,
                      burn_value=str(made.burn_value))
                return made.code, token
        try:
            return await off_loop(add)
        except partners.PartnerError as exc:
            wrong[{"code": "m_code", "name": "m_name"}.get(exc.field, exc.field)] = str(exc)
            return None

    async def _add_exchange(self, programme: programmes.Programme, form: dict[str, str], wrong: FieldErrors) -> bool:
        minimum = whole(form["min_points"], "min_points", wrong, blank=1)
        limit = whole(form["daily_limit"], "daily_limit", wrong)
        if wrong:
            return False

        def add() -> None:
            with self.db.begin() as conn:
                made = exchange.add(conn, programme.id, form["x_code"], form["x_name"], rate_in=form["rate_in"],
                                    rate_out=form["rate_out"], min_points=minimum, daily_limit=limit)
                audit(conn, self.current_user.email, "loyalty.exchange.add", "loyalty_exchange_partner", made.id,
                      code=made.code, name=made.name, rate_in=str(made.rate_in), rate_out=str(made.rate_out),
                      min_points=made.min_points, daily_limit=made.daily_limit)
        try:
            await off_loop(add)
        except exchange.ExchangeError as exc:
            wrong[{"code": "x_code", "name": "x_name"}.get(exc.field, exc.field)] = str(exc)
            return False
        return True

    async def _show(self, programme: programmes.Programme, form: dict[str, str], wrong: FieldErrors, *,
                    token: tuple[str, str] | None = None, status: int = 200) -> None:
        def read() -> tuple[list[partners.Partner], list[exchange.ExchangePartner]]:
            with self.db.connect() as conn:
                return partners.listed(conn, programme.id), exchange.listed(conn, programme.id)
        merchants, exchanges = await off_loop(read)
        self.set_status(status)
        user = self.current_user
        self.render("loyalty_partners.html", programme=programme, merchants=merchants, exchanges=exchanges,
                    form=form, wrong=wrong, token=token, added=self.get_query_argument("added", ""),
                    can_edit=may_edit(self), can_add_merchant=may_edit(self) and user.role in LOYALTY_PARTNER_ADMINS)


class LoyaltyPartnerPage(PageHandler):
    """One partner, its statement for a period; an admin replaces a merchant's token here."""

    @requires(*LOYALTY_READERS)
    async def get(self, code: str, kind: str, partner_code: str) -> None:
        programme = await programme_of(self, code)
        wrong = FieldErrors()
        period = period_of(self, wrong)
        partner, made = await off_loop(read_statement, self, programme, kind, partner_code,
                                       None if wrong else period)
        self._show(programme, kind, partner, made, wrong, status=400 if wrong else 200)

    @requires(*LOYALTY_PARTNER_ADMINS)
    async def post(self, code: str, kind: str, partner_code: str) -> None:
        refuse_a_branch(self)
        programme = await programme_of(self, code)
        if kind != "merchant" or self.get_body_argument("do", "") != "token":
            raise tornado.web.HTTPError(400, reason="do: token, for a merchant partner")

        def replace() -> tuple[partners.Partner, str]:
            with self.db.begin() as conn:
                try:
                    partner = partners.get(conn, programme.id, partner_code)
                except LookupError:
                    raise tornado.web.HTTPError(404) from None
                token = partners.new_token(conn, partner.id)
                audit(conn, self.current_user.email, "loyalty.partner.token", "loyalty_partner", partner.id,
                      code=partner.code)
                return partner, token
        partner, token = await off_loop(replace)
        wrong = FieldErrors()
        period = period_of(self, wrong)
        _, made = await off_loop(read_statement, self, programme, kind, partner_code, period)
        self._show(programme, kind, partner, made, wrong, token=token)

    def _show(self, programme: programmes.Programme, kind: str, partner: Any, made: Any, wrong: FieldErrors, *,
              token: str | None = None, status: int = 200) -> None:
        self.set_status(status)
        self.render("loyalty_partner.html", programme=programme, kind=kind, partner=partner, made=made,
                    wrong=wrong, token=token, start=self.get_query_argument("from", "") or month_start(self),
                    to=self.get_query_argument("to", "") or today(self).isoformat(),
                    can_replace_token=kind == "merchant" and self.current_user.role in LOYALTY_PARTNER_ADMINS
                    and self.current_user.branch is None)


class LoyaltyStatementCsv(PageHandler):
    @requires(*LOYALTY_READERS)
    async def get(self, code: str, kind: str, partner_code: str) -> None:
        programme = await programme_of(self, code)
        wrong = FieldErrors()
        period = period_of(self, wrong)
        if wrong:
            raise tornado.web.HTTPError(400, reason="; ".join(wrong.values()))
        partner, made = await off_loop(read_statement, self, programme, kind, partner_code, period)
        text = settlement.as_csv(made) if kind == "merchant" else exchange.statement_csv(made)
        first, last = self.get_query_argument("from", "") or month_start(self), self.get_query_argument("to", "")
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{programme.code}-{partner.code}-'
                                               f'{first}-{last or today(self).isoformat()}.csv"')
        self.finish(text)


def read_statement(handler: PageHandler, programme: programmes.Programme, kind: str, partner_code: str,
                   period: tuple[datetime, datetime] | None) -> tuple[Any, Any]:
    """The partner (404 when the programme has none of this kind and code) and its statement, if a period."""
    with handler.db.connect() as conn:
        try:
            partner: Any = (partners.get if kind == "merchant" else exchange.get)(conn, programme.id, partner_code)
        except LookupError:
            raise tornado.web.HTTPError(404) from None
        if period is None:
            return partner, None
        module: Any = settlement if kind == "merchant" else exchange
        return partner, module.statement(conn, partner.id, *period)


def today(handler: PageHandler) -> date:
    return datetime.now(ZoneInfo(handler.user_zone())).date()


def month_start(handler: PageHandler) -> str:
    return today(handler).replace(day=1).isoformat()


def period_of(handler: PageHandler, wrong: FieldErrors) -> tuple[datetime, datetime]:
    """[the first day's start, the day after the last's start) in the reader's zone; this month by default."""
    zone = handler.user_zone()
    texts = {"from": handler.get_query_argument("from", "") or month_start(handler),
             "to": handler.get_query_argument("to", "") or today(handler).isoformat()}
    days = {}
    for key, text in texts.items():
        try:
            days[key] = date.fromisoformat(text.strip())
        except ValueError:
            wrong[key] = f"{key}: {text.strip()[:20]!r} is not a date such as 2027-01-31"
            days[key] = today(handler)
    if not wrong and days["to"] < days["from"]:
        wrong["to"] = "to: the last day is on or after the first"
    return (wall_instant(days["from"].isoformat(), zone),
            wall_instant((days["to"] + timedelta(days=1)).isoformat(), zone))


LOYALTY_PARTNER_ROUTES = [
    (r"/loyalty/([a-z0-9_-]+)/partners", LoyaltyPartnersPage),
    (r"/loyalty/([a-z0-9_-]+)/partners/(merchant|exchange)/([a-z0-9_-]+)", LoyaltyPartnerPage),
    (r"/loyalty/([a-z0-9_-]+)/partners/(merchant|exchange)/([a-z0-9_-]+)/statement\.csv", LoyaltyStatementCsv),
]
