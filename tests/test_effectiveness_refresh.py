"""A campaign's outcome figures computed into campaign_results (engine.analytics.effectiveness.refresh):
counted as a person would count them by hand, each window to its boundary, on both databases."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select, text, update

from engage.engine.analytics.effectiveness import refresh as er
from engage.engine.analytics.effectiveness import settings as es
from engage.engine.segments import store as segments_store
from engage.engine.store.schema import Campaign, CampaignResult, CampaignResultState
from tests.effectiveness_data import LATER, START, Story, born

MINUTE = timedelta(minutes=1)


def rows(engine, campaign_id: int, dimension: str = "") -> dict[tuple[str, str, bool], dict]:
    """(group, arm, control) -> figures, of one dimension, over the campaign's runs."""
    with engine.connect() as conn:
        found = conn.execute(select(CampaignResult.__table__).where(
            CampaignResult.campaign_id == campaign_id, CampaignResult.dimension == dimension)).all()
    return {(r.grp, r.arm, bool(r.control)): {"recipients": r.recipients, "delivered": r.delivered,
                                              "responded": r.responded, "converted": r.converted,
                                              "cost": Decimal(str(r.cost)), "currency": r.currency,
                                              "seconds": r.seconds} for r in found}


def everyone(engine, campaign_id: int, control: bool = False, arm: str = "A") -> dict:
    return rows(engine, campaign_id)[("", arm, control)]


def test_per_group_figures_match_a_hand_count(engine):
    story = Story(engine)
    north = [story.recipient(region="North", contract_type="prepaid", birth_date=born(30)) for _ in range(3)]
    south = [story.recipient(region="South", contract_type="postpaid", birth_date=born(70)) for _ in range(2)]
    undelivered = story.recipient(status="undelivered", region="South", birth_date=born(30))
    held_out = [story.recipient(status="control", region="North", birth_date=born(30)) for _ in range(2)]
    story.recipient(status="control", birth_date=None)
    for sid, _, delivered in (north[0], north[1], south[0]):
        story.usage(sid, delivered + timedelta(hours=5))
    story.mo(north[2][1], north[2][2] + timedelta(hours=1))
    story.usage(held_out[0][0], START + timedelta(days=1))
    story.usage(undelivered[0], START + timedelta(days=2))
    er.refresh(engine, story.campaign_id, now=LATER)

    region = rows(engine, story.campaign_id, "region")
    assert {k: (v["recipients"], v["delivered"], v["responded"], v["converted"]) for k, v in region.items()} == {
        ("North", "A", False): (3, 3, 1, 2),
        ("South", "A", False): (3, 2, 0, 2),
        ("North", "A", True): (2, 0, 0, 1),
        ("", "A", True): (1, 0, 0, 0),
    }
    ages = rows(engine, story.campaign_id, "age_band")
    assert {k: v["recipients"] for k, v in ages.items()} == {
        ("25-34", "A", False): 4, ("65+", "A", False): 2, ("25-34", "A", True): 2, ("", "A", True): 1}
    contract = rows(engine, story.campaign_id, "contract_type")
    assert contract[("prepaid", "A", False)]["converted"] == 2
    assert contract[("", "A", False)]["recipients"] == 1  # the undelivered one's contract is unknown
    assert everyone(engine, story.campaign_id)["recipients"] == 6
    assert everyone(engine, story.campaign_id, control=True)["recipients"] == 3


def test_a_conversion_a_minute_after_its_window_is_not_counted(engine):
    story = Story(engine)
    inside = story.recipient()
    after = story.recipient()
    before = story.recipient()
    other_kind = story.recipient()
    story.usage(inside[0], inside[2] + timedelta(days=7) - MINUTE)
    story.usage(after[0], after[2] + timedelta(days=7) + MINUTE)
    story.usage(before[0], before[2] - MINUTE)
    story.usage(other_kind[0], other_kind[2] + timedelta(hours=1), kind="data")
    er.refresh(engine, story.campaign_id, now=LATER)
    assert everyone(engine, story.campaign_id)["converted"] == 1


def test_the_conversion_window_is_the_campaign_s_own(engine):
    story = Story(engine)
    sid, _, delivered = story.recipient()
    story.usage(sid, delivered + timedelta(days=2, hours=1), kind="data")
    with engine.begin() as conn:
        es.set_settings(conn, story.campaign_id, {"conversion": {"kind": "data", "days": 2}}, actor="ana")
    er.refresh(engine, story.campaign_id, now=LATER)
    assert everyone(engine, story.campaign_id)["converted"] == 0
    with engine.begin() as conn:
        es.set_settings(conn, story.campaign_id, {"conversion": {"kind": "data", "days": 3}}, actor="ana")
    er.refresh(engine, story.campaign_id, now=LATER)
    assert everyone(engine, story.campaign_id)["converted"] == 1


def test_a_response_a_minute_after_its_window_is_not_counted(engine):
    story = Story(engine)
    replied = story.recipient()
    late = story.recipient()
    early = story.recipient()
    story.mo(replied[1], replied[2] + timedelta(hours=72) - MINUTE)
    story.mo(late[1], late[2] + timedelta(hours=72) + MINUTE)
    story.mo(early[1], early[2] - MINUTE)
    er.refresh(engine, story.campaign_id, now=LATER)
    assert everyone(engine, story.campaign_id)["responded"] == 1


def test_a_reply_without_the_plus_a_ussd_session_and_a_repeated_mo_are_each_one_response(engine):
    story = Story(engine)
    texted = story.recipient()
    dialled = story.recipient()
    twice = story.recipient()
    story.mo(texted[1].lstrip("+"), texted[2] + timedelta(hours=1))
    story.ussd(dialled[1], dialled[2] + timedelta(hours=2))
    first = story.mo(twice[1], twice[2] + timedelta(hours=1))
    story.mo(twice[1], twice[2] + timedelta(hours=1, seconds=30), duplicate_of=first)
    story.ussd(twice[1], twice[2] + timedelta(hours=3))
    er.refresh(engine, story.campaign_id, now=LATER)
    assert everyone(engine, story.campaign_id)["responded"] == 3


def test_the_control_group_is_counted_from_the_run_s_start(engine):
    story = Story(engine)
    converts = story.recipient(status="control")
    too_late = story.recipient(status="control")
    answers = story.recipient(status="control")
    story.usage(converts[0], START + MINUTE)
    story.usage(too_late[0], START + timedelta(days=7) + MINUTE)
    story.mo(answers[1], START + timedelta(hours=72) - MINUTE)
    er.refresh(engine, story.campaign_id, now=LATER)
    control = everyone(engine, story.campaign_id, control=True)
    assert (control["recipients"], control["delivered"], control["responded"], control["converted"]) == (3, 0, 1, 1)


def test_an_undelivered_recipient_is_counted_from_the_run_s_start(engine):
    story = Story(engine)
    sid, _, _ = story.recipient(status="undelivered")
    story.usage(sid, START + timedelta(days=7) - MINUTE)
    er.refresh(engine, story.campaign_id, now=LATER)
    treated = everyone(engine, story.campaign_id)
    assert (treated["recipients"], treated["delivered"], treated["converted"]) == (1, 0, 1)


def test_the_curve_counts_conversions_by_day_since_delivery_cumulatively(engine):
    story = Story(engine)
    for days in (0, 0, 2, 6):
        sid, _, delivered = story.recipient()
        story.usage(sid, delivered + timedelta(days=days, hours=1))
    story.recipient()
    er.refresh(engine, story.campaign_id, now=LATER)
    curve = rows(engine, story.campaign_id, "day")
    assert [curve[(str(d), "A", False)]["converted"] for d in range(7)] == [2, 2, 3, 3, 3, 3, 4]
    assert curve[("0", "A", False)]["recipients"] == 5


def test_cost_and_time_to_deliver_are_summed_over_what_a_provider_took(engine):
    story = Story(engine)
    story.recipient(price="0.05", delivered_after=timedelta(seconds=50))
    story.recipient(price="0.07", delivered_after=timedelta(seconds=80))
    story.recipient(status="undelivered", price="0.05")
    story.recipient(status="failed", price="0.05")  # never taken: costs nothing
    story.recipient(status="control")
    er.refresh(engine, story.campaign_id, now=LATER)
    treated = everyone(engine, story.campaign_id)
    assert (treated["cost"], treated["currency"]) == (Decimal("0.17"), "USD")
    assert round(treated["seconds"]) == 30 + 60  # submitted 20 s after the start
    assert everyone(engine, story.campaign_id, control=True)["cost"] == 0


def test_a_second_currency_is_counted_on_its_own(engine):
    story = Story(engine)
    story.recipient(price="0.05", currency="USD")
    story.recipient(price="0.06", currency="USD")
    story.recipient(price="600", currency="UZS")
    er.refresh(engine, story.campaign_id, now=LATER)
    assert everyone(engine, story.campaign_id)["cost"] == Decimal("0.11")
    by_currency = rows(engine, story.campaign_id, "currency")
    assert by_currency[("UZS", "A", False)]["cost"] == Decimal("600")
    assert by_currency[("USD", "A", False)]["recipients"] == 2


def test_refreshing_twice_gives_the_same_rows(engine):
    story = Story(engine)
    sid, msisdn, delivered = story.recipient(region="North")
    story.usage(sid, delivered + timedelta(hours=1))
    story.mo(msisdn, delivered + timedelta(hours=1))
    story.recipient(status="control", region="South")

    def everything():
        with engine.connect() as conn:
            return sorted(tuple(r) for r in conn.execute(select(CampaignResult.__table__).where(
                CampaignResult.campaign_id == story.campaign_id)).all())

    er.refresh(engine, story.campaign_id, now=LATER)
    first = everything()
    er.refresh(engine, story.campaign_id, now=LATER)
    assert everything() == first
    assert len(first) > 10


def test_refresh_due_computes_a_campaign_once_its_windows_have_closed_and_not_again(engine):
    story = Story(engine)
    story.recipient()
    assert er.refresh_due(engine, LATER)["refreshed"] == [story.campaign_id]
    assert er.refresh_due(engine, LATER + timedelta(hours=1))["refreshed"] == []


def test_refresh_due_recomputes_an_open_campaign_only_after_its_interval(engine):
    story = Story(engine)
    sid, _, delivered = story.recipient()
    during = START + timedelta(days=1)
    assert er.refresh_due(engine, during)["refreshed"] == [story.campaign_id]
    assert er.refresh_due(engine, during + MINUTE)["refreshed"] == []
    assert er.refresh_due(engine, during + er.MIN_INTERVAL)["refreshed"] == [story.campaign_id]
    closes = delivered + timedelta(days=7)
    assert er.refresh_due(engine, closes + MINUTE)["refreshed"] == [story.campaign_id]  # the last, final count
    assert er.refresh_due(engine, closes + timedelta(days=1))["refreshed"] == []


def test_refresh_due_recomputes_a_campaign_whose_settings_changed(engine):
    story = Story(engine)
    story.recipient()
    er.refresh_due(engine, LATER)
    with engine.begin() as conn:
        es.set_settings(conn, story.campaign_id, {"response_hours": 24}, actor="ana")
    assert er.refresh_due(engine, LATER + MINUTE)["refreshed"] == [story.campaign_id]
    with engine.connect() as conn:
        judged = conn.execute(select(CampaignResultState.settings)).scalar_one()
    assert judged["response_hours"] == 24


def test_refresh_due_leaves_drafts_and_stops_at_its_budget(engine):
    story = Story(engine)
    story.recipient()
    with engine.begin() as conn:
        conn.execute(update(Campaign.__table__).where(Campaign.id == story.campaign_id).values(launched_at=None))
    assert er.refresh_due(engine, LATER)["refreshed"] == []
    with engine.begin() as conn:
        conn.execute(update(Campaign.__table__).where(Campaign.id == story.campaign_id).values(launched_at=START))
    assert er.refresh_due(engine, LATER, budget=0)["waiting"] == [story.campaign_id]


def test_messages_still_on_their_way_keep_the_windows_open(engine):
    story = Story(engine)
    story.recipient(status="submitted")
    out = er.refresh(engine, story.campaign_id, now=LATER)
    assert out["closes_at"] is None
    assert er.refresh_due(engine, LATER + er.MIN_INTERVAL)["refreshed"] == [story.campaign_id]


def test_the_events_worker_refreshes_effectiveness_among_its_periodic_jobs(engine):
    from engage.engine.analytics import periodic

    story = Story(engine)
    story.many(10, converted=2)
    done = periodic.run_due(engine, LATER)
    assert story.campaign_id in done["effectiveness"]["refreshed"]
    with engine.connect() as conn:
        assert conn.execute(select(CampaignResult.recipients).where(
            CampaignResult.campaign_id == story.campaign_id, CampaignResult.dimension == "")).first() is not None


def test_an_answer_and_a_recharge_in_the_second_of_delivery_count_however_the_moment_was_written(engine):
    """A server default writes a moment without its fraction on SQLite ("10:01:00"): the same second
    as a delivery written with one ("10:01:00.000000") is not before it."""
    story = Story(engine)
    _, msisdn, delivered = story.recipient()
    second = delivered.strftime("%Y-%m-%d %H:%M:%S")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO inbound_messages (provider_id, source, destination, text, handled, "
                          "received_at) VALUES (1, :source, '1234', 'YES', true, :at)"),
                     {"source": msisdn, "at": second})
        conn.execute(text("INSERT INTO usage_events (subscriber_id, kind, at, amount) "
                          "SELECT subscriber_id, 'recharge', :at, 5 FROM messages WHERE msisdn = :msisdn"),
                     {"msisdn": msisdn, "at": second})
    er.refresh(engine, story.campaign_id, now=LATER)
    found = everyone(engine, story.campaign_id)
    assert (found["responded"], found["converted"]) == (1, 1)


def test_a_saved_segment_is_a_customer_group_its_members_against_the_rest(engine):
    story = Story(engine)
    with engine.begin() as conn:
        vip = segments_store.create(conn, "Tashkent VIP", {"field": "city", "value": "Tashkent"}, actor="t")
    for city, converts in (("Tashkent", True), ("Tashkent", True), ("Tashkent", False), ("Bukhara", False)):
        sid, _, delivered = story.recipient(city=city)
        if converts:
            story.usage(sid, delivered + timedelta(hours=1))
    with engine.begin() as conn:
        es.set_settings(conn, story.campaign_id, {"groups": [{"segment": vip}]}, actor="analyst")
    er.refresh(engine, story.campaign_id, now=LATER)
    found = rows(engine, story.campaign_id, f"segment:{vip}")
    assert {g: (f["recipients"], f["converted"]) for (g, _, control), f in found.items() if not control} == {
        "in": (3, 2), "out": (1, 0)}
    with engine.connect() as conn:
        stored = conn.execute(select(Campaign.analytics).where(Campaign.id == story.campaign_id)).scalar()
    assert stored["groups"] == [{"segment": vip, "name": "Tashkent VIP"}]
