"""The segment limits over real HTTP: an over-bound definition is a 400 naming the limit and where,
and is never saved; a count runs off the IO loop within its time budget; a saved segment from
before the limits gives every page and action that compiles it a clear answer, never a 500."""

from __future__ import annotations

import time
import urllib.request

import pytest
from sqlalchemy import insert, select

from engage.engine import campaigns
from engage.engine.segments import audience, limits
from engage.engine.store.schema import Campaign, Segment
from engage.engine.templates import store as templates
from tests.audience_people import add_people
from tests.fixtures.web import serving, signed_in
from tests.off_loop_checks import assert_sign_in_answers_at_once, in_background, signal_on_call
from tests.test_audience_api import _call
from tests.test_segment_limits import SLOW, many_people, nots

TOKENS = "hq-token"


@pytest.fixture
def api(engine):
    add_people(engine)
    with serving(engine, tokens=TOKENS) as base:
        yield engine, base


def raw_post(base: str, path: str, body: bytes) -> tuple[int, str]:
    request = urllib.request.Request(base + path, data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": "Bearer hq-token"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_counting_40_nots_is_a_400_naming_the_depth_limit_and_where(api):
    _, base = api  # 195 are refused sooner, as any body nested past 64 levels (engine.json_input)
    status, body = _call(base, "/api/v1/segments/count", {"definition": nots(40)})
    assert status == 400
    assert f"nested deeper than {limits.MAX_DEPTH} levels" in body["error"]
    assert body["path"] == "segment" + ".not" * limits.MAX_DEPTH


def test_saving_40_nots_is_a_400_and_nothing_is_saved(api):
    engine, base = api
    status, body = _call(base, "/api/v1/segments", {"name": "deep", "definition": nots(40)})
    assert status == 400 and "nested deeper than" in body["error"]
    with engine.connect() as conn:
        assert conn.execute(select(Segment.id)).all() == []


def test_a_body_nested_deeper_than_json_can_read_is_a_400(api):
    _, base = api
    status, text = raw_post(base, "/api/v1/segments/count", b'{"definition": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert status == 400
    assert "nested deeper than" in text and "Traceback" not in text


def test_a_body_nested_900_deep_is_a_400_naming_the_depth_limit(api):
    _, base = api
    body = b'{"definition": ' + b'{"and": [' * 900 + b'{"kind": "all"}' + b"]}" * 900 + b"}"
    status, text = raw_post(base, "/api/v1/segments/count", body)
    assert status == 400
    assert "nested deeper than" in text


@pytest.fixture
def slow_api(engine, monkeypatch):
    """50,000 subscribers, and a count budget of 1 s that SLOW (every row against 500 prefixes) passes."""
    many_people(engine)
    monkeypatch.setattr(audience, "COUNT_SECONDS", 1.0)
    with serving(engine, tokens=TOKENS) as base:
        yield engine, base


def test_a_count_over_its_time_budget_is_a_422_saying_so(slow_api):
    _, base = slow_api
    started = time.perf_counter()
    status, body = _call(base, "/api/v1/segments/count", {"definition": {"or": [SLOW] * 8}})
    assert time.perf_counter() - started < 5
    assert status == 422
    assert body["error"] == "segment: the count took longer than 1 s; narrow the segment"


def test_a_segment_whose_count_is_over_the_budget_is_not_saved(slow_api):
    engine, base = slow_api
    status, _ = _call(base, "/api/v1/segments", {"name": "slow", "definition": {"or": [SLOW] * 8}})
    assert status == 422
    with engine.connect() as conn:
        assert conn.execute(select(Segment.id)).all() == []


def test_the_sign_in_page_answers_at_once_while_a_count_runs(slow_api, monkeypatch):
    _, base = slow_api
    monkeypatch.setattr(audience, "COUNT_SECONDS", 3.0)  # time for the sign-in page on a busy machine
    compiled = signal_on_call(monkeypatch, audience, "condition")
    with in_background(lambda: _call(base, "/api/v1/segments/count", {"definition": {"or": [SLOW] * 8}})) as answered:
        assert compiled.wait(5)
        assert_sign_in_answers_at_once(base, held=answered)  # while the count has not answered yet
    assert answered[0][0] in (200, 422)  # SLOW takes over 1 s: counted, or stopped at its budget


@pytest.fixture
def old_deep(engine):
    """A campaign on a segment of 195 nots saved before the limits existed."""
    add_people(engine)
    with engine.begin() as conn:
        conn.execute(insert(Segment.__table__).values(id=1, name="old", definition=nots(195)))
        template_id = templates.create(conn, "t", {"en": "Hi"}, default_language="en", actor="m")
        campaign_id = campaigns.create(conn, name="offer", segment_id=1, template_id=template_id,
                                       sender_id="Shop", actor="m")
    with serving(engine, tokens=TOKENS) as base:
        yield engine, base, campaign_id


def test_estimating_a_campaign_on_an_over_deep_saved_segment_says_why(old_deep):
    _, base, campaign_id = old_deep
    status, body = _call(base, f"/api/v1/campaigns/{campaign_id}/estimate")
    assert status == 409
    assert "nested deeper than" in body["error"]


def test_launching_a_campaign_on_an_over_deep_saved_segment_is_refused_and_it_stays_a_draft(old_deep):
    engine, base, campaign_id = old_deep
    status, body = _call(base, f"/api/v1/campaigns/{campaign_id}/launch", {})
    assert status == 409
    assert "nested deeper than" in body["error"]
    with engine.connect() as conn:
        assert conn.execute(select(Campaign.status).where(Campaign.id == campaign_id)).scalar_one() == "draft"


def test_the_approvals_page_lists_a_campaign_on_an_over_deep_saved_segment_with_the_problem(old_deep):
    engine, base, campaign_id = old_deep
    with engine.begin() as conn:
        conn.execute(Campaign.__table__.update().where(Campaign.id == campaign_id).values(
            status="awaiting_approval", submitted_by="maker@example.com"))
    page = signed_in(engine, base, "approver").get("/approvals")
    assert page.status == 200
    assert "nested deeper than" in page.body
