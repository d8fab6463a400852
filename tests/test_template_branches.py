"""Templates are scoped by branch as segments are: a branch user sees and changes their branch's
templates, reads the shared ones (made by a user of no branch) without changing them, never sees
another branch's (404, as if it did not exist), and a campaign uses only templates its branch sees."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.engine.segments import store as segments
from engage.engine.store.schema import Template, TemplateVariant
from tests.branch_people import token_for
from tests.campaign_setup import EVERYONE
from tests.fixtures.web import serving
from tests.test_audience_api import _call


@pytest.fixture
def world(engine):
    """(engine, base, north marketer, south marketer, hq marketer) and the south campaign's template."""
    with serving(engine) as base:
        north, south = token_for(engine, "marketer", "north"), token_for(engine, "marketer", "south")
        hq = token_for(engine, "marketer")
        status, body = _call(base, "/api/v1/templates", {"name": "south offer", "variants": {"en": "Salom"}},
                             token=south)
        assert status == 201, body
        yield engine, base, north, south, hq, body["template_id"]


def _body(engine, template_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(select(TemplateVariant.body).where(TemplateVariant.template_id == template_id)).scalar()


def test_a_template_made_in_a_branch_belongs_to_that_branch(world):
    engine, _, _, _, _, template_id = world
    with engine.connect() as conn:
        assert conn.execute(select(Template.branch).where(Template.id == template_id)).scalar_one() == "south"


def test_another_branchs_template_is_not_found(world):
    _, base, north, _, _, template_id = world
    assert _call(base, f"/api/v1/templates/{template_id}", token=north) == (
        404, {"error": f"no template with id {template_id}"})


def test_another_branchs_template_cannot_be_rewritten(world):
    engine, base, north, _, _, template_id = world
    status, _ = _call(base, f"/api/v1/templates/{template_id}", {"variants": {"en": "Hacked"}}, token=north,
                      method="PUT")
    assert status == 404
    assert _body(engine, template_id) == "Salom"


def test_another_branchs_template_cannot_be_deleted(world):
    engine, base, north, _, _, template_id = world
    assert _call(base, f"/api/v1/templates/{template_id}", token=north, method="DELETE")[0] == 404
    assert _body(engine, template_id) == "Salom"


def test_the_list_holds_the_branchs_own_and_the_shared_templates(world):
    _, base, north, _, hq, _ = world
    shared = _call(base, "/api/v1/templates", {"name": "shared", "variants": {"en": "Hi"}}, token=hq)[1]["template_id"]
    own = _call(base, "/api/v1/templates", {"name": "north", "variants": {"en": "Hi"}}, token=north)[1]["template_id"]
    listed = _call(base, "/api/v1/templates", token=north)[1]["templates"]
    assert [(t["id"], t["branch"]) for t in listed] == [(shared, None), (own, "north")]


def test_a_shared_template_is_read_but_not_changed_by_a_branch(world):
    engine, base, north, _, hq, _ = world
    shared = _call(base, "/api/v1/templates", {"name": "shared", "variants": {"en": "Hi"}}, token=hq)[1]["template_id"]
    assert _call(base, f"/api/v1/templates/{shared}", token=north)[0] == 200
    status, body = _call(base, f"/api/v1/templates/{shared}", {"variants": {"en": "Yo"}}, token=north, method="PUT")
    assert status == 403 and "shared by every branch" in body["error"]
    assert _body(engine, shared) == "Hi"


def test_a_campaign_cannot_use_another_branchs_template(world):
    engine, base, north, _, _, template_id = world
    with engine.begin() as conn:
        segment_id = segments.create(conn, "north people", EVERYONE, actor="t", branch="north")
    status, body = _call(base, "/api/v1/campaigns", {"name": "c", "segment_id": segment_id,
                                                     "template_id": template_id, "sender_id": "Shop"}, token=north)
    assert status == 400 and body == {"error": f"template {template_id} does not exist", "field": "template_id"}
