"""The campaign_results export as BI reads it: the effectiveness figures a real refresh computed, read
back with DuckDB with the tables' counts and sums, the uplift its documentation shows, and a partition
replaced only when its campaign's figures were recomputed."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from sqlalchemy import text

from engage.engine.analytics import exports
from engage.engine.analytics.effectiveness import refresh as er
from engage.engine.analytics.exports.datasets.campaign_results import UPLIFT_SQL
from tests.effectiveness_data import LATER, START, Story, born

COUNTS = ("recipients", "delivered", "responded", "converted")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture
def judged(engine):
    """Two campaigns refreshed: one with a planted effect (30 % of those sent convert, 10 % of the control
    group) and groups by region; one launched a week later, with an answer."""
    story = Story(engine)
    story.many(200, converted=60)
    story.many(100, converted=10, status="control")
    north = story.recipient(region="North", birth_date=born(30))
    story.usage(north[0], north[2] + timedelta(hours=3))
    later = Story(engine, start=START + timedelta(days=7), name="a week later")
    sid, msisdn, delivered = later.recipient(region="South")
    later.mo(msisdn.removeprefix("+"), delivered + timedelta(minutes=5))
    later.recipient(status="control")
    er.refresh(engine, story.campaign_id, now=LATER)
    er.refresh(engine, later.campaign_id, now=LATER)
    return story.campaign_id, later.campaign_id


def export(engine, home: Path) -> dict:
    return exports.run(engine, exports.ExportOptions(directory=home / "exports", settle=0),
                       ["campaign_results"])[0]


def bi(home: Path, query: str) -> list[tuple]:
    files = f"{home / 'exports' / 'campaign_results'}/**/*.parquet"
    return duckdb.sql(query.replace("FROM results", f"FROM read_parquet('{files}', hive_partitioning = true)")
                      ).fetchall()


def database(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def test_duckdb_reads_the_figures_with_the_tables_counts_and_sums(engine, judged, home):
    export(engine, home)
    sums = ", ".join(f"sum({c})" for c in COUNTS)
    query = f"SELECT campaign_id, dimension, count(*), {sums} FROM {{}} GROUP BY 1, 2 ORDER BY 1, 2"
    assert bi(home, query.format("results")) == database(engine, query.format("campaign_results"))
    assert bi(home, "SELECT sum(cost)::DOUBLE FROM results")[0][0] == pytest.approx(
        float(database(engine, "SELECT sum(cost) FROM campaign_results")[0][0]), abs=1e-9)
    assert bi(home, "SELECT count(*) FILTER (WHERE responded > 0 AND dimension = '') FROM results")[0][0] == 1


def test_each_row_says_when_and_under_which_settings_it_was_computed(engine, judged, home):
    export(engine, home)
    rows = bi(home, "SELECT DISTINCT campaign_id, computed_at, conversion_kind, conversion_days, response_hours, "
                    "json_extract_string(settings, '$.conversion.kind') FROM results ORDER BY 1")
    assert [(r[0], r[1], *r[2:]) for r in rows] == [(c, LATER, "recharge", 7, 72, "recharge") for c in judged]
    assert bi(home, "SELECT count(*) FROM results WHERE closes_at IS NULL")[0][0] == 0


def test_the_documented_query_gives_the_planted_uplift(engine, judged, home):
    export(engine, home)
    first = bi(home, UPLIFT_SQL.replace(
        "FROM read_parquet('exports/campaign_results/**/*.parquet', hive_partitioning = true)", "FROM results"))[0]
    campaign_id, _, treated, held_out, uplift, _, low, high = first
    assert campaign_id == judged[0]
    assert (treated, held_out) == (pytest.approx(61 / 201), pytest.approx(0.10))
    assert uplift == pytest.approx(61 / 201 - 0.10)
    assert 0 < low < uplift < high


def test_a_campaign_is_in_the_partition_of_its_launch_day(engine, judged, home):
    export(engine, home)
    assert bi(home, "SELECT DISTINCT campaign_id, dt FROM results ORDER BY 1") == [
        (judged[0], START.date()), (judged[1], (START + timedelta(days=7)).date())]


def test_only_a_recomputed_campaigns_partition_is_replaced(engine, judged, home):
    export(engine, home)
    assert export(engine, home)["files"] == []
    er.refresh(engine, judged[1], now=LATER + timedelta(days=1))
    manifest = export(engine, home)
    assert manifest["replaced"] == [(START + timedelta(days=7)).date().isoformat()]
    assert bi(home, f"SELECT DISTINCT computed_at FROM results WHERE campaign_id = {judged[1]}") == [
        (LATER + timedelta(days=1),)]
    assert bi(home, "SELECT count(*) FROM results")[0][0] == database(
        engine, "SELECT count(*) FROM campaign_results")[0][0]
