"""/api/v1/segments/N over real HTTP: a saved segment is read, changed (audited), duplicated and
deleted within the caller's branch; what others rely on is refused with a 409 that says why."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.engine import campaigns
from engage.engine.campaigns import lifecycle
from engage.engine.store.schema import AuditEntry, Segment
from engage.engine.templates import store as templates
from tests.audience_people import add_people
from tests.fixtures.web import serving, signed_in
from tests.test_audience_api import _call

TASHKENT = {"field": "city", "op": "eq", "value": "Tashkent"}
UZBEK = {"field": "language", "op": "eq", "value": "uz"}


@pytest.fixture
def api(engine):
    add_people(engine)  # 5 people: 4 in Tashkent (2 north, 1 south, 1 no branch), 3 of them speak uz
    with serving(engine, tokens="hq-token,north-token@north") as base:
        yield engine, base


def saved(base, name="Tashkent", definition=TASHKENT, token="hq-token"):
    status, body = _call(base, "/api/v1/segments", {"name": name, "definition": definition}, token=token)
    assert status == 201, body
    return body["segment_id"]


def campaign_on(engine, segment_id, *, submit=False):
    with engine.begin() as conn:
        template_id = templates.create(conn, f"t{segment_id}", {"en": "Hi"}, default_language="en", actor="m")
        campaign_id = campaigns.create(conn, name="offer", segment_id=segment_id, template_id=template_id,
                                       sender_id="Shop", actor="m")
    if submit:
        lifecycle.perform(engine, campaign_id, "submit", actor="m", role="marketer")
    return campaign_id


def test_a_segment_is_read_with_the_campaigns_that_use_it(api):
    engine, base = api
    segment_id = saved(base)
    campaign_id = campaign_on(engine, segment_id)
    status, body = _call(base, f"/api/v1/segments/{segment_id}")
    assert status == 200
    assert (body["name"], body["definition"], body["editable"]) == ("Tashkent", TASHKENT, True)
    assert body["used_by"] == [{"id": campaign_id, "name": "offer", "status": "draft"}]


def test_a_segment_that_does_not_exist_is_a_404(api):
    _, base = api
    assert _call(base, "/api/v1/segments/999")[0] == 404


def test_changing_a_segment_answers_with_its_new_count(api):
    _, base = api
    segment_id = saved(base)
    status, body = _call(base, f"/api/v1/segments/{segment_id}", {"definition": {"and": [TASHKENT, UZBEK]}},
                         method="PUT")
    assert status == 200 and body["reachable"] == 3
    assert _call(base, f"/api/v1/segments/{segment_id}")[1]["definition"] == {"and": [TASHKENT, UZBEK]}


def test_a_change_is_audited_with_the_definition_before_and_after(api):
    engine, base = api
    segment_id = saved(base)
    _call(base, f"/api/v1/segments/{segment_id}", {"name": "Uzbek", "definition": UZBEK}, method="PUT")
    with engine.connect() as conn:
        entry = conn.execute(select(AuditEntry.actor, AuditEntry.details).where(
            AuditEntry.action == "segment.update", AuditEntry.object_id == str(segment_id))).one()
    assert entry.actor == "api"
    assert entry.details["changes"] == {"name": {"before": "Tashkent", "after": "Uzbek"},
                                        "definition": {"before": TASHKENT, "after": UZBEK}}


def test_a_bad_criterion_in_a_change_is_a_400_naming_where_it_is(api):
    _, base = api
    segment_id = saved(base)
    status, body = _call(base, f"/api/v1/segments/{segment_id}", {"definition": {"or": [UZBEK, {"field": "cty"}]}},
                         method="PUT")
    assert status == 400 and body["path"] == "segment.or[1]"


def test_a_segment_cannot_be_changed_to_include_itself(api):
    _, base = api
    segment_id = saved(base)
    status, body = _call(base, f"/api/v1/segments/{segment_id}",
                         {"definition": {"kind": "in_segment", "segment_id": segment_id}}, method="PUT")
    assert status == 400 and "segment cycle" in body["error"]


def test_a_segment_whose_campaign_was_submitted_cannot_be_changed(api):
    engine, base = api
    segment_id = saved(base)
    campaign_id = campaign_on(engine, segment_id, submit=True)
    status, body = _call(base, f"/api/v1/segments/{segment_id}", {"definition": UZBEK}, method="PUT")
    assert status == 409
    assert f"campaign {campaign_id}" in body["error"] and "duplicate the segment" in body["error"]


def test_a_segment_used_by_an_unfinished_campaign_cannot_be_deleted(api):
    engine, base = api
    segment_id = saved(base)
    campaign_id = campaign_on(engine, segment_id)
    status, body = _call(base, f"/api/v1/segments/{segment_id}", method="DELETE")
    assert status == 409
    assert body["error"] == (f"segment {segment_id} is used by campaign {campaign_id} 'offer' (draft): "
                             "cancel or finish that campaign first")


def test_a_segment_another_segment_includes_cannot_be_deleted(api):
    _, base = api
    inner = saved(base)
    outer = saved(base, "Tashkent uz", {"and": [{"kind": "in_segment", "segment_id": inner}, UZBEK]})
    status, body = _call(base, f"/api/v1/segments/{inner}", method="DELETE")
    assert status == 409 and f"included by segment {outer}" in body["error"]


def test_an_unused_segment_is_deleted_and_the_deletion_audited(api):
    engine, base = api
    segment_id = saved(base)
    assert _call(base, f"/api/v1/segments/{segment_id}", method="DELETE") == (
        200, {"segment_id": segment_id, "deleted": True})
    with engine.connect() as conn:
        assert conn.execute(select(Segment.id).where(Segment.id == segment_id)).first() is None
        details = conn.execute(select(AuditEntry.details).where(AuditEntry.action == "segment.delete")).scalar_one()
    assert details["definition"] == TASHKENT


def test_duplicating_makes_a_copy_named_copy_and_then_copy_2(api):
    _, base = api
    segment_id = saved(base)
    status, first = _call(base, f"/api/v1/segments/{segment_id}/duplicate", {})
    assert status == 201 and (first["name"], first["definition"]) == ("Tashkent (copy)", TASHKENT)
    assert _call(base, f"/api/v1/segments/{segment_id}/duplicate", {})[1]["name"] == "Tashkent (copy 2)"


def test_a_branch_token_gets_a_404_for_another_branchs_segment(api):
    _, base = api
    south = saved(base, "south", TASHKENT)
    with api[0].begin() as conn:
        conn.execute(Segment.__table__.update().where(Segment.id == south).values(branch="south"))
    assert _call(base, f"/api/v1/segments/{south}", token="north-token")[0] == 404
    assert _call(base, f"/api/v1/segments/{south}", {"definition": UZBEK}, token="north-token", method="PUT")[0] == 404
    assert _call(base, f"/api/v1/segments/{south}", token="north-token", method="DELETE")[0] == 404


def test_a_branch_token_may_not_change_a_shared_segment(api):
    _, base = api
    shared = saved(base)
    status, body = _call(base, f"/api/v1/segments/{shared}", {"definition": UZBEK}, token="north-token", method="PUT")
    assert status == 403 and "may duplicate it" in body["error"]


def test_a_branch_tokens_copy_of_a_shared_segment_is_its_branchs_own(api):
    _, base = api
    shared = saved(base)
    status, copy = _call(base, f"/api/v1/segments/{shared}/duplicate", {}, token="north-token")
    assert status == 201 and copy["branch"] == "north" and copy["editable"] is True
    status, body = _call(base, f"/api/v1/segments/{copy['segment_id']}", {"definition": UZBEK},
                         token="north-token", method="PUT")
    assert status == 200 and body["reachable"] == 1  # Aziz: the north's only uz speaker


def test_an_analyst_may_read_a_segment_but_not_change_it(api, quick_hashes):
    engine, base = api
    segment_id = saved(base)
    analyst = signed_in(engine, base, "analyst")
    assert analyst.get(f"/api/v1/segments/{segment_id}").status == 200
    reply = analyst.request("PUT", f"/api/v1/segments/{segment_id}", b'{"definition": {"kind": "all"}}',
                            {"X-XSRFToken": analyst.cookie("_xsrf") or analyst.xsrf()})
    assert reply.status == 403
