"""Providers and routes: each provider's health and throughput as its senders report it, the prices
in force, and for admins a price-table upload whose bad rows come back with line, field and reason
(the good ones are kept), as `engage routes import` does."""

from __future__ import annotations

import tempfile
from pathlib import Path

from engage.engine.providers.status import read_status
from engage.engine.routes import price_tables
from engage.engine.users.roles import PROVIDER_ADMINS, PROVIDER_READERS
from engage.web.sessions_web import PageHandler, requires

MAX_UPLOAD = 20 * 1024 * 1024


class ProvidersPage(PageHandler):
    @requires(*PROVIDER_READERS)
    def get(self) -> None:
        self._page(None)

    @requires(*PROVIDER_ADMINS)
    def post(self) -> None:
        files = self.request.files.get("prices") or []
        if not files or not files[0]["body"]:
            self._page(None, error="prices: choose a CSV file (provider, prefix, mcc_mnc, network, price, "
                                   "currency, valid_from)")
            return
        if len(files[0]["body"]) > MAX_UPLOAD:
            self._page(None, error=f"prices: the file is over {MAX_UPLOAD // 1024 // 1024} MB")
            return
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "prices.csv"
            path.write_bytes(files[0]["body"])
            try:
                report = price_tables.import_csv(self.db, path, actor=self.current_user.email)
            except price_tables.PriceTableError as exc:
                self._page(None, error=f"prices: {str(exc).replace(str(path) + ': ', '')}")
                return
        self._page(report)

    def _page(self, report: price_tables.PriceImportReport | None, error: str | None = None) -> None:
        with self.db.connect() as conn:
            providers, prices = read_status(conn), price_tables.list_prices(conn)
        self.render("providers.html", providers=providers, prices=[p for p in prices if p["current"]],
                    report=report, error=error, can_import=self.current_user.role == "admin")


PROVIDER_ROUTES = [(r"/providers", ProvidersPage)]
