"""Providers and routes: each provider's health and throughput as its senders report it, the prices
in force, and for admins a price-table upload whose bad rows come back with line, field and reason
(the good ones are kept), as `engage routes import` does, and a form to add an SMPP provider, so
that an empty page leads somewhere a person can go without a terminal.

Providers serve every branch: only an admin bound to no branch adds one (as /api/v1/providers)."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import tornado.web

from engage.engine.providers import records
from engage.engine.providers.status import read_status
from engage.engine.routes import price_tables
from engage.engine.subscribers import import_jobs
from engage.engine.subscribers.rows import RowError
from engage.engine.users.roles import PROVIDER_ADMINS, PROVIDER_READERS
from engage.web.sessions_web import PageHandler, requires

MAX_UPLOAD = 20 * 1024 * 1024
SMPP_FIELDS = ("name", "host", "port", "system_id", "password", "tps")
SMPP_DEFAULTS = {"port": "2775", "tps": "100"}


class ProvidersPageBase(PageHandler):
    def page(self, *, report: price_tables.PriceImportReport | None = None, error: str | None = None,
             added: str | None = None, smpp: dict[str, str] | None = None, smpp_error: str | None = None) -> None:
        with self.db.connect() as conn:
            providers, prices = read_status(conn), price_tables.list_prices(conn)
        user = self.current_user
        self.render("providers.html", providers=providers, prices=[p for p in prices if p["current"]],
                    report=report, error=error, can_import=user.role == "admin",
                    can_add=user.role in PROVIDER_ADMINS and user.branch is None, added=added,
                    smpp={**dict.fromkeys(SMPP_FIELDS, ""), **SMPP_DEFAULTS, **(smpp or {})}, smpp_error=smpp_error)


class ProvidersPage(ProvidersPageBase):
    @requires(*PROVIDER_READERS)
    def get(self) -> None:
        self.page(added=self.get_query_argument("added", None))

    @requires(*PROVIDER_ADMINS)
    def post(self) -> None:
        files = self.request.files.get("prices") or []
        if not files or not files[0]["body"]:
            self.page(error="prices: choose a CSV file (provider, prefix, mcc_mnc, network, price, "
                            "currency, valid_from)")
            return
        if len(files[0]["body"]) > MAX_UPLOAD:
            self.page(error=f"prices: the file is over {MAX_UPLOAD // 1024 // 1024} MB")
            return
        try:
            encoding = import_jobs.checked_encoding(self.get_body_argument("encoding", ""))
        except RowError as exc:
            self.page(error=str(exc))
            return
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "prices.csv"
            path.write_bytes(files[0]["body"])
            try:
                report = price_tables.import_csv(self.db, path, actor=self.current_user.email, encoding=encoding)
            except price_tables.PriceTableError as exc:
                self.page(error=f"prices: {str(exc).replace(str(path) + ': ', '')}")
                return
        self.page(report=report)


class AddProviderPage(ProvidersPageBase):
    """POST: an SMPP provider from the form's usual settings; the page again with the reason when
    the engine refuses it, what was typed kept (but the password)."""

    @requires(*PROVIDER_ADMINS)
    def post(self) -> None:
        if self.current_user.branch is not None:
            raise tornado.web.HTTPError(403, reason="providers serve every branch: an admin of one branch may "
                                                    "not add them")
        typed = {k: self.get_body_argument(k, "").strip() for k in SMPP_FIELDS}
        try:
            settings = _smpp_settings(typed)
            with self.db.begin() as conn:
                records.add_smpp(conn, **settings, actor=self.current_user.email)
        except ValueError as exc:
            self.set_status(400)
            self.page(smpp={**typed, "password": ""}, smpp_error=str(exc))
            return
        self.redirect(f"/providers?{urlencode({'added': typed['name']})}#providers", status=303)


def _smpp_settings(typed: dict[str, str]) -> dict[str, Any]:
    """The form's text as add_smpp's arguments; ValueError naming the field a person typed wrong."""
    for key, label in (("name", "Name"), ("host", "Host"), ("system_id", "System ID")):
        if not typed[key]:
            raise ValueError(f"{label}: needed")
    numbers = {}
    for key, label in (("port", "Port"), ("tps", "Messages per second")):
        if not typed[key].isascii() or not typed[key].isdigit() or len(typed[key]) > 6:
            raise ValueError(f"{label}: a whole number, not {typed[key][:20]!r}")
        numbers[key] = int(typed[key])
    if numbers["tps"] < 1:
        raise ValueError("Messages per second: at least 1")
    return {"name": typed["name"], "host": typed["host"], "system_id": typed["system_id"],
            "password": typed["password"], **numbers}


PROVIDER_ROUTES = [(r"/providers", ProvidersPage), (r"/providers/new", AddProviderPage)]
