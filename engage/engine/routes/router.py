"""Least-cost routing: for each message, the cheapest healthy provider that covers its destination.

The rules, in the order they apply:

- Coverage. A provider with a price table in force covers a destination when one of its rows matches:
  its longest prefix of the number's digits, or the destination network's MCC-MNC (rows with an
  MCC-MNC and no prefix). The more specific row wins: a prefix row longer than the prefix that told
  the network beats the network row, otherwise the network row applies. A provider with a table
  that has no matching row does not cover the destination. A provider with no table in force
  covers every destination at an unknown price: with no tables at all, the best priority wins.
- The destination's network is told by the longest prefix whose table row also names an MCC-MNC
  (any provider's table); where the tables say nothing, by phonenumbers' carrier data: the carrier
  name (with and without the country's region code, e.g. "Beeline UZ" / "Beeline") is matched to
  the tables' network names, and a match is kept only if it is unambiguous and its MCC is not known
  (from the tables) to belong to another country.
- Ranking. Priced providers by price per part, then priority; then providers without a table by
  priority. Prices in one currency compare as they are; across currencies through
  ENGAGE_CURRENCY_RATES (price_tables.currency_rates), and a price in a currency with no rate then
  ranks after every comparable one.
- Health. A provider is healthy unless every fresh status row (updated within `health_ttl`
  seconds) its senders wrote says otherwise; with no fresh row it is presumed healthy. Healthy
  candidates come first. When every candidate left is unhealthy, the cheapest of them is still
  chosen (Route.healthy is False): its messages wait in its queue for it to come back rather than
  fail, because a provider that is down is usually down for minutes.
- Failover. `exclude` names providers that already rejected the message permanently; when no
  candidate is left, NoRoute says so.

Everything is loaded once in Router(); choose() costs a dict lookup per distinct prefix length of
the tables (at most 15), plus at most 9 in phonenumbers' carrier data when the tables do not know
the network, and no query. RouterCache lets a dispatcher reuse a Router for a few seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Connection, select

from engage.engine.routes.price_tables import currency_rates, current_prices, utc
from engage.engine.store.schema import Provider, ProviderStatus

log = logging.getLogger(__name__)

HEALTH_TTL = 15.0  # seconds a sender's status row counts as fresh


class NoRoute(RuntimeError):
    pass


@dataclass(frozen=True)
class Route:
    provider_id: int
    provider_name: str
    price: Decimal | None = None  # per part, in `currency`; None: the provider has no price table
    currency: str | None = None
    network: str | None = None  # the destination's MCC-MNC when known, else the prefix the price matched
    healthy: bool = True
    priced_on: str | None = None  # the row that priced it: "prefix 99890" or "mcc_mnc 434-04"


@dataclass(frozen=True)
class _Price:
    price: Decimal
    currency: str
    value: Decimal | None  # in the common unit of the currency rates; None without a rate
    priced_on: str


@dataclass
class _Prefix:
    prices: dict[int, _Price] = field(default_factory=dict)  # provider id -> its row for this prefix
    network: str | None = None  # MCC-MNC the tables say this prefix is


def _norm(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def _country_code(digits: str) -> str | None:
    from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

    for n in (1, 2, 3):
        if digits[:n].isdigit() and int(digits[:n]) in COUNTRY_CODE_TO_REGION_CODE:
            return digits[:n]
    return None


def _configured_rates() -> dict[str, Decimal]:
    try:
        return currency_rates()
    except ValueError as exc:  # routing goes on; mixed currencies then rank as if unrated
        log.error("%s: ignored", exc)
        return {}


class Router:
    def __init__(self, conn: Connection, now: datetime | None = None, *,
                 rates: Mapping[str, Decimal] | None = None, health_ttl: float = HEALTH_TTL):
        now = utc(now or datetime.now(UTC))
        rates = _configured_rates() if rates is None else rates
        providers = conn.execute(select(Provider.id, Provider.name, Provider.priority).where(
            Provider.enabled.is_(True)).order_by(Provider.priority, Provider.id)).all()
        self._names = {p.id: p.name for p in providers}
        self._priority = {p.id: (p.priority, p.id) for p in providers}
        self._healthy = self._load_health(conn, now, health_ttl)
        self._prefixes: dict[str, _Prefix] = {}
        self._networks: dict[str, dict[int, _Price]] = {}  # MCC-MNC -> provider id -> its network row
        self._network_names: dict[str, set[str]] = {}  # normalised network name -> MCC-MNCs
        self._mcc_countries: dict[str, set[str]] = {}  # MCC -> country calling codes seen with it
        self._tabled: set[int] = set()
        for row in current_prices(conn, now):
            if row.provider_id in self._names:
                self._add(row, rates)
        self._lengths = sorted({len(p) for p in self._prefixes}, reverse=True)
        self._untabled = [pid for pid in self._names if pid not in self._tabled]
        self._ranked: dict[tuple[str | None, str | None, int], tuple[Route, ...]] = {}

    @staticmethod
    def _load_health(conn: Connection, now: datetime, ttl: float) -> dict[int, bool]:
        fresh_after = now - timedelta(seconds=ttl)
        seen: dict[int, bool] = {}
        for r in conn.execute(select(ProviderStatus.provider_id, ProviderStatus.healthy, ProviderStatus.updated_at)):
            if r.updated_at is not None and utc(r.updated_at) >= fresh_after:
                seen[r.provider_id] = seen.get(r.provider_id, False) or bool(r.healthy)
        return seen

    def _add(self, row, rates: Mapping[str, Decimal]) -> None:  # noqa: ANN001 - a route_prices row
        self._tabled.add(row.provider_id)
        rate = rates.get(row.currency)
        value = None if rate is None else row.price * rate
        if row.prefix:
            entry = self._prefixes.setdefault(row.prefix, _Prefix())
            entry.prices[row.provider_id] = _Price(row.price, row.currency, value, f"prefix {row.prefix}")
            if row.mcc_mnc:  # rows come oldest first: the latest mapping of a prefix wins
                entry.network = row.mcc_mnc
                code = _country_code(row.prefix)
                if code:
                    self._mcc_countries.setdefault(row.mcc_mnc[:3], set()).add(code)
        elif row.mcc_mnc:
            self._networks.setdefault(row.mcc_mnc, {})[row.provider_id] = _Price(
                row.price, row.currency, value, f"mcc_mnc {row.mcc_mnc}")
        if row.mcc_mnc and row.network:
            self._network_names.setdefault(_norm(row.network), set()).add(row.mcc_mnc)

    def choose(self, msisdn: str, exclude: Collection[int] = ()) -> Route:
        """The route for one message; `exclude`: providers that have rejected it (failover)."""
        routes = self._routes(msisdn)
        for route in routes:
            if route.provider_id not in exclude:
                return route
        raise NoRoute(self._why_none(routes))

    def candidates(self, msisdn: str, exclude: Collection[int] = ()) -> list[Route]:
        """Every provider that could take the message, best first (healthy before unhealthy)."""
        return [r for r in self._routes(msisdn) if r.provider_id not in exclude]

    def _why_none(self, routes: tuple[Route, ...]) -> str:
        if not self._names:
            return "no enabled provider: an admin adds one on the Providers page"
        if not routes:
            return "no route: no enabled provider's prices cover it"
        return "no route left: every provider covering it rejected it"

    def _routes(self, msisdn: str) -> tuple[Route, ...]:
        digits = msisdn[1:] if msisdn.startswith("+") else msisdn
        longest, network, network_len = None, None, 0
        for length in self._lengths:
            entry = self._prefixes.get(digits[:length]) if length <= len(digits) else None
            if entry is not None:
                longest = longest or digits[:length]
                if entry.network:
                    network, network_len = entry.network, length
                    break  # every shorter prefix is a prefix of `longest`: the cache key covers them
        if network is None and self._network_names and self._networks:
            network, network_len = self._carrier_network(digits)
        key = (longest, network, network_len)
        routes = self._ranked.get(key)
        if routes is None:
            routes = self._ranked[key] = self._rank(longest, network, network_len)
        return routes

    def _carrier_network(self, digits: str) -> tuple[str | None, int]:
        """The network from phonenumbers' carrier data, matched to the tables' network names."""
        from phonenumbers import region_code_for_country_code
        from phonenumbers.carrierdata import CARRIER_DATA, CARRIER_LONGEST_PREFIX

        for length in range(min(CARRIER_LONGEST_PREFIX, len(digits)), 0, -1):
            names = CARRIER_DATA.get(digits[:length])
            if names and names.get("en"):
                break
        else:
            return None, 0
        code = _country_code(digits)
        region = region_code_for_country_code(int(code)) if code else ""
        for name in (f"{names['en']} {region}", names["en"]):
            found = {n for n in self._network_names.get(_norm(name), ())
                     if n in self._networks and code in self._mcc_countries.get(n[:3], {code})}
            if len(found) == 1:
                return found.pop(), length
        return None, 0

    def _rank(self, longest: str | None, network: str | None, network_len: int) -> tuple[Route, ...]:
        prices: dict[int, tuple[_Price, str]] = {}  # provider -> its most specific row, the key it matched
        by_network = self._networks.get(network, {}) if network else {}
        for length in self._lengths if longest else ():
            if length > len(longest):
                continue
            entry = self._prefixes.get(longest[:length])
            for pid, price in (entry.prices.items() if entry else ()):
                if pid not in prices and not (length < network_len and pid in by_network):
                    prices[pid] = (price, longest[:length])
        for pid, price in by_network.items():
            prices.setdefault(pid, (price, network))
        one_currency = len({p.currency for p, _ in prices.values()}) <= 1

        def order(pid: int) -> tuple:
            price = prices[pid][0]
            value = price.price if one_currency else price.value
            return (not self._healthy.get(pid, True), value is None, value or 0, self._priority[pid])

        priced = sorted(prices, key=order)
        untabled = sorted(self._untabled, key=lambda pid: (not self._healthy.get(pid, True), self._priority[pid]))
        routes = [Route(pid, self._names[pid], prices[pid][0].price, prices[pid][0].currency,
                        network or prices[pid][1], self._healthy.get(pid, True), prices[pid][0].priced_on)
                  for pid in priced]
        routes += [Route(pid, self._names[pid], None, None, network, self._healthy.get(pid, True))
                   for pid in untabled]
        healthy = [r for r in routes if r.healthy]
        return tuple(healthy + [r for r in routes if not r.healthy])


def tried(text: str | None) -> frozenset[int]:
    """Message.tried_providers ("3,7") as the `exclude` of choose()."""
    return frozenset(int(part) for part in (text or "").split(",") if part.strip())


class RouterCache:
    """One Router per database, rebuilt when older than `ttl` seconds: price and health changes
    reach the dispatcher within that time, and no batch pays for loading the tables."""

    def __init__(self, ttl: float = 5.0):
        self.ttl = ttl
        self._lock = threading.Lock()
        self._routers: dict[str, tuple[float, Router]] = {}

    def get(self, conn: Connection) -> Router:
        key = str(conn.engine.url)
        with self._lock:
            built = self._routers.get(key)
            if built is None or time.monotonic() - built[0] >= self.ttl:
                built = self._routers[key] = (time.monotonic(), Router(conn))
            return built[1]

    def invalidate(self) -> None:
        with self._lock:
            self._routers.clear()
