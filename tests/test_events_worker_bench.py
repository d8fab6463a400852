"""`engage bench events`: the figure it prints is of every event it wrote folded, and it leaves the
database as it found it."""

from __future__ import annotations

from sqlalchemy import func, select

from engage.bench import events as bench
from engage.engine.store.schema import Campaign, Event, Message
from engage.engine.store.schema_analytics import AnalyticsWatermark, CampaignStat


def test_the_bench_folds_every_event_it_wrote_and_removes_them(engine, database_url, monkeypatch):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", database_url)
    figures = bench.run(40, batch=5, limit=7)
    assert figures["events"] == figures["written"]["events"] == 40
    assert figures["messages"] == figures["written"]["messages"] == 10 * (3 * 5 + 1)
    assert figures["batches"] >= 6 and figures["events_per_s"] > 0
    with engine.connect() as conn:
        for table in (Event, Message, Campaign, CampaignStat, AnalyticsWatermark):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0, table.__tablename__
