"""POST and GET /api/v1/loyalty/members over real HTTP: the operator's systems enrol a subscriber by
number ("api" the way they came; 201 now, 200 when already a member; audited once) and read a
member's status, level and balance; a caller bound to a branch reaches only that branch's
subscribers; the roles that may not are refused, and bad input is named."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from engage.engine.loyalty import programmes
from engage.engine.store.schema import AuditEntry, LoyaltyMember, Subscriber
from tests.branch_people import token_for
from tests.fixtures.web import serving
from tests.test_audience_api import _call

NORTH, SOUTH = "+998901000001", "+998901000002"


@pytest.fixture
def api(engine, quick_hashes):  # noqa: ANN001, ANN201
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [{"msisdn": NORTH, "branch": "north", "attributes": {}},
                                                    {"msisdn": SOUTH, "branch": "south", "attributes": {}}])
        programmes.create(conn, "club", "Club")
    with serving(engine) as base:
        yield engine, base


def test_a_subscriber_is_enrolled_by_api_and_read_back(api) -> None:  # noqa: ANN001
    engine, base = api
    token = token_for(engine, "marketer")
    status, body = _call(base, "/api/v1/loyalty/members", {"programme": "club", "msisdn": "90 100 00 01"}, token)
    assert status == 201, body
    assert (body["msisdn"], body["status"], body["enrolled_via"], body["available"], body["enrolled_now"]) == (
        NORTH, "active", "api", 0, True)
    status, read = _call(base, f"/api/v1/loyalty/members?programme=club&msisdn={NORTH.replace('+', '%2B')}",
                         token=token)
    assert (status, read["status"], read["available"]) == (200, "active", 0)


def test_enrolling_again_changes_nothing_and_is_audited_once(api) -> None:  # noqa: ANN001
    engine, base = api
    token = token_for(engine, "support")
    _call(base, "/api/v1/loyalty/members", {"programme": "club", "msisdn": NORTH}, token)
    status, body = _call(base, "/api/v1/loyalty/members", {"programme": "club", "msisdn": NORTH}, token)
    assert (status, body["enrolled_now"]) == (200, False)
    with engine.connect() as conn:
        assert conn.execute(select(LoyaltyMember.id)).scalars().all() != []
        assert len(conn.execute(select(AuditEntry.id).where(AuditEntry.action == "loyalty.enrol")).all()) == 1


def test_a_caller_of_a_branch_cannot_enrol_or_read_another_branchs_subscriber(api) -> None:  # noqa: ANN001
    engine, base = api
    token = token_for(engine, "marketer", "north")
    assert _call(base, "/api/v1/loyalty/members", {"programme": "club", "msisdn": SOUTH}, token)[0] == 404
    assert _call(base, "/api/v1/loyalty/members", {"programme": "club", "msisdn": NORTH}, token)[0] == 201


def test_an_analyst_reads_but_may_not_enrol(api) -> None:  # noqa: ANN001
    engine, base = api
    assert _call(base, "/api/v1/loyalty/members", {"programme": "club", "msisdn": NORTH},
                 token_for(engine, "analyst"))[0] == 403


@pytest.mark.parametrize(("body", "status", "said"), [
    ({"programme": "club", "msisdn": "hello"}, 400, "msisdn:"),
    ({"programme": "Club Two", "msisdn": NORTH}, 400, "programme:"),
    ({"programme": "nope", "msisdn": NORTH}, 404, "programme:"),
    ({"programme": "club", "msisdn": "+998909999999"}, 404, "msisdn:"),
])
def test_bad_input_is_named(api, body, status, said) -> None:  # noqa: ANN001
    engine, base = api
    got, answer = _call(base, "/api/v1/loyalty/members", body, token_for(engine, "admin"))
    assert got == status and answer["error"].startswith(said)


def test_reading_a_number_that_is_no_member_is_not_found(api) -> None:  # noqa: ANN001
    engine, base = api
    status, body = _call(base, f"/api/v1/loyalty/members?programme=club&msisdn={NORTH.replace('+', '%2B')}",
                         token=token_for(engine, "analyst"))
    assert status == 404 and "not a member" in body["error"]
