"""POST /api/v1/subscribers by a caller bound to a branch writes only that branch's people, as the
file import does: a record whose number is already a subscriber outside the branch (another
branch's, or one of no branch) is refused by its index and reason, that subscriber is left as it
was, and the batch's other records are stored."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from engage.engine.store.schema import Subscriber
from tests.branch_people import token_for
from tests.fixtures.web import serving
from tests.test_audience_api import _call

SOUTHERN, UNBRANCHED, NEW = "+998901000001", "+998901000002", "+998901000003"
TAKEN = "msisdn: the number is a subscriber of another branch"


@pytest.fixture
def partner(engine):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [
            {"msisdn": SOUTHERN, "first_name": "Dilnoza", "branch": "south", "attributes": {}},
            {"msisdn": UNBRANCHED, "first_name": "Aziz", "branch": None, "attributes": {}}])
    with serving(engine) as base:
        yield engine, base, token_for(engine, "partner", "north")


def _people(engine) -> dict[str, tuple[str | None, str | None]]:
    with engine.connect() as conn:
        return {r.msisdn: (r.branch, r.first_name) for r in conn.execute(
            select(Subscriber.msisdn, Subscriber.branch, Subscriber.first_name))}


def test_another_branchs_subscriber_is_refused_by_index_and_left_as_it_was(partner):
    engine, base, token = partner
    status, body = _call(base, "/api/v1/subscribers", {"subscribers": [
        {"msisdn": NEW, "first_name": "New"}, {"msisdn": SOUTHERN, "first_name": "Taken"}]}, token=token)
    assert status == 200, body
    assert body == {"rows": 2, "imported": 1, "rejected": 1, "rejections": [{"index": 1, "reason": TAKEN}]}
    assert _people(engine)[SOUTHERN] == ("south", "Dilnoza")
    assert _people(engine)[NEW] == ("north", "New")


def test_a_subscriber_of_no_branch_is_not_taken_over_by_a_branch(partner):
    engine, base, token = partner
    status, body = _call(base, "/api/v1/subscribers", {"subscribers": [{"msisdn": UNBRANCHED, "first_name": "X"}]},
                         token=token)
    assert (status, body["rejections"]) == (200, [{"index": 0, "reason": TAKEN}])
    assert _people(engine)[UNBRANCHED] == (None, "Aziz")


def test_a_number_given_twice_is_refused_at_both_indexes(partner):
    engine, base, token = partner
    _, body = _call(base, "/api/v1/subscribers", {"subscribers": [
        {"msisdn": SOUTHERN, "first_name": "A"}, {"msisdn": NEW}, {"msisdn": SOUTHERN, "first_name": "B"}]},
        token=token)
    assert body["rejections"] == [{"index": 0, "reason": TAKEN}, {"index": 2, "reason": TAKEN}]
    assert body["imported"] == 1


def test_the_branchs_own_subscriber_is_updated(partner):
    engine, base, token = partner
    _call(base, "/api/v1/subscribers", {"subscribers": [{"msisdn": NEW, "first_name": "One"}]}, token=token)
    _, body = _call(base, "/api/v1/subscribers", {"subscribers": [{"msisdn": NEW, "first_name": "Two"}]}, token=token)
    assert body["rejections"] == []
    assert _people(engine)[NEW] == ("north", "Two")


def test_a_caller_of_no_branch_writes_any_subscriber(engine):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [
            {"msisdn": SOUTHERN, "first_name": "Dilnoza", "branch": "south", "attributes": {}}])
    with serving(engine) as base:
        _, body = _call(base, "/api/v1/subscribers", {"subscribers": [{"msisdn": SOUTHERN, "first_name": "D."}]},
                        token=token_for(engine, "admin"))
    assert body["rejections"] == []
    assert _people(engine)[SOUTHERN] == ("south", "D.")


def _write_as_north(engine, *, within_branch: bool) -> None:
    """What a north import writes once its ownership check has passed: a number that another branch
    took in between reaches the writer all the same."""
    from engage.engine.subscribers.rows import RowParser
    from engage.engine.subscribers.storage import open_writer

    parser = RowParser(["msisdn", "first_name", "branch"], "UZ")
    row = parser.parse([SOUTHERN, "Taken", "north"])
    with open_writer(engine, parser.columns, within_branch=within_branch) as writer:
        writer.write([row])


def test_a_branchs_write_leaves_a_number_another_branch_took_after_the_check_alone(engine):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [
            {"msisdn": SOUTHERN, "first_name": "Dilnoza", "branch": "south", "attributes": {}}])
    _write_as_north(engine, within_branch=True)
    assert _people(engine) == {SOUTHERN: ("south", "Dilnoza")}


def test_a_write_for_no_branch_still_moves_a_subscriber_between_branches(engine):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [
            {"msisdn": SOUTHERN, "first_name": "Dilnoza", "branch": "south", "attributes": {}}])
    _write_as_north(engine, within_branch=False)
    assert _people(engine) == {SOUTHERN: ("north", "Taken")}
