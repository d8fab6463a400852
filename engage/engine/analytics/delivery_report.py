"""A campaign's delivery as its effectiveness report shows it: by provider, by network and by hour,
read from campaign_stats (folded from the event stream by delivery_stats), providers and networks
named as people know them. A few rows whatever the campaign's size."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from engage.engine import networks
from engage.engine.analytics.delivery_stats import figures
from engage.engine.store.schema import Provider

SLICES = {"providers": "provider_id", "networks": "network", "hours": "hour"}


def breakdown(conn: Connection, campaign_id: int) -> dict[str, list[dict[str, Any]]]:
    """{"providers": [...], "networks": [...], "hours": [...]}: each row named, with what was
    submitted and delivered, the delivery rate, the average time to deliver and the cost per
    delivered message (per currency). Rows of the reach (no provider, no network) are left out."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, dimension in SLICES.items():
        rows = [r for r in figures(conn, campaign_id, by=(dimension,)) if r["submitted"] or r["delivered"]]
        out[name] = [_row(r, dimension) for r in rows]
    ids = {r["key"] for r in out["providers"]}
    named = dict(conn.execute(select(Provider.id, Provider.name).where(Provider.id.in_(ids))).all()) if ids else {}
    for r in out["providers"]:
        r["name"] = named.get(r["key"], f"provider {r['key']} (removed)" if r["key"] else "no provider")
    keys = [r["key"] for r in out["networks"] if r["key"]]
    called = networks.names(conn, keys) if keys else {}
    for r in out["networks"]:
        r["name"] = called.get(r["key"], r["key"]) if r["key"] else "unknown network"
    for r in out["hours"]:
        r["name"] = r["key"].isoformat()
    return out


def _row(r: dict[str, Any], dimension: str) -> dict[str, Any]:
    return {"key": r[dimension], "submitted": r["submitted"], "delivered": r["delivered"],
            "failed": sum(r.get(k, 0) for k in ("undelivered", "expired", "rejected", "failed")),
            "delivery_rate": r["delivery_rate"], "avg_seconds_to_deliver": r["avg_seconds_to_deliver"],
            "cost_per_delivered": {c: float(v) for c, v in r["cost_per_delivered"].items()}}


def tables(found: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The breakdown as CSV tables (delivery_providers, delivery_networks, delivery_hours)."""
    return {f"delivery_{name}": [{"name": r["name"], **{k: v for k, v in r.items() if k not in ("name", "key",
                                                                                              "cost_per_delivered")},
                                  **{f"cost_per_delivered_{c}": v for c, v in r["cost_per_delivered"].items()}}
                                 for r in rows] for name, rows in found.items()}
