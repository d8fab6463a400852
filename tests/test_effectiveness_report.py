"""A campaign's effectiveness report (engine.analytics.effectiveness.report), read from its computed
results: uplift on a planted effect and a planted null, arms, groups, tables and comparisons."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert

from engage.engine.analytics.effectiveness import refresh as er
from engage.engine.analytics.effectiveness import report as rp
from engage.engine.analytics.effectiveness.settings import set_settings
from engage.engine.store.schema import CampaignRun
from engage.engine.users.roles import ROLES, may_read_analytics
from tests.effectiveness_data import LATER, START, Story


def report(engine, campaign_id: int) -> dict:
    er.refresh(engine, campaign_id, now=LATER)
    with engine.connect() as conn:
        return rp.effectiveness(conn, campaign_id)


def test_a_planted_effect_is_reported_significant_with_an_interval_covering_it(engine):
    story = Story(engine)
    story.many(3000, converted=900)  # 30 %
    story.many(1000, converted=100, status="control")  # 10 %
    up = report(engine, story.campaign_id)["conversion"]["uplift"]
    assert (up["rate"], up["baseline"]) == (0.30, 0.10)
    assert up["significant"] and up["low"] > 0
    assert up["low"] <= 0.20 <= up["high"]
    assert up["sentence"].startswith("sending raised it by 20.0 points")


def test_a_planted_null_is_reported_with_an_interval_covering_zero_and_no_winner(engine):
    story = Story(engine)
    story.many(1500, converted=300, arm="A")
    story.many(1500, converted=300, arm="B")
    story.many(1000, converted=200, status="control")
    found = report(engine, story.campaign_id)
    up = found["conversion"]["uplift"]
    assert not up["significant"] and up["low"] < 0 < up["high"]
    assert up["sentence"].startswith("no measurable effect yet: the interval")
    assert found["arms"]["winner"] is None
    assert found["arms"]["why"].startswith("not yet: ") and found["arms"]["why"].endswith("covers zero")


def test_an_arm_is_the_winner_only_when_its_interval_against_the_other_excludes_zero(engine):
    story = Story(engine)
    story.many(2000, converted=700, arm="A")
    story.many(2000, converted=400, arm="B")
    story.many(500, converted=50, status="control")
    arms = report(engine, story.campaign_id)["arms"]
    assert arms["winner"] == "A"
    assert [(a["arm"], a["recipients"], a["conversion_rate"]) for a in arms["arms"]] == [("A", 2000, 0.35),
                                                                                         ("B", 2000, 0.2)]
    assert all(a["uplift"]["significant"] for a in arms["arms"])
    assert arms["pairs"]["A-B"]["sentence"].startswith("A converts 15.0 points more than B")


def test_reach_delivery_cost_and_the_funnel_are_the_campaign_s(engine):
    story = Story(engine)
    first = story.recipient(price="0.10", delivered_after=timedelta(seconds=80))
    story.recipient(price="0.10", delivered_after=timedelta(seconds=40))
    story.recipient(status="undelivered", price="0.10")
    story.recipient(status="control")
    story.mo(first[1], first[2] + timedelta(hours=1))
    story.usage(first[0], first[2] + timedelta(hours=1))
    found = report(engine, story.campaign_id)
    assert found["reach"] == {"recipients": 3, "control": 1, "set_aside": {"opted_out": 3}, "set_aside_total": 3,
                              "audience": 7}
    assert found["delivery"] == {"delivered": 2, "rate": 0.6667, "seconds_to_deliver": 40.0}
    cost = found["cost"]
    assert (cost["total"], cost["currency"], cost["per_delivered"], cost["per_response"]) == (0.3, "USD", 0.15, 0.3)
    assert [(s["step"], s["count"]) for s in found["funnel"]] == [("recipients", 3), ("delivered", 2),
                                                                  ("responded", 1), ("converted", 1)]
    assert found["response"]["treated"]["response_rate"] == 0.3333


def test_groups_are_listed_where_sending_moved_people_most_first(engine):
    story = Story(engine)
    for region, treated_rate, control_rate in (("North", 0, 0), ("South", 6, 1), ("East", 3, 2)):
        for i in range(10):
            sid, _, delivered = story.recipient(region=region)
            if i < treated_rate:
                story.usage(sid, delivered + timedelta(hours=1))
            sid, _, _ = story.recipient(region=region, status="control")
            if i < control_rate:
                story.usage(sid, START + timedelta(hours=1))
    groups = report(engine, story.campaign_id)["groups"]
    region = next(g for g in groups if g["dimension"] == "region")
    assert region["label"] == "Region"
    assert [m["value"] for m in region["groups"]] == ["South", "East", "North"]
    south = region["groups"][0]
    assert (south["treated"]["conversion_rate"], south["control"]["conversion_rate"]) == (0.6, 0.1)
    assert round(south["uplift"]["difference"], 4) == 0.5


def test_a_band_and_a_choice_are_named_in_words(engine):
    story = Story(engine)
    story.recipient(contract_type="prepaid")
    story.recipient()
    groups = {g["dimension"]: g for g in report(engine, story.campaign_id)["groups"]}
    assert {m["label"] for m in groups["contract_type"]["groups"]} == {"Prepaid", "Unknown"}
    assert groups["age_band"]["order"][:2] == ["<18", "18-24"]
    assert groups["tenure_band"]["label"] == "Customer for"


def test_the_curve_is_cumulative_rates_for_treated_and_control(engine):
    story = Story(engine)
    for days in (0, 3):
        sid, _, delivered = story.recipient()
        story.usage(sid, delivered + timedelta(days=days, hours=1))
    story.recipient()
    story.recipient()
    sid, _, _ = story.recipient(status="control")
    story.usage(sid, START + timedelta(days=1, hours=1))
    story.recipient(status="control")
    curve = report(engine, story.campaign_id)["curve"]
    assert curve["days"] == list(range(7))
    assert curve["treated"]["converted"] == [1, 1, 1, 2, 2, 2, 2]
    assert curve["treated"]["rate"][3] == 0.5
    assert curve["control"]["rate"] == [0.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]


def test_each_run_of_a_recurring_campaign_has_its_own_figures(engine):
    story = Story(engine, schedule={"kind": "daily", "time": "10:00"})
    story.recipient()
    with engine.begin() as conn:
        second = conn.execute(insert(CampaignRun.__table__).values(
            campaign_id=story.campaign_id, scheduled_for=START + timedelta(days=1), status="completed",
            started_at=START + timedelta(days=1), set_aside={"opted_out": 1})).inserted_primary_key[0]
    sid, _, _ = story.recipient(run_id=second)
    story.usage(sid, START + timedelta(days=1, hours=2))
    found = report(engine, story.campaign_id)
    assert found["campaign"]["recurring"]
    assert [(r["run_id"], r["treated"]["recipients"], r["treated"]["converted"]) for r in found["runs"]] == [
        (story.run_id, 1, 0), (second, 1, 1)]
    assert found["runs"][1]["set_aside"] == {"opted_out": 1}


def test_a_campaign_not_yet_computed_says_so(engine):
    story = Story(engine)
    story.recipient()
    with engine.connect() as conn:
        found = rp.effectiveness(conn, story.campaign_id)
        assert rp.effectiveness(conn, 999) is None
    assert not found["campaign"]["computed"]
    assert found["conversion"]["uplift"] is None
    assert found["campaign"]["settings"]["conversion"] == {"kind": "recharge", "days": 7}


def test_every_table_of_a_report_has_the_same_columns_in_every_row(engine):
    story = Story(engine)
    story.many(20, converted=5)
    story.many(20, converted=5, arm="B")
    story.recipient(status="control", region="North")
    tables = rp.tables(report(engine, story.campaign_id))
    assert set(tables) == {"summary", "funnel", "arms", "groups", "curve", "runs"}
    for name, table in tables.items():
        assert table, name
        assert all(list(row) == list(table[0]) for row in table), name
    assert tables["summary"][0]["conversion_uplift_significant"] is False
    assert len(tables["curve"]) == 7


def test_campaigns_compared_side_by_side_say_when_they_were_judged_differently(engine):
    one = Story(engine)
    one.many(10, converted=2)
    two = Story(engine, name="second")
    two.many(10, converted=4)
    with engine.begin() as conn:
        set_settings(conn, two.campaign_id, {"conversion": {"kind": "data"}}, actor="ana")
    er.refresh(engine, one.campaign_id, now=LATER)
    er.refresh(engine, two.campaign_id, now=LATER)
    with engine.connect() as conn:
        found = rp.compare(conn, [two.campaign_id, one.campaign_id, 999])
    assert [(c["campaign_id"], c["conversion_kind"]) for c in found["campaigns"]] == [
        (two.campaign_id, "data"), (one.campaign_id, "recharge")]
    assert found["campaigns"][1]["conversion_rate"] == 0.2
    assert not found["comparable"] and "different conversions" in found["note"]


def test_only_analysts_and_admins_read_effectiveness_reports():
    assert {role for role in ROLES if may_read_analytics(role)} == {"admin", "analyst"}
