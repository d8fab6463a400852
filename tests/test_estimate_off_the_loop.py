"""A campaign's estimate groups its whole audience by route: it runs off the web process's IO loop
and within the count's time budget, so an approver's page or an estimate call on a heavy audience
neither holds up other requests nor runs without end."""

from __future__ import annotations

import time

import pytest

from engage.engine import campaigns
from engage.engine.campaigns import estimate
from engage.engine.segments import store as segments
from engage.engine.templates import store as templates
from tests.fixtures.web import serving
from tests.off_loop_checks import assert_sign_in_answers_at_once, in_background, signal_on_call
from tests.test_audience_api import _call
from tests.test_segment_limits import SLOW, many_people


@pytest.fixture
def heavy(engine, monkeypatch):
    """A campaign whose segment tests 50,000 numbers against 4,000 prefixes; a budget of 1 s."""
    many_people(engine)
    with engine.begin() as conn:
        segment_id = segments.create(conn, "slow", {"or": [SLOW] * 8}, actor="m")
        template_id = templates.create(conn, "t", {"en": "Hi"}, default_language="en", actor="m")
        campaign_id = campaigns.create(conn, name="offer", segment_id=segment_id, template_id=template_id,
                                       sender_id="Shop", actor="m")
    monkeypatch.setattr(estimate, "COUNT_SECONDS", 1.0)
    with serving(engine, tokens="hq-token") as base:
        yield base, campaign_id


def test_an_estimate_over_the_count_budget_is_a_409_saying_so(heavy):
    base, campaign_id = heavy
    started = time.perf_counter()
    status, body = _call(base, f"/api/v1/campaigns/{campaign_id}/estimate")
    assert time.perf_counter() - started < 5
    assert status == 409
    assert "the count took longer than 1 s" in body["error"]


def test_the_sign_in_page_answers_at_once_while_an_estimate_runs(heavy, monkeypatch):
    base, campaign_id = heavy
    grouping = signal_on_call(monkeypatch, estimate, "audience_groups")
    with in_background(lambda: _call(base, f"/api/v1/campaigns/{campaign_id}/estimate")) as answered:
        assert grouping.wait(5)
        assert_sign_in_answers_at_once(base)
    assert answered[0][0] == 409  # the estimate was still running when the sign-in page answered
