"""A programme's incidents: a redemption whose fulfilment has not answered in five minutes, and one
released because fulfilment failed, each with why, on the engine and on the page; a branch's reader
sees its own members' only, and numbers are whole only for the roles that may see them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from engage.engine.loyalty import incidents, ledger, members, programmes, redeeming, rewards
from engage.engine.loyalty.ledger import Credit
from engage.engine.store.schema import LoyaltyMember, Subscriber
from tests.fixtures.web import serving, signed_in
from tests.test_loyalty_rewards import Provisioning

NUMBERS = {"+998900000001": "north", "+998900000002": "south"}


@pytest.fixture
def club(engine):  # noqa: ANN001, ANN201
    """A programme with a member in each branch, 1,000 points each."""
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [{"msisdn": n, "branch": b, "attributes": {}}
                                                     for n, b in NUMBERS.items()])
        club = programmes.create(conn, "club", "Club")
        members.enrol(conn, club.id, list(conn.execute(select(Subscriber.id)).scalars()), "api")
        ids = dict(conn.execute(select(Subscriber.msisdn, LoyaltyMember.id).join(
            LoyaltyMember, LoyaltyMember.subscriber_id == Subscriber.id)).all())
        ledger.credit(conn, [Credit(m, 1000, datetime.now(UTC), "rule", "usage", n) for n, m in ids.items()])
    return club, ids


@pytest.fixture
def provisioning():  # noqa: ANN201
    p = Provisioning()
    yield p
    p.server.shutdown()


def data_reward(engine, club, url: str) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        rewards.add(conn, club.id, {"code": "data", "names": {"en": "1 GB"}, "points": 500, "fulfilment": "http",
                                    "config": {"url": url}})


def redeem(engine, club, ids, number: str) -> redeeming.Redemption:  # noqa: ANN001
    return redeeming.redeem(engine, club.id, ids[number], "data", source="ussd", idem_key=number)


def test_a_refused_fulfilment_is_listed_as_failed_with_why(engine, club, provisioning) -> None:  # noqa: ANN001
    programme, ids = club
    provisioning.status = 409
    data_reward(engine, programme, provisioning.url)
    redeem(engine, programme, ids, "+998900000001")
    with engine.connect() as conn:
        found = incidents.listed(conn, programme.id, show_numbers=True)
    assert found["waiting"] == []
    (failed,) = found["failed"]
    assert (failed["msisdn"], failed["points"], failed["why"]) == (
        "+998900000001", 500, "the provisioning system refused it (HTTP 409)")


def test_an_unanswered_fulfilment_is_waiting_only_after_five_minutes(engine, club, provisioning) -> None:  # noqa: ANN001
    programme, ids = club
    provisioning.status = 503
    data_reward(engine, programme, provisioning.url)
    redeem(engine, programme, ids, "+998900000001")
    with engine.connect() as conn:
        now = incidents.listed(conn, programme.id)
        later = incidents.listed(conn, programme.id, now=datetime.now(UTC) + timedelta(minutes=6))
    assert now["waiting"] == []
    (waiting,) = later["waiting"]
    assert (waiting["attempts"], waiting["why"]) == (1, "HTTP 503")


def test_a_confirmed_redemption_is_no_incident(engine, club, provisioning) -> None:  # noqa: ANN001
    programme, ids = club
    data_reward(engine, programme, provisioning.url)
    redeem(engine, programme, ids, "+998900000001")
    with engine.connect() as conn:
        assert incidents.listed(conn, programme.id, now=datetime.now(UTC) + timedelta(hours=1)) == {
            "waiting": [], "failed": []}


def test_a_branch_reader_sees_its_own_members_incidents_masked(engine, club, provisioning) -> None:  # noqa: ANN001
    programme, ids = club
    provisioning.status = 409
    data_reward(engine, programme, provisioning.url)
    for number in NUMBERS:
        redeem(engine, programme, ids, number)
    with engine.connect() as conn:
        found = incidents.listed(conn, programme.id, branch="south")
    assert [i["msisdn"] for i in found["failed"]] == ["+99890*****02"]


@pytest.mark.parametrize(("role", "shown"), [("support", "+998900000001"), ("marketer", "+99890*****01")])
def test_the_page_lists_a_failed_redemption_with_the_number_as_the_role_may_see_it(
        engine, club, provisioning, quick_hashes, role, shown) -> None:  # noqa: ANN001
    programme, ids = club
    provisioning.status = 409
    data_reward(engine, programme, provisioning.url)
    redeem(engine, programme, ids, "+998900000001")
    with serving(engine) as base:
        page = signed_in(engine, base, role).get("/loyalty/club/incidents")
    assert page.status == 200
    assert shown in page.body and "the provisioning system refused it (HTTP 409)" in page.body
    assert "None: no redemption has waited more than 5 minutes" in page.body


def test_the_page_is_not_for_an_approver(engine, club, quick_hashes) -> None:  # noqa: ANN001
    with serving(engine) as base:
        assert signed_in(engine, base, "approver").get("/loyalty/club/incidents").status == 403
