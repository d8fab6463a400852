"""A campaign's cost before launch (campaigns.estimate), over real price tables: each destination
priced at the route the dispatcher would take now, times the parts of the recipient's variant, per
currency; destinations nobody covers counted as unpriced; one grouped query, whatever the audience."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, insert

from engage.engine import campaigns
from engage.engine.campaigns.estimate import estimate
from engage.engine.campaigns.launching import launch_run
from engage.engine.providers.records import add_smpp
from engage.engine.providers.status import upsert as report_status
from engage.engine.routes.price_tables import import_csv
from engage.engine.segments import store as segments
from engage.engine.store.schema import OptOut, Subscriber
from engage.engine.templates import store as templates
from engage.engine.templates.render import CompiledTemplate, sample_context
from tests.fixtures.web import serving
from tests.test_audience_api import _call

# 94 characters of Russian and the first name: UCS-2, 103 units for the sample recipient ("Alexander"): 2 parts
CYRILLIC = ("Дорогой клиент, на ваш счёт начислено 500 бонусов за верность. "
            "Спасибо, что вы с нами всегда! {{ first_name }}")
PRICES = """provider,prefix,mcc_mnc,network,price,currency,valid_from
alpha,99890,434-04,Beeline UZ,0.020,USD,2020-01-01
alpha,99893,434-05,Ucell,0.030,USD,2020-01-01
alpha,99897,434-07,UMS,0.025,USD,2020-01-01
beta,99890,434-04,Beeline UZ,0.015,USD,2020-01-01
beta,99893,434-05,Ucell,0.035,USD,2020-01-01
"""
# 4 Beeline, 3 Ucell, 2 UMS, 1 Russian number no table covers; and one more Beeline number opted out
NUMBERS = ["+998901000001", "+998901000002", "+998901000003", "+998901000004", "+998931000001", "+998931000002",
           "+998931000003", "+998971000001", "+998971000002", "+79031234567"]
OPTED_OUT = "+998901000099"


def people(engine, numbers, language="ru"):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [
            {"msisdn": n, "first_name": "Олег", "language": language, "attributes": {}} for n in numbers])


def providers(engine, tmp_path, prices=PRICES):
    with engine.begin() as conn:
        ids = {name: add_smpp(conn, name=name, host="127.0.0.1", port=2775, system_id=name, password="p", actor="t")
               for name in ("alpha", "beta")}
    path = tmp_path / "prices.csv"
    path.write_text(prices, encoding="utf-8")
    assert not import_csv(engine, path, actor="t").rejected
    return ids


def campaign(engine, variants=None, **options):
    with engine.begin() as conn:
        template_id = templates.create(conn, "bonus", variants or {"ru": CYRILLIC}, default_language="ru", actor="t")
        segment_id = segments.create(conn, "everyone", {"kind": "all"}, actor="t")
        return campaigns.create(conn, name="bonus", segment_id=segment_id, template_id=template_id,
                                sender_id="Shop", actor="t", **options)


def estimated(engine, campaign_id):
    with engine.connect() as conn:
        return estimate(conn, campaign_id, rates={})  # now: provider health is as fresh as the database's clock


@pytest.fixture
def priced(engine, tmp_path):
    """Three networks, two providers at different prices, a number no table covers, one opted out."""
    people(engine, [*NUMBERS, OPTED_OUT])
    with engine.begin() as conn:
        conn.execute(insert(OptOut.__table__).values(msisdn=OPTED_OUT, channel="sms", source="test"))
    return engine, providers(engine, tmp_path)


def test_the_sample_text_is_two_ucs2_parts():
    rendered = CompiledTemplate(CYRILLIC, "ru").render(sample_context())
    assert (rendered.info.encoding, rendered.info.parts) == ("ucs2", 2)


def test_each_network_is_priced_at_its_cheapest_route_times_the_parts(priced):
    engine, _ = priced
    cost = estimated(engine, campaign(engine))
    # Beeline 4 x 2 parts x 0.015 (beta) + Ucell 3 x 2 x 0.030 (alpha) + UMS 2 x 2 x 0.025 (alpha)
    assert cost["cost"] == {"USD": Decimal("0.400000")}
    assert [(r["network"], r["provider"], r["recipients"], r["parts"], r["cost"]) for r in cost["by_route"]] == [
        ("434-05", "alpha", 3, 6, Decimal("0.180000")),
        ("434-04", "beta", 4, 8, Decimal("0.120000")),
        ("434-07", "alpha", 2, 4, Decimal("0.100000"))]


def test_a_destination_no_table_covers_is_counted_unpriced(priced):
    engine, _ = priced
    cost = estimated(engine, campaign(engine))
    assert (cost["recipients"], cost["priced"], cost["unpriced"]) == (10, 9, 1)
    assert cost["unpriced_reasons"] == {"no_route": 1}


def test_opted_out_subscribers_are_not_in_the_estimate(priced):
    engine, _ = priced
    assert estimated(engine, campaign(engine))["reachable"] == len(NUMBERS)


def test_an_unhealthy_provider_gives_way_to_the_next_cheapest(priced):
    engine, ids = priced
    with engine.begin() as conn:
        report_status(conn, ids["beta"], "sender:1", {"healthy": False, "binds_up": 0, "binds": 1})
    cost = estimated(engine, campaign(engine))
    # Beeline now goes to alpha at 0.020: 4 x 2 x 0.020 = 0.16 instead of 0.12
    assert cost["cost"] == {"USD": Decimal("0.440000")}


def test_each_recipient_is_priced_with_the_parts_of_their_own_languages_variant(priced):
    engine, _ = priced
    variants = {"ru": CYRILLIC, "en": "Your 500 bonus points are here. Thank you, {{ first_name }}!"}
    with engine.begin() as conn:
        conn.execute(Subscriber.__table__.update().where(Subscriber.msisdn.in_(NUMBERS[:4])).values(language="en"))
    cost = estimated(engine, campaign(engine, variants))
    # the 4 Beeline subscribers read English: 1 GSM-7 part each, 4 x 0.015 = 0.06
    assert cost["cost"] == {"USD": Decimal("0.340000")}
    assert {(v["language"], v["parts"], v["recipients"]) for v in cost["variants"]} == {("en", 1, 4), ("ru", 2, 6)}


def test_costs_are_totalled_per_currency(engine, tmp_path):
    people(engine, NUMBERS[:4] + NUMBERS[7:9])
    providers(engine, tmp_path, "provider,prefix,mcc_mnc,network,price,currency,valid_from\n"
                                "alpha,99890,,,0.020,USD,2020-01-01\n"
                                "beta,99897,,,0.050,EUR,2020-01-01\n")
    cost = estimated(engine, campaign(engine))
    assert cost["cost"] == {"EUR": Decimal("0.200000"), "USD": Decimal("0.160000")}


def test_the_estimated_audience_is_the_one_a_launch_writes(priced):
    engine, _ = priced
    campaign_id = campaign(engine, control_share=0.3, seed=5)
    cost = estimated(engine, campaign_id)
    launched = launch_run(engine, campaign_id, datetime.now(UTC), actor="t")
    assert (cost["recipients"], cost["control"]) == (launched["recipients"], launched["set_aside"]["control"])
    assert cost["control"] > 0


def test_a_variant_over_the_campaigns_parts_cap_is_unpriced(priced):
    engine, _ = priced
    cost = estimated(engine, campaign(engine, max_parts=1))
    assert cost["unpriced"] == len(NUMBERS) and cost["cost"] == {}
    assert cost["unpriced_reasons"] == {"template": len(NUMBERS)}


def test_the_estimate_asks_the_database_the_same_number_of_questions_for_any_audience(engine, tmp_path):
    providers(engine, tmp_path)
    people(engine, NUMBERS)
    campaign_id = campaign(engine)
    small = _statements(engine, campaign_id)
    people(engine, [f"+99890{2_000_000 + i}" for i in range(200)] + [f"+99893{2_000_000 + i}" for i in range(200)])
    assert _statements(engine, campaign_id) == small


def _statements(engine, campaign_id) -> int:
    seen = []

    def count(*_args) -> None:  # noqa: ANN002
        seen.append(1)

    event.listen(engine, "before_cursor_execute", count)
    try:
        estimated(engine, campaign_id)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_the_api_gives_the_estimate_with_money_as_text(priced):
    engine, _ = priced
    campaign_id = campaign(engine)
    with serving(engine, tokens="hq-token,north-token@north") as base:
        status, body = _call(base, f"/api/v1/campaigns/{campaign_id}/estimate")
        assert status == 200 and body["cost"] == {"USD": "0.400000"} and body["unpriced"] == 1
        assert _call(base, f"/api/v1/campaigns/{campaign_id}/estimate", token="north-token")[0] == 404
