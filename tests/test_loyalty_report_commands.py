"""`engage loyalty report` as an operator types it: every table as JSON, one table as CSV, the days
of the zone asked for; a wrong option named."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from engage.cli import main
from engage.engine.loyalty import ledger
from engage.engine.loyalty.ledger import Credit
from engage.engine.store.schema import LoyaltyEntry, LoyaltyMember, Subscriber

NOV_30_LATE = datetime(2026, 11, 30, 22, tzinfo=UTC)  # 1 December 03:00 in Tashkent


@pytest.fixture
def club(engage_cli, engine) -> None:  # noqa: ANN001
    """club, its one member given 120 points by the calls rule, posted late on 30 November UTC."""
    with engine.begin() as conn:
        conn.execute(insert(Subscriber), [{"msisdn": "+998901000001"}])
    assert engage_cli("loyalty", "programme", "create", "club", "--name", "Club", "--point-value", "0.01")[0] == 0
    assert engage_cli("loyalty", "enrol", "club", "--all")[0] == 0
    with engine.begin() as conn:
        member = conn.execute(select(LoyaltyMember.id)).scalar_one()
        ledger.credit(conn, [Credit(member, 120, NOV_30_LATE, "rule", "usage", "a", cause_id="calls@v1",
                                    expires_at=NOV_30_LATE + timedelta(days=365))])
        conn.execute(update(LoyaltyEntry).values(posted_at=NOV_30_LATE))  # posted then, as the database keeps it


def _report(engage_cli, *more: str) -> dict:  # noqa: ANN001
    code, [made], _ = engage_cli("loyalty", "report", "--programme", "club", "--from", "2026-11-01",
                                 "--to", "2026-12-31", *more)
    assert code == 0
    return made


def test_the_report_prints_every_table_as_json(engage_cli, club) -> None:  # noqa: ANN001
    made = _report(engage_cli, "--tz", "UTC")
    assert [(r["period"], r["issued"]) for r in made["tables"]["periods"]["rows"]] == [
        ("2026-11-01", 120), ("2026-12-01", 0)]
    assert made["tables"]["liability"]["rows"][0]["liability"] == "1.20"


def test_the_days_are_those_of_the_zone_asked_for(engage_cli, club) -> None:  # noqa: ANN001
    made = _report(engage_cli, "--tz", "Asia/Tashkent", "--table", "periods")
    assert [r["issued"] for r in made["tables"]["periods"]["rows"]] == [0, 120]
    assert list(made["tables"]) == ["periods"]


def test_one_table_prints_as_csv(engage_cli, club, capsys) -> None:  # noqa: ANN001
    assert main(["loyalty", "report", "--programme", "club", "--from", "2026-11-01", "--to", "2026-11-30",
                 "--tz", "UTC", "--table", "per_rule", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [(r["rule"], r["version"], r["points"]) for r in rows] == [("calls", "1", "120")]


@pytest.mark.parametrize(("more", "said"), [
    (["--by", "year"], "error: --by: 'year' is not one of day, week, month"),
    (["--table", "nope"], "error: --table: 'nope' is not one of periods,"),
    (["--tz", "Mars/Olympus"], "error: --tz: 'Mars/Olympus' is not a time zone"),
    (["--csv"], "error: --csv: name the table to write with --table"),
])
def test_a_wrong_option_is_named(engage_cli, club, more, said) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as refused:
        engage_cli("loyalty", "report", "--programme", "club", "--from", "2026-11-01", "--to", "2026-11-30", *more)
    assert str(refused.value.code).startswith(said)


def test_an_unknown_programme_is_named(engage_cli, club) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as refused:
        engage_cli("loyalty", "report", "--programme", "nope", "--from", "2026-11-01", "--to", "2026-11-30")
    assert str(refused.value.code).startswith("error: --programme:")
