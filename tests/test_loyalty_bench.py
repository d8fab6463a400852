"""`engage bench loyalty` at small N on both databases: its JSON has every section, the invariants it
checks from the database hold (the redemptions at once spend exactly the balance and overdraw
nothing, the replayed file posts nothing the second time, every generated lot expires and the ledger
adds up), kept rows are reused as they were generated, and the bench's rows are gone afterwards.
Timings are printed by the bench, not asserted here."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from engage.bench import loyalty as bench
from engage.engine.store.schema_loyalty import (
    LoyaltyBalance,
    LoyaltyEntry,
    LoyaltyHold,
    LoyaltyHoldLot,
    LoyaltyLot,
    LoyaltyMember,
    LoyaltyProgramme,
)

TABLES = (LoyaltyProgramme, LoyaltyMember, LoyaltyBalance, LoyaltyEntry, LoyaltyLot, LoyaltyHold, LoyaltyHoldLot)


@pytest.fixture
def configured(engine, database_url, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("ENGAGE_DATABASE_URL", database_url)
    return engine


def rows(engine) -> dict[str, int]:  # noqa: ANN001
    with engine.connect() as conn:
        return {t.__tablename__: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in TABLES}


def test_the_bench_prints_every_section_and_its_invariants_hold(configured) -> None:  # noqa: ANN001
    out = bench.run(200, 2_000, progress=False)
    json.dumps(out)
    assert (out["members"], out["events"], out["generated"]["reused"]) == (200, 2_000, False)
    assert {"balance", "redeem", "concurrent", "replay", "scoring", "expiry"} <= set(out)

    assert out["balance"]["reads"] == bench.BALANCE_READS
    assert 0 < out["balance"]["p50_ms"] <= out["balance"]["p99_ms"] <= out["balance"]["max_ms"]
    assert out["redeem"]["redemptions"] == 200  # every member has more than a redemption's points
    assert 0 < out["redeem"]["p50_ms"] <= out["redeem"]["p99_ms"]

    concurrent = out["concurrent"]
    assert (concurrent["attempted"], concurrent["expected"]) == (200, 100)
    assert (concurrent["succeeded"], concurrent["refused"], concurrent["errors"]) == (100, 100, 0)
    assert (concurrent["available"], concurrent["held"], concurrent["redeemed"]) == (0, 0, 1_000)
    assert concurrent["overdrawn"] is False and concurrent["entries_add_up"] is True

    replay = out["replay"]
    assert replay["entries_posted_first"] == replay["credits"] == 2_000
    assert replay["entries_posted_second"] == 0 and replay["balances_changed_by_second"] == 0

    scored = out["scoring"]  # 2,000 calls of 1 to 300 minutes over 200 members: every member earns
    assert (scored["records"], scored["members"]) == (2_000, 200) and scored["events_per_s"] > 0
    assert scored["entries"] > 0 and scored["points"] > 0
    assert scored["replayed_batch"] == {"records": 2_000, "duplicates": 2_000, "points": 0}

    expired = out["expiry"]
    assert expired["lots"] == expired["expected_lots"] == 2_000
    assert expired["points"] > 0 and expired["entries_add_up"] is True
    assert set(rows(configured).values()) == {0}


def test_kept_rows_are_reused_as_they_were_generated(configured) -> None:  # noqa: ANN001
    first = bench.run(40, 300, keep=True, progress=False)
    assert rows(configured)["loyalty_programmes"] == 1
    second = bench.run(40, 300, progress=False)
    assert (first["generated"]["reused"], second["generated"]["reused"]) == (False, True)
    for figures in (first, second):
        assert figures["concurrent"]["succeeded"] == 100 and figures["concurrent"]["overdrawn"] is False
        assert figures["replay"]["entries_posted_first"] == 300 and figures["replay"]["entries_posted_second"] == 0
        assert figures["expiry"]["lots"] == 300 and figures["expiry"]["entries_add_up"] is True
    assert second["expiry"]["points"] == first["expiry"]["points"]  # the same lots, the same redemptions
    assert set(rows(configured).values()) == {0}


def test_other_numbers_than_the_kept_ones_make_the_rows_again(configured) -> None:  # noqa: ANN001
    bench.run(30, 90, keep=True, progress=False)
    out = bench.run(20, 60, progress=False)
    assert out["generated"]["reused"] is False
    assert out["expiry"]["lots"] == 60 and out["concurrent"]["succeeded"] == 100
    assert set(rows(configured).values()) == {0}
