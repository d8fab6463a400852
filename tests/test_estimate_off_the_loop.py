"""A campaign's estimate groups its whole audience by route: it runs off the web process's IO loop
and within the count's time budget, so an approver's page or an estimate call on a heavy audience
neither holds up other requests nor runs without end."""

from __future__ import annotations

import threading
import time
import urllib.request

import pytest

from engage.engine import campaigns
from engage.engine.campaigns import estimate
from engage.engine.segments import store as segments
from engage.engine.templates import store as templates
from tests.fixtures.web import serving
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
    grouping = threading.Event()
    groups = estimate.audience_groups

    def noting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - a signal, then the real grouping
        grouping.set()
        return groups(*args, **kwargs)

    monkeypatch.setattr(estimate, "audience_groups", noting)
    answered = []
    estimating = threading.Thread(target=lambda: answered.append(
        _call(base, f"/api/v1/campaigns/{campaign_id}/estimate")))
    estimating.start()
    assert grouping.wait(5)
    started = time.perf_counter()
    with urllib.request.urlopen(base + "/login", timeout=10) as response:
        assert response.status == 200
    assert time.perf_counter() - started < 0.5
    estimating.join()
    assert answered[0][0] == 409  # the estimate was still running when the sign-in page answered
