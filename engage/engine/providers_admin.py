"""Adding and listing providers. Secrets are stored for the sender, never shown or logged."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, select

from engage.engine.audit import audit
from engage.engine.store.schema import Provider

SECRET_KEYS = {"password", "api_key", "token"}


def add_smpp(conn: Connection, *, name: str, host: str, port: int, system_id: str, password: str,
             tps: int = 500, binds: int = 1, window: int = 32, priority: int = 100, actor: str) -> int:
    config = {"host": host, "port": port, "system_id": system_id, "password": password,
              "binds": binds, "window": window}
    provider_id = conn.execute(insert(Provider.__table__).values(
        name=name, kind="smpp", config=config, tps=tps, priority=priority, enabled=True)).inserted_primary_key[0]
    audit(conn, actor, "provider.add", "provider", provider_id, name=name, kind="smpp", host=host, port=port)
    return provider_id


def masked(config: dict[str, Any]) -> dict[str, Any]:
    return {k: ("***" if k in SECRET_KEYS else v) for k, v in config.items()}


def list_providers(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(select(Provider.__table__).order_by(Provider.priority, Provider.id)).all()
    return [{"id": p.id, "name": p.name, "kind": p.kind, "enabled": p.enabled, "tps": p.tps,
             "priority": p.priority, "config": masked(p.config)} for p in rows]
