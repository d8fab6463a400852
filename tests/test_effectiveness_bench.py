"""`engage bench effectiveness` at small N on both databases: the planted effect is found, the figures
come back as JSON (the report's pages timed as a signed-in analyst gets them over HTTP among them),
and what the bench wrote on top of the synthetic base, its analyst included, is gone afterwards."""

import json

import pytest
from sqlalchemy import func, select

from engage.bench import effectiveness, page_timing
from engage.engine.store.schema import InboundMessage, Message, UssdSession
from engage.engine.store.schema_access import LoginAttempt, User, UserSession


@pytest.fixture
def bench_url(engine, database_url, monkeypatch):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", database_url)
    return engine


def _rows(engine, *tables):
    with engine.connect() as conn:
        return [conn.execute(select(func.count()).select_from(t.__table__)).scalar_one() for t in tables]


def test_the_bench_finds_its_planted_effect_and_cleans_up(bench_url):
    people = _rows(bench_url, User, UserSession, LoginAttempt)
    out = effectiveness.run(4000, control=0.2, events_per_subscriber=1, repeats=2)
    json.dumps(out)
    assert out["recipients"] + out["control"] == 4000
    assert 0.17 < out["control"] / 4000 < 0.23
    assert out["conversion"]["uplift"]["significant"]
    assert out["conversion"]["uplift"]["low"] > 0
    assert out["response_rate"] > out["control_response_rate"]
    assert set(out["arms"]) == {"A", "B"}
    assert out["report_ms"]["p50"] > 0 and len(out["refresh_seconds"]) == 2
    assert _rows(bench_url, Message, InboundMessage, UssdSession) == [0, 0, 0]
    assert _rows(bench_url, User, UserSession, LoginAttempt) == people


def test_the_bench_times_the_report_pages_as_an_analyst_gets_them(bench_url):
    out = effectiveness.run(2000, control=0.2, events_per_subscriber=1, repeats=3)
    for name in ("page", "groups_csv", "compare"):
        timed = out[f"{name}_seconds"]
        assert 0 < timed["median"] <= timed["max"] < 60, (name, timed)
        assert 0 < timed["first"] < 60, (name, timed)
    assert 0 < out["sign_in_seconds"] < 60
    assert out["page_bytes"]["page"] > 10_000  # the report with its charts, not a sign-in form or an error
    assert out["page_bytes"]["groups_csv"] > 200 and out["page_bytes"]["compare"] > 1_000


def test_a_page_that_does_not_answer_200_fails_the_timing_and_leaves_no_user(engine):
    people = _rows(engine, User, UserSession, LoginAttempt)
    with pytest.raises(page_timing.PageError, match="403"):
        page_timing.time_pages(engine, {"analytics": "/analytics"}, role="marketer", repeats=1)
    assert _rows(engine, User, UserSession, LoginAttempt) == people
