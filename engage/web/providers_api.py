"""/api/v1 for providers and routes, mirroring the providers page and `engage provider` / `engage
routes`: providers with their health and throughput as their senders report them, added and changed
through engine.providers_admin (each kind's own validation, audit-logged), enabled and disabled; the
prices in force, and a price-table import whose bad rows come back by line, field and reason while
the good ones are kept.

Secrets never leave the server: every secret key and secret header is *** (records.masked),
and so are the password and query of a URL (a sendsms URL may carry credentials). A *** given back
in a PUT keeps the stored value, so a client may edit what it read and send it back whole.

Reading is for PROVIDER_READERS, with the configuration (masked) for PROVIDER_ADMINS only; writing
is for PROVIDER_ADMINS. Providers serve every branch, so nobody bound to a branch changes them."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import Connection

from engage.engine.providers import records
from engage.engine.providers.status import read_status
from engage.engine.routes import price_tables
from engage.engine.subscribers import import_jobs
from engage.engine.subscribers.rows import RowError
from engage.engine.users.roles import PROVIDER_ADMINS, PROVIDER_READERS
from engage.web.audience_api import ApiBase, ApiError

MASK = records.MASK
MAX_UPLOAD = 20 * 1024 * 1024  # as the providers page
URL_KEYS = ("url", "callback_base")
STATUS_KEYS = ("healthy", "binds_up", "binds", "tps", "in_flight", "window", "window_use", "submitted",
               "throttled", "temporary_errors", "permanent_errors", "error_rates", "workers", "stale_workers",
               "last_heartbeat_age")
WRITES = {"POST": PROVIDER_ADMINS, "PUT": PROVIDER_ADMINS}


def masked_url(value: str) -> str:
    """The URL with its password and every query value as ***."""
    parts = urlsplit(value)
    if not parts.password and not parts.query:
        return value
    netloc = parts.netloc
    if parts.password:
        netloc = f"{parts.username}:{MASK}@{netloc.rsplit('@', 1)[1]}"
    query = urlencode([(k, MASK) for k, _ in parse_qsl(parts.query, keep_blank_values=True)], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def shown_config(config: dict[str, Any]) -> dict[str, Any]:
    out = records.masked(config)
    for key in URL_KEYS:
        if isinstance(out.get(key), str):
            out[key] = masked_url(out[key])
    return out


def _unmasked_patch(patch: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    """A URL given back as it was shown keeps the stored one (records.merged keeps a bare ***)."""
    return {k: v for k, v in patch.items()
            if not (k in URL_KEYS and isinstance(stored.get(k), str) and v == masked_url(stored[k])
                    and v != stored[k])}


def provider_rows(conn: Connection, *, with_config: bool, provider_id: int | None = None) -> list[dict[str, Any]]:
    """Providers in priority order, each with its health and throughput under "status" (as the senders
    report them: provider_status.read_status; its tps is the rate now, the provider's own tps its limit)."""
    status = {s["provider_id"]: s for s in read_status(conn)}
    out = []
    for row in records.rows(conn, provider_id):
        item = records.describe(row)
        item["config"] = shown_config(dict(row.config))
        if not with_config:
            del item["config"]
        item["status"] = {k: status.get(row.id, {}).get(k) for k in STATUS_KEYS}  # tps here: parts/s now
        out.append(item)
    return out


class ProviderBase(ApiBase):
    session_roles: ClassVar[dict[str, frozenset[str]]] = {"GET": PROVIDER_READERS, **WRITES}

    def prepare(self) -> None:
        super().prepare()
        if self._finished or self.request.method == "GET":
            return
        if self.scope.branch is not None:
            self.fail(403, f"providers and routes serve every branch: a caller bound to branch "
                           f"{self.scope.branch!r} may not change them")

    def admin(self) -> bool:
        """Whether the caller sees configurations: an admin (signed in or by their token), or a deployment token."""
        user = self.request_user()
        return user is None or user.role in PROVIDER_ADMINS

    def one(self, conn: Connection, provider_id: int) -> dict[str, Any]:
        rows = provider_rows(conn, with_config=self.admin(), provider_id=provider_id)
        if not rows:
            raise ApiError(404, f"provider {provider_id} does not exist")
        return rows[0]

    def name_of(self, conn: Connection, provider_id: int) -> str:
        """The name to hand providers_admin, which finds by name first: an id is never mistaken for a name."""
        found = records.rows(conn, provider_id)
        if not found:
            raise ApiError(404, f"provider {provider_id} does not exist")
        return found[0].name


class ProvidersApi(ProviderBase):
    def get(self) -> None:
        with self.db.connect() as conn:
            self.write({"providers": provider_rows(conn, with_config=self.admin())})

    def post(self) -> None:
        data = self.body()
        for key in ("name", "kind"):
            if not isinstance(data.get(key), str):
                raise ApiError(400, f"{key}: a text is needed")
        if not isinstance(data.get("config", {}), dict):
            raise ApiError(400, "config: a JSON object of the kind's settings")
        unknown = sorted(set(data) - {"name", "kind", "config", "tps", "priority", "enabled"})
        if unknown:
            raise ApiError(400, f"{unknown[0]}: unknown (name, kind, config, tps, priority, enabled)")
        try:
            with self.db.begin() as conn:
                provider_id = records.add_provider(
                    conn, name=data["name"], kind=data["kind"], config=data.get("config", {}),
                    tps=data.get("tps", 100), priority=data.get("priority", 100),
                    enabled=bool(data.get("enabled", True)), actor=self.actor())
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        self.set_status(201)
        with self.db.connect() as conn:
            self.write(self.one(conn, provider_id))


class ProviderApi(ProviderBase):
    def get(self, provider_id: str) -> None:
        with self.db.connect() as conn:
            self.write(self.one(conn, int(provider_id)))

    def put(self, provider_id: str) -> None:
        data = self.body()
        unknown = sorted(set(data) - {"name", "config", "tps", "priority", "enabled"})
        if unknown:
            raise ApiError(400, f"{unknown[0]}: cannot be changed (name, config, tps, priority, enabled)")
        if not isinstance(data.get("config", {}), dict):
            raise ApiError(400, "config: a JSON object of the settings to change")
        try:
            with self.db.begin() as conn:
                name = self.name_of(conn, int(provider_id))
                if "enabled" in data:
                    records.set_enabled(conn, name, bool(data["enabled"]), actor=self.actor())
                stored = dict(records.rows(conn, int(provider_id))[0].config)
                records.update_provider(
                    conn, name, config=_unmasked_patch(data.get("config") or {}, stored),
                    tps=records.NO_TPS if "tps" in data and data["tps"] is None else data.get("tps"),
                    priority=data.get("priority"), name=data.get("name"), actor=self.actor())
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        with self.db.connect() as conn:
            self.write(self.one(conn, int(provider_id)))


class ProviderSwitchApi(ProviderBase):
    """POST /api/v1/providers/N/disable|enable: a disabled provider gets no new routes."""

    def post(self, provider_id: str, action: str) -> None:
        with self.db.begin() as conn:
            name = self.name_of(conn, int(provider_id))
            records.set_enabled(conn, name, action == "enable", actor=self.actor())
        with self.db.connect() as conn:
            self.write(self.one(conn, int(provider_id)))


def covers(row_prefix: str | None, prefix: str) -> bool:
    """A row concerns numbers starting with ``prefix`` when either prefix starts with the other."""
    return bool(row_prefix) and (prefix.startswith(row_prefix) or row_prefix.startswith(prefix))


class RoutesApi(ProviderBase):
    """GET /api/v1/routes[?provider=NAME][&prefix=DIGITS][&all=1]: the prices in force (all=1: every
    row, superseded and future ones included, each with `current`). ``prefix`` keeps the prefix rows
    that concern numbers starting with it: shorter rows covering it and longer ones within it."""

    def get(self) -> None:
        provider = self.get_query_argument("provider", None)
        prefix = self.get_query_argument("prefix", None)
        if prefix is not None:
            try:
                prefix = price_tables.parse_prefix(prefix)
            except price_tables.PriceRowError as exc:
                raise ApiError(400, str(exc)) from None
        every = self.get_query_argument("all", "") in ("1", "true", "yes")
        with self.db.connect() as conn:
            rows = price_tables.list_prices(conn, provider)
        rows = [r for r in rows if (every or r["current"]) and (prefix is None or covers(r["prefix"], prefix))]
        self.write({"routes": rows})


class RoutesImportApi(ProviderBase):
    """POST /api/v1/routes/import with the CSV file as the body (Content-Type: text/csv);
    ?encoding=cp1251 (latin-1, utf-16-le...) for a file that is not UTF-8 and has no byte order mark."""

    def post(self) -> None:
        body = self.request.body
        if not body:
            raise ApiError(400, f"body: the CSV file ({', '.join(price_tables.HEADERS)})")
        if len(body) > MAX_UPLOAD:
            raise ApiError(413, f"body: the file is over {MAX_UPLOAD // 1024 // 1024} MB")
        try:
            encoding = import_jobs.checked_encoding(self.get_query_argument("encoding", ""))
        except RowError as exc:
            raise ApiError(400, str(exc)) from None
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "prices.csv"
            path.write_bytes(body)
            try:
                report = price_tables.import_csv(self.db, path, actor=self.actor(), encoding=encoding)
            except price_tables.PriceTableError as exc:
                raise ApiError(400, str(exc).replace(str(path), "body")) from None
        self.write({**report.as_dict(), "warnings": report.warnings,
                    "rejections": [{"line": line, "field": field, "reason": reason}
                                   for line, field, reason in report.rejected]})


# path -> method -> (summary, takes a JSON body), for engage.web.openapi
OPERATIONS: dict[str, dict[str, tuple[str, bool]]] = {
    "/api/v1/providers": {"get": ("Providers with health and throughput (configuration, secrets masked, for "
                                  "admins)", False),
                          "post": ("Add a provider (name, kind, config, tps, priority, enabled); admin", True)},
    "/api/v1/providers/{id}": {"get": ("A provider with its health and throughput", False),
                               "put": ("Change a provider (name, config merged, tps, priority, enabled); a *** "
                                       "keeps the stored secret; admin", True)},
    "/api/v1/providers/{id}/disable": {"post": ("Disable a provider: no new routes to it; admin", False)},
    "/api/v1/providers/{id}/enable": {"post": ("Enable a provider; admin", False)},
    "/api/v1/routes": {"get": ("Prices in force (?provider=NAME, ?prefix=DIGITS, ?all=1 for every row)", False)},
    "/api/v1/routes/import": {"post": ("Import a price table: the CSV file as the body (text/csv), ?encoding= "
                                       "for one not in UTF-8; bad rows come back by line, field and reason, good "
                                       "ones are kept; admin", False)},
}

PROVIDER_API_ROUTES = [
    (r"/api/v1/providers", ProvidersApi),
    (r"/api/v1/providers/(\d+)", ProviderApi),
    (r"/api/v1/providers/(\d+)/(disable|enable)", ProviderSwitchApi),
    (r"/api/v1/routes", RoutesApi),
    (r"/api/v1/routes/import", RoutesImportApi),
]
