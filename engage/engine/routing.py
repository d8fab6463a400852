"""Choosing the provider for each message.

For now the route is the enabled provider with the best priority; least-cost choice from
price tables and provider health plug in here without touching the dispatcher.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from engage.engine.store.schema import Provider


class NoRoute(RuntimeError):
    pass


@dataclass(frozen=True)
class Route:
    provider_id: int
    provider_name: str


class Router:
    def __init__(self, conn: Connection):
        rows = conn.execute(select(Provider.id, Provider.name).where(Provider.enabled.is_(True)).order_by(
            Provider.priority, Provider.id)).all()
        self.routes = [Route(r.id, r.name) for r in rows]

    def choose(self, msisdn: str) -> Route:
        if not self.routes:
            raise NoRoute("no enabled provider: add one with `engage provider add`")
        return self.routes[0]
