"""A programme's levels edited as a table over real HTTP: rows saved lowest first and shown again, a
row added on demand, a mistake named in the row it is in (blank rows not counted), the periods
checked beside their fields, the change audited before and after; refused to a marketer of a branch."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.engine.loyalty import levels, programmes
from engage.engine.store.schema import AuditEntry
from tests.fixtures.web import serving, signed_in

LEVELS = {"level_name": ["Blue", "Silver", "Gold", ""], "level_min": ["0", "1000", "5000", ""],
          "window_days": "365", "grace_days": "30", "review_every_days": "90", "do": "save"}


@pytest.fixture
def web(engine, quick_hashes, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    with engine.begin() as conn:
        programmes.create(conn, "club", "Club")
    with serving(engine) as base:
        yield engine, base


def ladder(engine) -> levels.Levels | None:  # noqa: ANN001
    with engine.connect() as conn:
        return levels.of(programmes.get(conn, "club").settings)


def test_levels_are_saved_from_the_table_and_shown_again(web) -> None:  # noqa: ANN001
    engine, base = web
    browser = signed_in(engine, base, "marketer")
    saved = browser.post_form("/loyalty/club/levels", LEVELS)
    assert (saved.status, saved.headers["Location"]) == (303, "/loyalty/club/levels?saved=1")
    assert (ladder(engine).names, ladder(engine).minimums) == (("blue", "silver", "gold"), (0, 1000, 5000))
    page = browser.get("/loyalty/club/levels?saved=1")
    assert 'id="level-name-2" value="silver"' in page.body and 'id="level-min-3" value="5000"' in page.body
    assert 'id="level-name-4" value=""' in page.body  # a spare row for a new level


def test_a_programme_without_levels_says_so_and_offers_empty_rows(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "support").get("/loyalty/club/levels")
    assert page.status == 200 and 'id="no-levels"' in page.body and 'placeholder="silver"' in page.body


def test_adding_a_row_keeps_what_was_typed_and_saves_nothing(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "admin").post_form("/loyalty/club/levels", {
        **LEVELS, "level_name": ["Blue", "Silver"], "level_min": ["0", "1000"], "do": "add"})
    assert page.status == 200
    assert 'id="level-name-2" value="Silver"' in page.body and 'id="level-name-3" value=""' in page.body
    assert ladder(engine) is None


def test_a_mistake_is_named_in_its_row_counting_blank_rows(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "admin").post_form("/loyalty/club/levels", {
        **LEVELS, "level_name": ["Blue", "", "Silver", "Gold"], "level_min": ["0", "", "5000", "1000"]})
    assert page.status == 400
    assert 'id="error-row4-min">Row 4: each level needs more points than the one before' in page.body
    assert 'aria-describedby="error-row4-min"' in page.body
    assert ladder(engine) is None


def test_points_that_are_not_a_number_are_named_in_their_row(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "admin").post_form("/loyalty/club/levels", {
        **LEVELS, "level_min": ["0", "a lot", "5000", ""]})
    assert page.status == 400 and 'id="error-row2-min">&#x27;a lot&#x27; is not a whole number' in page.body


def test_a_period_out_of_range_is_named_beside_it(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "admin").post_form("/loyalty/club/levels", {**LEVELS, "window_days": "0"})
    assert page.status == 400 and 'id="error-window_days">window_days: a whole number of days from 1' in page.body


def test_a_change_of_levels_is_audited_before_and_after(web) -> None:  # noqa: ANN001
    engine, base = web
    browser = signed_in(engine, base, "admin")
    browser.post_form("/loyalty/club/levels", LEVELS)
    browser.post_form("/loyalty/club/levels", {**LEVELS, "level_min": ["0", "2000", "5000", ""]})
    with engine.connect() as conn:
        last = conn.execute(select(AuditEntry.details).where(AuditEntry.action == "loyalty.levels.set")
                            .order_by(AuditEntry.id.desc())).scalars().first()
    assert last["before"]["levels"][1] == {"name": "silver", "min": 1000}
    assert last["after"]["levels"][1] == {"name": "silver", "min": 2000}


def test_a_marketer_of_a_branch_may_not_change_the_levels(web) -> None:  # noqa: ANN001
    engine, base = web
    assert signed_in(engine, base, "marketer", branch="north").post_form("/loyalty/club/levels", LEVELS).status == 403
    assert ladder(engine) is None
