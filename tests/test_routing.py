"""Least-cost routing: the cheapest healthy provider covering a destination gets the message."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert

from engage.engine.routes.router import NoRoute, Router, RouterCache, tried
from engage.engine.store.schema import Provider, ProviderStatus, RoutePrice

BEELINE_UZ = "+998901234567"
UCELL_UZ = "+998931234567"
BEELINE_RU = "+79031234567"
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def provider(conn, name: str, priority: int = 100, enabled: bool = True) -> int:
    return conn.execute(insert(Provider.__table__).values(
        name=name, kind="smpp", config={}, tps=100, priority=priority, enabled=enabled)).inserted_primary_key[0]


def price(conn, provider_id: int, amount: str, *, prefix: str = "", mcc_mnc: str = "", network: str | None = None,
          currency: str = "USD", valid_from: datetime = LONG_AGO) -> None:
    conn.execute(insert(RoutePrice.__table__).values(
        provider_id=provider_id, prefix=prefix, mcc_mnc=mcc_mnc, network=network, price=Decimal(amount),
        currency=currency, valid_from=valid_from))


def status(conn, provider_id: int, healthy: bool, *, worker: str = "host:1", age: float = 0) -> None:
    conn.execute(insert(ProviderStatus.__table__).values(
        provider_id=provider_id, worker=worker, healthy=healthy, binds_up=1 if healthy else 0, binds=1,
        in_flight=0, window=0, tps=0, submitted=0, throttled=0, temporary_errors=0, permanent_errors=0,
        updated_at=datetime.now(UTC) - timedelta(seconds=age)))


def router(engine, **kwargs) -> Router:
    with engine.connect() as conn:
        return Router(conn, **kwargs)


def test_the_cheapest_provider_covering_the_destination_wins(engine):
    with engine.begin() as conn:
        dear = provider(conn, "dear", priority=1)
        cheap = provider(conn, "cheap", priority=9)
        price(conn, dear, "0.030", prefix="998")
        price(conn, cheap, "0.020", prefix="998")
    route = router(engine).choose(BEELINE_UZ)
    assert (route.provider_id, route.provider_name, route.price, route.currency, route.network) == (
        cheap, "cheap", Decimal("0.02"), "USD", "998")  # no network known: the prefix it was priced on


def test_equal_prices_are_decided_by_priority(engine):
    with engine.begin() as conn:
        second = provider(conn, "second", priority=20)
        first = provider(conn, "first", priority=10)
        price(conn, second, "0.02", prefix="998")
        price(conn, first, "0.02", prefix="998")
    assert router(engine).choose(BEELINE_UZ).provider_id == first


def test_a_longer_prefix_beats_a_shorter_one(engine):
    with engine.begin() as conn:
        a = provider(conn, "a")
        b = provider(conn, "b")
        price(conn, a, "0.010", prefix="998")
        price(conn, a, "0.050", prefix="99890")
        price(conn, b, "0.030", prefix="998")
    r = router(engine)
    chosen = r.choose(BEELINE_UZ)
    assert (chosen.provider_id, chosen.price) == (b, Decimal("0.03"))
    assert [(c.provider_id, c.price) for c in r.candidates(BEELINE_UZ)] == [(b, Decimal("0.03")),
                                                                          (a, Decimal("0.05"))]
    assert r.choose(UCELL_UZ).provider_id == a  # 99893 only matches a's country-wide 998


def test_a_network_price_applies_to_numbers_the_tables_map_to_that_network(engine):
    with engine.begin() as conn:
        mapper = provider(conn, "mapper")
        network_priced = provider(conn, "network-priced")
        price(conn, mapper, "0.020", prefix="99890", mcc_mnc="434-04", network="Beeline")
        price(conn, network_priced, "0.015", mcc_mnc="434-04")
    route = router(engine).choose(BEELINE_UZ)
    assert (route.provider_id, route.price, route.network, route.priced_on) == (
        network_priced, Decimal("0.015"), "434-04", "mcc_mnc 434-04")
    with pytest.raises(NoRoute):  # 99893 is not known to be 434-04, and nobody priced it otherwise
        router(engine).choose(UCELL_UZ)


def test_a_network_price_beats_the_same_providers_shorter_country_prefix(engine):
    with engine.begin() as conn:
        a = provider(conn, "a")
        price(conn, a, "0.020", prefix="99890", mcc_mnc="434-04")
        price(conn, a, "0.050", prefix="998")
        price(conn, a, "0.010", mcc_mnc="434-04")
    assert router(engine).choose(BEELINE_UZ).price == Decimal("0.02")  # its own prefix row is as specific
    with engine.begin() as conn:
        b = provider(conn, "b")
        price(conn, b, "0.050", prefix="998")
        price(conn, b, "0.012", mcc_mnc="434-04")
    chosen = router(engine).choose(BEELINE_UZ)
    assert (chosen.provider_id, chosen.price) == (b, Decimal("0.012"))


def test_a_price_valid_from_the_future_is_not_used_yet(engine):
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    with engine.begin() as conn:
        a = provider(conn, "a")
        b = provider(conn, "b")
        price(conn, a, "0.030", prefix="998")
        price(conn, b, "0.020", prefix="998")
        price(conn, a, "0.001", prefix="998", valid_from=tomorrow)
    assert router(engine).choose(BEELINE_UZ).provider_id == b
    assert router(engine, now=tomorrow + timedelta(hours=1)).choose(BEELINE_UZ).provider_id == a


def test_a_newer_price_supersedes_the_older_one(engine):
    with engine.begin() as conn:
        a = provider(conn, "a")
        price(conn, a, "0.030", prefix="998", valid_from=LONG_AGO)
        price(conn, a, "0.025", prefix="998", valid_from=LONG_AGO + timedelta(days=30))
    assert router(engine).choose(BEELINE_UZ).price == Decimal("0.025")


def test_an_unhealthy_provider_is_skipped(engine):
    with engine.begin() as conn:
        cheap = provider(conn, "cheap")
        dear = provider(conn, "dear")
        price(conn, cheap, "0.01", prefix="998")
        price(conn, dear, "0.02", prefix="998")
        status(conn, cheap, healthy=False, worker="host:1")
        status(conn, cheap, healthy=False, worker="host:2")
    candidates = router(engine).candidates(BEELINE_UZ)
    assert [(c.provider_id, c.healthy) for c in candidates] == [(dear, True), (cheap, False)]


def test_one_healthy_sender_is_enough_and_stale_reports_do_not_count(engine):
    with engine.begin() as conn:
        a = provider(conn, "a")
        b = provider(conn, "b")
        status(conn, a, healthy=False, worker="host:1")
        status(conn, a, healthy=True, worker="host:2")
        status(conn, b, healthy=False, age=60)
    r = router(engine)
    assert [c.healthy for c in r.candidates(BEELINE_UZ)] == [True, True]


def test_when_every_candidate_is_unhealthy_the_cheapest_is_still_chosen(engine):
    with engine.begin() as conn:
        cheap = provider(conn, "cheap")
        dear = provider(conn, "dear")
        price(conn, cheap, "0.01", prefix="998")
        price(conn, dear, "0.02", prefix="998")
        status(conn, cheap, healthy=False)
        status(conn, dear, healthy=False)
    route = router(engine).choose(BEELINE_UZ)
    assert (route.provider_id, route.healthy) == (cheap, False)


def test_exclude_fails_over_to_the_next_cheapest(engine):
    with engine.begin() as conn:
        cheap = provider(conn, "cheap")
        dear = provider(conn, "dear")
        price(conn, cheap, "0.01", prefix="998")
        price(conn, dear, "0.02", prefix="998")
    r = router(engine)
    assert r.choose(BEELINE_UZ, exclude=tried(f"{cheap}")).provider_id == dear
    with pytest.raises(NoRoute, match="every provider covering it rejected it"):
        r.choose(BEELINE_UZ, exclude={cheap, dear})


def test_without_price_tables_the_best_priority_wins(engine):
    with engine.begin() as conn:
        provider(conn, "backup", priority=50)
        main = provider(conn, "main", priority=10)
        provider(conn, "off", priority=1, enabled=False)
    route = router(engine).choose(BEELINE_UZ)
    assert (route.provider_id, route.price, route.currency) == (main, None, None)


def test_providers_without_a_table_rank_after_priced_ones(engine):
    with engine.begin() as conn:
        untabled = provider(conn, "untabled", priority=1)
        priced = provider(conn, "priced", priority=99)
        price(conn, priced, "0.05", prefix="998")
    assert [c.provider_id for c in router(engine).candidates(BEELINE_UZ)] == [priced, untabled]


def test_a_provider_whose_table_does_not_cover_the_destination_is_skipped(engine):
    with engine.begin() as conn:
        uz_only = provider(conn, "uz-only", priority=1)
        price(conn, uz_only, "0.01", prefix="998")
    assert router(engine).choose(BEELINE_UZ).provider_id == uz_only
    with pytest.raises(NoRoute, match="no enabled provider's prices cover it"):
        router(engine).choose(BEELINE_RU)


def test_no_enabled_provider_is_a_clear_no_route(engine):
    with pytest.raises(NoRoute, match="no enabled provider: an admin adds one on the Providers page"):
        router(engine).choose(BEELINE_UZ)


def test_phonenumbers_carrier_data_names_the_network_when_the_tables_do_not(engine):
    with engine.begin() as conn:
        a = provider(conn, "a")
        price(conn, a, "0.015", mcc_mnc="434-04", network="Beeline UZ")
        price(conn, a, "0.018", mcc_mnc="434-05", network="Ucell")
    r = router(engine)
    assert (r.choose(BEELINE_UZ).network, r.choose(BEELINE_UZ).price) == ("434-04", Decimal("0.015"))
    assert (r.choose(UCELL_UZ).network, r.choose(UCELL_UZ).price) == ("434-05", Decimal("0.018"))


def test_a_carrier_name_is_not_matched_to_a_network_of_another_country(engine):
    with engine.begin() as conn:
        a = provider(conn, "a")
        price(conn, a, "0.020", prefix="99890", mcc_mnc="434-04", network="Beeline")  # MCC 434 is +998
        price(conn, a, "0.015", mcc_mnc="434-04", network="Beeline")
    with pytest.raises(NoRoute):
        router(engine).choose(BEELINE_RU)  # phonenumbers says "Beeline" too, but in +7


def test_prices_in_different_currencies_compare_through_the_rates(engine):
    with engine.begin() as conn:
        in_uzs = provider(conn, "in-uzs")
        in_usd = provider(conn, "in-usd")
        price(conn, in_uzs, "150", prefix="998", currency="UZS")
        price(conn, in_usd, "0.02", prefix="998", currency="USD")
    rates = {"USD": Decimal(1), "UZS": Decimal("0.00008")}  # 150 UZS = 0.012 USD
    assert router(engine, rates=rates).choose(BEELINE_UZ).provider_id == in_uzs
    without_rate = router(engine, rates={"USD": Decimal(1)}).candidates(BEELINE_UZ)
    assert [c.provider_id for c in without_rate] == [in_usd, in_uzs]


def test_the_router_cache_reuses_a_router_until_its_ttl_passes(engine):
    cache = RouterCache(ttl=60)
    with engine.connect() as conn:
        first = cache.get(conn)
        assert cache.get(conn) is first
    cache.ttl = 0
    with engine.connect() as conn:
        assert cache.get(conn) is not first
