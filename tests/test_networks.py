"""Networks by name (engine.networks), on both databases: a route's key (a priced prefix or an
MCC-MNC) and an unpriced number are named by the price tables, else by phonenumbers' carrier data
with the country, else by what is known; a campaign's figures by network add up the keys one name
covers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import update

from engage.engine import networks
from engage.engine.campaigns import progress
from engage.engine.campaigns.launching import launch_run
from engage.engine.providers.records import add_smpp
from engage.engine.routes import price_tables
from engage.engine.store.schema import Message
from tests.campaign_setup import add_subscribers, make_campaign

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _priced(conn, rows: list[tuple[str, str, str | None, datetime]]) -> int:
    """A provider with price rows (prefix, mcc_mnc, network name, valid from)."""
    provider_id = add_smpp(conn, name="mts", host="127.0.0.1", port=2775, system_id="e", password="p", actor="t")
    price_tables.upsert(conn, [{"provider_id": provider_id, "prefix": prefix, "mcc_mnc": mcc_mnc, "network": name,
                                "price": Decimal("0.01"), "currency": "USD", "valid_from": since}
                               for prefix, mcc_mnc, name, since in rows])
    return provider_id


def test_a_priced_prefix_takes_the_name_the_price_table_gives_it(engine):
    with engine.begin() as conn:
        _priced(conn, [("99890", "", "Beeline", T0)])
        assert networks.names(conn, ["99890"]) == {"99890": "Beeline"}


def test_the_latest_price_row_naming_a_network_wins(engine):
    with engine.begin() as conn:
        _priced(conn, [("99890", "", "Unitel", T0 - timedelta(days=30)), ("99890", "", "Beeline UZ", T0)])
        assert networks.names(conn, ["99890"])["99890"] == "Beeline UZ"


def test_names_looked_up_a_few_keys_at_a_time_are_the_same(engine, monkeypatch):
    monkeypatch.setattr(networks, "LOOKED_UP", 2)
    with engine.begin() as conn:
        _priced(conn, [("99890", "", "Unitel", T0 - timedelta(days=30)), ("99890", "", "Beeline UZ", T0),
                       ("", "434-05", "Ucell", T0)])
        assert networks.names(conn, ["434-05", "99890", "99893"], numbers=["998905"]) == {
            "434-05": "Ucell", "99890": "Beeline UZ", "99893": "Ucell (UZ)", "+998905": "Beeline UZ"}


def test_an_mcc_mnc_takes_the_name_the_price_table_gives_it(engine):
    with engine.begin() as conn:
        _priced(conn, [("", "434-04", "Beeline", T0)])
        assert networks.names(conn, ["434-04", "434-07"]) == {"434-04": "Beeline", "434-07": "MCC-MNC 434-07"}


def test_a_prefix_no_table_names_is_named_by_the_numbering_plan_with_its_country(engine):
    with engine.connect() as conn:
        assert networks.names(conn, ["99893", "38765"]) == {"99893": "Ucell (UZ)", "38765": "m:tel (BA)"}


def test_a_prefix_nobody_names_says_what_it_is(engine):
    with engine.connect() as conn:
        assert networks.names(conn, ["7916"]) == {"7916": "+7916… (RU)"}


def test_an_unpriced_number_is_named_by_the_longest_table_prefix_that_starts_it(engine):
    with engine.begin() as conn:
        _priced(conn, [("9989", "", "Uzbekistan mobile", T0), ("99890", "", "Beeline", T0)])
        assert networks.names(conn, [], numbers=["998901", "998931"]) == {
            "+998901": "Beeline", "+998931": "Uzbekistan mobile"}


def test_unpriced_numbers_of_a_country_without_carrier_data_are_one_unknown_network(engine):
    with engine.connect() as conn:
        assert networks.names(conn, [], numbers=["791612", "791734"]) == {
            "+791612": "unknown network (RU)", "+791734": "unknown network (RU)"}


def test_a_campaigns_networks_are_named_and_the_keys_of_one_name_added_up(engine):
    add_subscribers(engine, 4)  # +99890...: Beeline by the carrier data
    campaign_id = make_campaign(engine)
    launch_run(engine, campaign_id, T0, actor="t", now=T0)
    with engine.begin() as conn:
        provider_id = _priced(conn, [("", "434-05", "Ucell", T0)])
        conn.execute(update(Message.__table__).values(provider_id=provider_id, network=None, status="delivered"))
        conn.execute(update(Message.__table__).where(Message.subscriber_id == 1).values(network="434-05"))
        conn.execute(update(Message.__table__).where(Message.subscriber_id == 2).values(status="failed"))
        assert progress.by_network(conn, campaign_id) == [
            {"name": "Beeline (UZ)", "total": 3, "counts": {"delivered": 2, "failed": 1}, "keys": []},
            {"name": "Ucell", "total": 1, "counts": {"delivered": 1}, "keys": ["434-05"]}]


def test_messages_not_routed_yet_are_in_no_network(engine):
    add_subscribers(engine, 2)
    campaign_id = make_campaign(engine)
    launch_run(engine, campaign_id, T0, actor="t", now=T0)
    with engine.connect() as conn:
        assert progress.by_network(conn, campaign_id) == []
