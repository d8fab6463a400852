"""A campaign's delivery as its effectiveness report shows it: by provider, by network and by hour,
read from campaign_stats (folded from the event stream by delivery_stats), providers and networks
named as people know them. A few rows whatever the campaign's size."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, select

from engage.engine import networks
from engage.engine.analytics.delivery_stats import figures
from engage.engine.store.schema import Provider

SLICES = {"providers": "provider_id", "networks": "network", "hours": "hour"}
FAILED = ("undelivered", "expired", "rejected", "failed")


def breakdown(conn: Connection, campaign_id: int) -> dict[str, list[dict[str, Any]]]:
    """{"providers": [...], "networks": [...], "hours": [...]}: each row named, with what was
    submitted and delivered, the delivery rate, the average time to deliver and the cost per
    delivered message (per currency). Rows of the reach (no provider, no network) are left out;
    keys people know by one name (two prefixes of one network) are one row."""
    raw = {name: [r for r in figures(conn, campaign_id, by=(dimension,)) if r["submitted"] or r["delivered"]]
           for name, dimension in SLICES.items()}
    ids = {r["provider_id"] for r in raw["providers"]}
    named = dict(conn.execute(select(Provider.id, Provider.name).where(Provider.id.in_(ids))).all()) if ids else {}
    keys = [r["network"] for r in raw["networks"] if r["network"]]
    called = networks.names(conn, keys) if keys else {}
    return {
        "providers": _merged(raw["providers"], lambda r: named.get(r["provider_id"]) or (
            f"provider {r['provider_id']} (removed)" if r["provider_id"] else "no provider")),
        "networks": _merged(raw["networks"], lambda r: called.get(r["network"], r["network"])
                            if r["network"] else "unknown network"),
        "hours": [{**_row(r), "hour": r["hour"], "name": r["hour"].isoformat()} for r in raw["hours"]],
    }


def _merged(rows: list[dict[str, Any]], name_of: Callable[[dict[str, Any]], str]) -> list[dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        name = name_of(r)
        into = out.setdefault(name, {"name": name, "submitted": 0, "delivered": 0, "failed": 0, "seconds": 0.0,
                                     "cost": {}})
        for k in ("submitted", "delivered", "failed", "seconds"):
            into[k] += _raw(r)[k]
        for c, v in r["cost"].items():
            into["cost"][c] = into["cost"].get(c, Decimal(0)) + v
    return [_finished(r) for r in out.values()]


def _raw(r: dict[str, Any]) -> dict[str, Any]:
    return {"submitted": r["submitted"], "delivered": r["delivered"],
            "failed": sum(r.get(k, 0) for k in FAILED),
            "seconds": (r["avg_seconds_to_deliver"] or 0.0) * r["delivered"]}


def _row(r: dict[str, Any]) -> dict[str, Any]:
    return _finished({**_raw(r), "cost": dict(r["cost"])})


def _finished(r: dict[str, Any]) -> dict[str, Any]:
    delivered = r["delivered"]
    seconds, cost = r.pop("seconds"), r.pop("cost")
    r["delivery_rate"] = round(delivered / r["submitted"], 4) if r["submitted"] else None
    r["avg_seconds_to_deliver"] = round(seconds / delivered, 3) if delivered else None
    r["cost_per_delivered"] = {c: round(float(v) / delivered, 6) for c, v in cost.items()} if delivered else {}
    return r


def tables(found: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """The breakdown as CSV tables (delivery_providers, delivery_networks, delivery_hours)."""
    return {f"delivery_{name}": [{"name": r["name"], **{k: v for k, v in r.items() if k not in ("name", "hour",
                                                                                              "cost_per_delivered")},
                                  **{f"cost_per_delivered_{c}": v for c, v in r["cost_per_delivered"].items()}}
                                 for r in rows] for name, rows in found.items()}
