"""/api/v1 for campaigns and templates: an integration creates a template and a campaign, submits it,
launches it, reads its figures; bad input is a 400 naming what; a wrong state is a 409 saying why;
a branch token sees only its branch."""

from __future__ import annotations

import pytest

from engage.engine.segments import store as segments
from tests.campaign_setup import add_subscribers
from tests.fixtures.web import serving
from tests.test_audience_api import _call


@pytest.fixture
def api(engine):
    add_subscribers(engine, 5)
    with engine.begin() as conn:
        segments.create(conn, "everyone", {"kind": "all"}, actor="t")
    with serving(engine, tokens="hq-token,north-token@north") as base:
        yield base


def _template(api):
    status, body = _call(api, "/api/v1/templates", {"name": "hi", "default_language": "en",
                                                    "variants": {"en": "Hi {{ first_name }}"}})
    assert status == 201
    return body["template_id"]


def _campaign(api, **extra):
    status, body = _call(api, "/api/v1/campaigns", {"name": "c", "segment_id": 1, "template_id": _template(api),
                                                    "sender_id": "Shop", **extra})
    assert status == 201, body
    return body["campaign_id"]


def test_a_template_and_a_campaign_are_created_launched_and_counted(api):
    campaign_id = _campaign(api, control_share=0.2, seed=3)
    status, launched = _call(api, f"/api/v1/campaigns/{campaign_id}/launch", {})
    assert status == 200 and launched["recipients"] + launched["set_aside"].get("control", 0) == 5
    status, stats = _call(api, f"/api/v1/campaigns/{campaign_id}/stats")
    assert status == 200 and stats["status"] == "running" and stats["total"] == launched["recipients"]


def test_a_bad_option_is_a_400_naming_it(api):
    status, body = _call(api, "/api/v1/campaigns", {"name": "c", "segment_id": 1, "template_id": _template(api),
                                                    "sender_id": "Shop", "quiet_hours": "25:00-01:00"})
    assert status == 400 and body["error"].startswith("quiet_hours:")


def test_a_missing_field_is_a_400_naming_it(api):
    assert _call(api, "/api/v1/campaigns", {"name": "c"}) == (
        400, {"error": "segment_id: missing (needs name, segment_id, template_id, sender_id)"})


def test_an_action_from_the_wrong_state_is_a_409_saying_why(api):
    campaign_id = _campaign(api)
    status, body = _call(api, f"/api/v1/campaigns/{campaign_id}/pause", {})
    assert status == 409 and "pause needs it running" in body["error"]


def test_a_template_mistake_is_a_400_with_its_place(api):
    status, body = _call(api, "/api/v1/templates", {"name": "bad", "variants": {"en": "Hi {{ frist_name }}"}})
    assert status == 400 and "line 1, column 7: unknown field 'frist_name'" in body["error"]


def test_a_branch_token_does_not_see_other_branches_campaigns(api):
    campaign_id = _campaign(api)
    assert _call(api, f"/api/v1/campaigns/{campaign_id}", token="north-token")[0] == 404
    assert _call(api, "/api/v1/campaigns", token="north-token") == (200, {"campaigns": []})
