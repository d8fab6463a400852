"""The loyalty reports page over real HTTP: a period chosen in a form, the tables with headings and
units, each table as CSV, a mistake in the form named beside its field; read by the loyalty readers
(a user of a branch is told the figures are the whole programme's), nothing for approvers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from engage.engine.loyalty import ledger, members, programmes, rules
from engage.engine.loyalty.ledger import Credit
from engage.engine.store.schema import LoyaltyMember, Subscriber
from tests.fixtures.web import serving, signed_in


@pytest.fixture
def web(engine, quick_hashes, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    """club with one member holding 120 points earned by the calls rule today."""
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__).values(msisdn="+998901234567", attributes={}))
        club = programmes.create(conn, "club", "Beeline Club", point_value="0.01")
        members.enrol(conn, club.id, [conn.execute(select(Subscriber.id)).scalar_one()], "api")
        member = conn.execute(select(LoyaltyMember.id)).scalar_one()
        ledger.credit(conn, [Credit(member, 120, datetime.now(UTC), "rule", "usage", "a", cause_id="calls@v1")])
        rules.create(conn, club.id, "calls", "Outgoing calls", {"kind": "call_out", "every": 100, "points": 10},
                     actor="ana")
    with serving(engine) as base:
        yield engine, base


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _period() -> str:
    return f"from={_today()}&to={_today()}&by=day"


def test_the_page_shows_this_months_points_per_day_by_default(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "analyst").get("/loyalty/club/reports")
    assert page.status == 200
    assert 'id="periods-table"' in page.body and f"<td data-key=\"period\">{_today()}</td>" in page.body


def test_each_table_has_headings_with_their_units(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "analyst").get(f"/loyalty/club/reports?{_period()}")
    assert "Liability<small>USD</small>" in page.body and "Issued<small>points</small>" in page.body


def test_the_liability_and_the_rule_are_shown(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "support").get(f"/loyalty/club/reports?{_period()}")
    assert '<td data-key="liability" class="num">1.20</td>' in page.body
    assert '<td data-key="rule">calls</td>' in page.body


def test_a_table_downloads_as_csv(web) -> None:  # noqa: ANN001
    engine, base = web
    got = signed_in(engine, base, "marketer").get(f"/loyalty/club/reports.csv?table=per_rule&{_period()}")
    assert got.status == 200 and got.headers["Content-Type"].startswith("text/csv")
    assert f'filename="club-per_rule-{_today()}-{_today()}.csv"' in got.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(got.body.lstrip("\ufeff"))))
    assert [(r["rule"], r["points"]) for r in rows] == [("calls", "120")]


def test_the_page_links_each_tables_csv_with_its_period(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "admin").get(f"/loyalty/club/reports?{_period()}")
    assert f'href="/loyalty/club/reports.csv?table=liability&amp;{_period().replace("&", "&amp;")}"' in page.body


def test_a_day_that_is_not_one_is_named_beside_its_field(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "analyst").get("/loyalty/club/reports?from=soon&to=2026-11-30&by=day")
    assert page.status == 400
    assert 'id="from-error">from: &#x27;soon&#x27; is not a date such as 2026-11-30' in page.body
    assert 'value="soon"' in page.body  # what was typed is kept


def test_a_range_that_ends_before_it_starts_is_refused(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "analyst").get("/loyalty/club/reports?from=2026-12-01&to=2026-11-01&by=month")
    assert page.status == 400 and 'id="to-error"' in page.body


def test_an_unknown_table_is_a_400_naming_it(web) -> None:  # noqa: ANN001
    engine, base = web
    got = signed_in(engine, base, "analyst").get(f"/loyalty/club/reports.csv?table=nope&{_period()}")
    assert got.status == 400


def test_an_unknown_programme_is_404(web) -> None:  # noqa: ANN001
    engine, base = web
    browser = signed_in(engine, base, "analyst")
    assert browser.get("/loyalty/nope/reports").status == 404
    assert browser.get(f"/loyalty/nope/reports.csv?table=periods&{_period()}").status == 404


def test_an_approver_has_no_reports(web) -> None:  # noqa: ANN001
    engine, base = web
    browser = signed_in(engine, base, "approver")
    assert browser.get("/loyalty/club/reports").status == 403
    assert browser.get(f"/loyalty/club/reports.csv?table=periods&{_period()}").status == 403


def test_a_user_of_a_branch_is_told_the_figures_are_the_whole_programmes(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "analyst", branch="north").get(f"/loyalty/club/reports?{_period()}")
    assert 'id="operator-wide"' in page.body and '<td data-key="liability" class="num">1.20</td>' in page.body


def test_the_programmes_pages_link_the_reports(web) -> None:  # noqa: ANN001
    engine, base = web
    assert 'href="/loyalty/club/reports" id="reports-link"' in signed_in(engine, base, "analyst").get(
        "/loyalty?programme=club").body
