"""USSD gateways as stored: adding one (its callback token is made here and shown once; only its
SHA-256 is kept, so a copy of the database opens no gateway), listing them, and the cache the web
process reads them through (a hop must not cost a query for its gateway; a new token still takes
effect within seconds)."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from typing import Any

from sqlalchemy import Connection, Engine, select

from engage.engine.audit import audit
from engage.engine.store.schema import Provider, UssdGateway
from engage.engine.ussd.gateways.base import KINDS, Gateway

__all__ = ["GatewayDirectory", "NAME", "add_gateway", "callback_path", "gateway_rows", "token_hash", "token_ok"]

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")  # it is a path segment: /ussd/<name>


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_ok(gateway: Gateway, token: str | None) -> bool:
    """The callback's token against the stored hash, in constant time."""
    if not token or not gateway.token_hash:
        return False
    return hmac.compare_digest(token_hash(token), gateway.token_hash)


def callback_path(name: str, token: str) -> str:
    return f"/ussd/{name}?token={token}"


def add_gateway(conn: Connection, kind: str, name: str, config: dict[str, Any], *, actor: str) -> tuple[int, str]:
    """(id, token) of a new gateway; ValueError naming what is wrong (kind, name, config, an SMPP
    provider that does not exist or already has a gateway)."""
    cls = KINDS.get(kind)
    if cls is None:
        raise ValueError(f"unknown USSD gateway kind {kind!r}; kinds: {', '.join(sorted(KINDS))}")
    if not NAME.fullmatch(name):
        raise ValueError(f"gateway name {name!r}: letters, digits, '_', '.' and '-', at most 100, as it goes in the"
                         " callback path /ussd/<name>")
    config = cls.validate_config(config)
    if kind == "smpp":
        _check_smpp_provider(conn, config["provider"])
    if conn.execute(select(UssdGateway.id).where(UssdGateway.name == name)).first() is not None:
        raise ValueError(f"a USSD gateway named {name!r} exists already")
    token = secrets.token_urlsafe(32)
    gateway_id = conn.execute(UssdGateway.__table__.insert().values(
        name=name, kind=kind, config=config, token=token_hash(token)).returning(UssdGateway.id)).scalar_one()
    audit(conn, actor, "ussd_gateway.add", "ussd_gateway", gateway_id, name=name, kind=kind, config=config)
    return gateway_id, token


def _check_smpp_provider(conn: Connection, provider: str) -> None:
    row = conn.execute(select(Provider.kind).where(Provider.name == provider)).first()
    if row is None:
        raise ValueError(f"no provider named {provider!r} (see `engage provider list`)")
    if row.kind != "smpp":
        raise ValueError(f"provider {provider!r} is of kind {row.kind}; USSD over SMPP needs an smpp provider")
    for config in conn.execute(select(UssdGateway.config).where(UssdGateway.kind == "smpp")).scalars():
        if (config or {}).get("provider") == provider:
            raise ValueError(f"provider {provider!r} already has a USSD gateway")


def gateway_rows(conn: Connection) -> list[dict[str, Any]]:
    """Every gateway, for `engage ussd gateway list`: no token (only its hash is kept)."""
    rows = conn.execute(select(UssdGateway.id, UssdGateway.name, UssdGateway.kind, UssdGateway.config,
                               UssdGateway.created_at).order_by(UssdGateway.id)).all()
    return [{"id": r.id, "name": r.name, "kind": r.kind, "config": dict(r.config or {}),
             "path": f"/ussd/{r.name}" if r.kind in KINDS and KINDS[r.kind].http else None,
             "created_at": r.created_at.isoformat()}
            for r in rows]


def _gateway(row: Any) -> Gateway:
    return Gateway(row.id, row.name, row.kind, dict(row.config or {}), row.token)


class GatewayDirectory:
    """Gateways by name (the web endpoint) and by SMPP provider name (the binds), cached for a few
    seconds. ``load_*`` query (blocking: off the event loop); ``cached`` never does."""

    def __init__(self, engine: Engine, ttl: float = 5.0) -> None:
        self.engine = engine
        self.ttl = ttl
        self._by_name: dict[str, tuple[float, Gateway | None]] = {}
        self._by_provider: dict[str, tuple[float, Gateway | None]] = {}
        self._lock = threading.Lock()

    def cached(self, name: str) -> Gateway | None:
        hit = self._by_name.get(name)
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def load(self, name: str) -> Gateway | None:
        hit = self._by_name.get(name)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        with self.engine.connect() as conn:
            row = conn.execute(select(UssdGateway.__table__).where(UssdGateway.name == name)).first()
        gateway = _gateway(row) if row is not None else None
        with self._lock:
            if len(self._by_name) > 10_000:  # names that do not exist are remembered too: bounded
                self._by_name.clear()
            self._by_name[name] = (time.monotonic() + self.ttl, gateway)
        return gateway

    def for_provider(self, provider: str) -> Gateway | None:
        """The SMPP gateway on this provider's binds, if any."""
        hit = self._by_provider.get(provider)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        with self.engine.connect() as conn:
            rows = conn.execute(select(UssdGateway.__table__).where(UssdGateway.kind == "smpp")).all()
        found = next((_gateway(r) for r in rows if (r.config or {}).get("provider") == provider), None)
        with self._lock:
            self._by_provider[provider] = (time.monotonic() + self.ttl, found)
        return found
