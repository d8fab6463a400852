"""`engage bench effectiveness` at small N on both databases: the planted effect is found, the figures
come back as JSON, and what the bench wrote on top of the synthetic base is gone afterwards."""

import json

import pytest
from sqlalchemy import func, select

from engage.bench import effectiveness
from engage.engine.store.schema import InboundMessage, Message, UssdSession


@pytest.fixture
def bench_url(engine, database_url, monkeypatch):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", database_url)
    return engine


def test_the_bench_finds_its_planted_effect_and_cleans_up(bench_url):
    out = effectiveness.run(4000, control=0.2, events_per_subscriber=1, repeats=2)
    json.dumps(out)
    assert out["recipients"] + out["control"] == 4000
    assert 0.17 < out["control"] / 4000 < 0.23
    assert out["conversion"]["uplift"]["significant"]
    assert out["conversion"]["uplift"]["low"] > 0
    assert out["response_rate"] > out["control_response_rate"]
    assert set(out["arms"]) == {"A", "B"}
    assert out["report_ms"]["p50"] > 0 and len(out["refresh_seconds"]) == 2
    with bench_url.connect() as conn:
        left = [conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in (Message.__table__, InboundMessage.__table__, UssdSession.__table__)]
    assert left == [0, 0, 0]
