"""in_segment within a scope: a segment includes only segments its branch sees (its own branch's and
the shared ones), checked when it is saved and whenever it is compiled; an inclusion across branches
saved before that rule blocks no one blindly: the owner is told it is another branch's segment,
without its id or name, and an administrator is told which."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from engage.engine.segments import audience, store
from engage.engine.segments.criteria import SegmentError
from engage.engine.store.schema import Segment
from engage.engine.users.scope import Scope
from tests.audience_people import add_people
from tests.fixtures.web import serving
from tests.test_audience_api import _call

TASHKENT = {"field": "city", "op": "eq", "value": "Tashkent"}


def including(segment_id: int) -> dict:
    return {"and": [{"kind": "in_segment", "segment_id": segment_id}, TASHKENT]}


@pytest.fixture
def south(engine):
    """Segment 101 of branch south, and segment 102 of branch north that includes it, saved before the rule."""
    add_people(engine)
    with engine.begin() as conn:
        conn.execute(insert(Segment.__table__), [
            {"id": 101, "name": "south people", "definition": TASHKENT, "branch": "south"},
            {"id": 102, "name": "north secret", "definition": including(101), "branch": "north"}])
    return engine


def test_a_branch_user_cannot_save_a_segment_including_another_branchs(south):
    with south.begin() as conn, pytest.raises(SegmentError, match="segment 101 does not exist") as refused:
        store.create(conn, "mine", including(101), actor="n", branch="north")
    assert refused.value.path == "segment.and[0]"


def test_a_branch_user_may_include_their_branchs_and_the_shared_segments(south):
    with south.begin() as conn:
        shared = store.create(conn, "shared", TASHKENT, actor="hq")
        own = store.create(conn, "own", TASHKENT, actor="n", branch="north")
        assert store.create(conn, "both", {"or": [including(shared), including(own)]}, actor="n", branch="north")


def test_an_administrator_cannot_make_a_branchs_segment_include_another_branchs(south):
    with south.begin() as conn:
        north = store.create(conn, "north own", TASHKENT, actor="n", branch="north")
    with south.begin() as conn, pytest.raises(SegmentError, match="segment 101 does not exist"):
        store.update(conn, north, actor="admin", branch=None, definition=including(101))


def test_counting_within_a_branch_does_not_read_another_branchs_segment(south):
    with south.connect() as conn, pytest.raises(SegmentError, match="segment 101 does not exist"):
        audience.count(conn, including(101), scope=Scope(branch="north"))


def test_a_saved_inclusion_across_branches_fails_when_compiled_for_its_branch(south):
    with south.connect() as conn, pytest.raises(SegmentError, match="segment 101 does not exist"):
        audience.count(conn, {"kind": "in_segment", "segment_id": 102}, scope=Scope(branch="north"))


def test_the_owner_of_a_segment_another_branch_includes_is_not_told_which_segment(south):
    with south.begin() as conn, pytest.raises(store.SegmentInUse) as refused:
        store.remove(conn, 101, actor="s", branch="south")
    message = str(refused.value)
    assert "included by a segment of another branch" in message and "administrator" in message
    assert "102" not in message and "north secret" not in message


def test_an_administrator_is_told_which_segment_includes_it(south):
    with south.begin() as conn, pytest.raises(store.SegmentInUse, match="included by segment 102"):
        store.remove(conn, 101, actor="admin", branch=None)


def test_the_api_refusal_to_delete_names_no_segment_of_another_branch(south):
    with serving(south, tokens="south-token@south") as base:
        status, body = _call(base, "/api/v1/segments/101", token="south-token", method="DELETE")
    assert status == 409
    assert "another branch" in body["error"] and "north secret" not in body["error"]
    assert "102" not in body["error"]
