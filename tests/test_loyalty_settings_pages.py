"""A programme set up and changed from the browser over real HTTP: created from /loyalty/new (the
loyalty page offers it where there is none, and tells no one to run a command), its settings changed
by admin and marketer of no branch with each mistake beside its field and what was typed kept, every
change audited with before and after; read by support, refused to a marketer of a branch."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from engage.engine.loyalty import levels, programmes
from engage.engine.segments import store as segment_store
from engage.engine.store.schema import AuditEntry
from tests.fixtures.web import serving, signed_in

SETTINGS = {"name": "Beeline Club", "point_value": "0.02", "points_valid_days": "180",
            "adjust_approval_above": "5000", "expiry_notice_days": "14", "sms_sender": "Beeline"}


@pytest.fixture
def web(engine, quick_hashes, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    with serving(engine) as base:
        yield engine, base


@pytest.fixture
def club(web):  # noqa: ANN001, ANN201
    engine, base = web
    with engine.begin() as conn:
        programmes.create(conn, "club", "Club")
    return engine, base


def audited(engine, action: str) -> list[dict]:  # noqa: ANN001
    with engine.connect() as conn:
        return [d for d in conn.execute(select(AuditEntry.details).where(AuditEntry.action == action)).scalars()]


def test_with_no_programme_the_loyalty_page_offers_to_set_one_up_and_names_no_command(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "marketer").get("/loyalty")
    assert 'href="/loyalty/new"' in page.body
    assert "command line" not in page.body and "engage loyalty" not in page.body


def test_a_marketer_creates_a_programme_and_lands_on_its_settings(web) -> None:  # noqa: ANN001
    engine, base = web
    made = signed_in(engine, base, "marketer").post_form("/loyalty/new", {
        "code": "club", "name": "Beeline Club", "currency": "uzs", "point_value": "10", "points_valid_days": "",
        "never": "1"})
    assert (made.status, made.headers["Location"]) == (303, "/loyalty/club/settings?created=1")
    with engine.connect() as conn:
        club = programmes.get(conn, "club")
    assert (club.name, club.currency, club.point_value, club.points_valid_days) == (
        "Beeline Club", "UZS", Decimal(10), None)
    assert audited(engine, "loyalty.programme.create")[0]["code"] == "club"


def test_a_programme_code_taken_is_named_beside_the_code_and_the_form_kept(club) -> None:  # noqa: ANN001
    engine, base = club
    page = signed_in(engine, base, "admin").post_form("/loyalty/new", {
        "code": "club", "name": "Second club", "currency": "USD", "point_value": "0.01", "points_valid_days": "90"})
    assert page.status == 400
    assert 'id="error-code">code: a programme &#x27;club&#x27; exists already' in page.body
    assert 'value="Second club"' in page.body and 'value="90"' in page.body


def test_the_settings_are_changed_and_audited_with_before_and_after(club) -> None:  # noqa: ANN001
    engine, base = club
    saved = signed_in(engine, base, "marketer").post_form("/loyalty/club/settings", SETTINGS)
    assert (saved.status, saved.headers["Location"]) == (303, "/loyalty/club/settings?saved=1")
    with engine.connect() as conn:
        club_now = programmes.get(conn, "club")
    assert (club_now.name, club_now.point_value, club_now.points_valid_days) == ("Beeline Club", Decimal("0.02"), 180)
    assert [club_now.setting(k) for k in ("adjust_approval_above", "expiry_notice_days", "sms_sender")] == [
        5000, 14, "Beeline"]
    change = audited(engine, "loyalty.programme.settings")[0]
    assert change["before"]["adjust_approval_above"] == 1000 and change["after"]["adjust_approval_above"] == 5000
    assert change["before"]["name"] == "Club" and change["after"]["name"] == "Beeline Club"


def test_changing_the_settings_keeps_the_programmes_levels(club) -> None:  # noqa: ANN001
    engine, base = club
    with engine.begin() as conn:
        levels.set_levels(conn, programmes.get(conn, "club").id, {"levels": [{"name": "blue", "min": 0}]})
    signed_in(engine, base, "admin").post_form("/loyalty/club/settings", SETTINGS)
    with engine.connect() as conn:
        kept = programmes.get(conn, "club").settings
    assert kept["levels"]["levels"] == [{"name": "blue", "min": 0}] and "next_review" in kept


def test_a_programme_shows_the_defaults_of_settings_it_never_set(club) -> None:  # noqa: ANN001
    engine, base = club
    page = signed_in(engine, base, "support").get("/loyalty/club/settings")
    assert page.status == 200
    assert 'id="adjust_approval_above" type="number" min="0" value="1000"' in page.body
    assert 'id="expiry_notice_days" type="number" min="0" max="365" value="7"' in page.body


def test_a_wrong_setting_is_shown_beside_its_field_and_nothing_is_saved(club) -> None:  # noqa: ANN001
    engine, base = club
    page = signed_in(engine, base, "admin").post_form("/loyalty/club/settings", {
        **SETTINGS, "expiry_notice_days": "400"})
    assert page.status == 400
    assert 'id="error-expiry_notice_days">expiry_notice_days: a whole number from 0 to 365' in page.body
    assert 'aria-invalid="true" aria-describedby="error-expiry_notice_days"' in page.body
    assert 'value="Beeline Club"' in page.body  # as typed
    with engine.connect() as conn:
        assert programmes.get(conn, "club").name == "Club"


def test_a_sender_that_cannot_send_is_named_beside_it(club) -> None:  # noqa: ANN001
    engine, base = club
    page = signed_in(engine, base, "admin").post_form("/loyalty/club/settings", {
        **SETTINGS, "sms_sender": "A sender far too long"})
    assert page.status == 400 and 'id="error-sms_sender">sms_sender: sender id' in page.body


def test_words_where_a_number_goes_are_named_beside_the_field(club) -> None:  # noqa: ANN001
    engine, base = club
    page = signed_in(engine, base, "admin").post_form("/loyalty/club/settings", {
        **SETTINGS, "adjust_approval_above": "lots"})
    assert page.status == 400 and 'id="error-adjust_approval_above">&#x27;lots&#x27; is not a whole number' in page.body


def test_a_marketer_of_a_branch_may_not_change_the_settings_nor_create_a_programme(club) -> None:  # noqa: ANN001
    engine, base = club
    browser = signed_in(engine, base, "marketer", branch="north")
    assert browser.post_form("/loyalty/club/settings", SETTINGS).status == 403
    assert browser.post_form("/loyalty/new", {"code": "north", "name": "North"}).status == 403
    with engine.connect() as conn:
        assert programmes.get(conn, "club").name == "Club"


def test_support_reads_the_settings_but_may_not_change_them(club) -> None:  # noqa: ANN001
    engine, base = club
    browser = signed_in(engine, base, "support")
    assert 'id="read-only"' in browser.get("/loyalty/club/settings").body
    assert browser.post_form("/loyalty/club/settings", SETTINGS).status == 403


def test_an_unknown_programme_has_no_settings_page(club) -> None:  # noqa: ANN001
    engine, base = club
    assert signed_in(engine, base, "admin").get("/loyalty/nope/settings").status == 404


def test_a_segment_chosen_to_enrol_from_is_saved_offered_by_name_and_audited(club) -> None:  # noqa: ANN001
    engine, base = club
    with engine.begin() as conn:
        segment = segment_store.create(conn, "Prepaid Tashkent", {"kind": "number_prefix", "prefixes": ["+99890"]},
                                       actor="ana")
    browser = signed_in(engine, base, "admin")
    assert f'<option value="{segment}">Prepaid Tashkent</option>' in browser.get("/loyalty/club/settings").body
    assert browser.post_form("/loyalty/club/settings", {**SETTINGS, "enrol_segment": str(segment)}).status == 303
    with engine.connect() as conn:
        assert programmes.get(conn, "club").setting("enrol_segment") == segment
    assert audited(engine, "loyalty.programme.settings")[0]["after"]["enrol_segment"] == segment
    assert f'<option value="{segment}" selected>' in browser.get("/loyalty/club/settings").body


def test_a_segment_that_is_gone_is_named_beside_its_field(club) -> None:  # noqa: ANN001
    engine, base = club
    page = signed_in(engine, base, "admin").post_form("/loyalty/club/settings", {**SETTINGS, "enrol_segment": "999"})
    assert page.status == 400 and "there is no saved segment 999" in page.body
