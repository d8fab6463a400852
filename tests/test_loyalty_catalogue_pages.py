"""The rewards catalogue over real HTTP: a reward added from the form and then listed with its names,
price and stock; changed (audited before and after); a mistake named beside its field with what was
typed kept, a fulfilment setting included; a level the programme lacks refused; voucher codes pasted
in and counted; read by support, refused to a marketer of a branch."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.engine.loyalty import levels, programmes, rewards
from engage.engine.store.schema import AuditEntry
from tests.fixtures.web import serving, signed_in

DATA = {"code": "data1gb", "language": ["en", "ru", ""], "name": ["1 GB of data", "1 ГБ интернета", ""],
        "description": ["For 30 days", "", ""], "points": "500", "stock": "1000", "per_member": "2", "level": "",
        "valid_from": "", "valid_until": "", "fulfilment": "none", "url": "", "timeout": "5", "active": "1",
        "do": "save"}


@pytest.fixture
def web(engine, quick_hashes, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    with engine.begin() as conn:
        club = programmes.create(conn, "club", "Club")
        levels.set_levels(conn, club.id, {"levels": [{"name": "blue", "min": 0}, {"name": "gold", "min": 5000}]})
    with serving(engine) as base:
        yield engine, base


def reward(engine, code: str = "data1gb") -> rewards.Reward:  # noqa: ANN001
    with engine.connect() as conn:
        return rewards.get(conn, programmes.get(conn, "club").id, code)


def test_a_reward_added_from_the_form_is_then_listed(web) -> None:  # noqa: ANN001
    engine, base = web
    browser = signed_in(engine, base, "marketer")
    saved = browser.post_form("/loyalty/club/rewards/new", DATA)
    assert (saved.status, saved.headers["Location"]) == (303, "/loyalty/club/rewards/data1gb?saved=1")
    made = reward(engine)
    assert (made.names, made.descriptions, made.points, made.stock, made.per_member) == (
        {"en": "1 GB of data", "ru": "1 ГБ интернета"}, {"en": "For 30 days"}, 500, 1000, 2)
    listed = browser.get("/loyalty/club/rewards").body
    assert 'data-reward="data1gb"' in listed and "en: 1 GB of data" in listed and "1,000" in listed


def test_a_reward_is_changed_and_the_change_audited_before_and_after(web) -> None:  # noqa: ANN001
    engine, base = web
    browser = signed_in(engine, base, "admin")
    browser.post_form("/loyalty/club/rewards/new", DATA)
    saved = browser.post_form("/loyalty/club/rewards/data1gb", {**DATA, "points": "450", "level": "gold"})
    assert saved.status == 303
    assert (reward(engine).points, reward(engine).level) == (450, "gold")
    with engine.connect() as conn:
        change = conn.execute(select(AuditEntry.details).where(AuditEntry.action == "loyalty.reward.change")).scalar()
    assert (change["before"]["points"], change["after"]["points"]) == (500, 450)


def test_a_price_that_is_not_a_number_is_named_beside_it_and_the_form_kept(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "admin").post_form("/loyalty/club/rewards/new", {**DATA, "points": "free"})
    assert page.status == 400
    assert 'id="error-points">&#x27;free&#x27; is not a whole number' in page.body
    assert 'value="1 GB of data"' in page.body and 'value="data1gb"' in page.body


def test_a_provisioning_address_that_is_not_one_is_named_beside_it(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "admin").post_form("/loyalty/club/rewards/new", {
        **DATA, "fulfilment": "http", "url": "ftp://example.com"})
    assert page.status == 400 and 'id="error-url">config: url: the provisioning system' in page.body


def test_a_level_the_programme_does_not_have_is_refused(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "admin").post_form("/loyalty/club/rewards/new", {**DATA, "level": "platinum"})
    assert page.status == 400 and 'id="error-level">level: the programme has no level &#x27;platinum&#x27;' in page.body


def test_a_name_without_its_language_is_named(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "admin").post_form("/loyalty/club/rewards/new", {
        **DATA, "language": ["en", "", ""], "name": ["1 GB", "1 ГБ", ""]})
    assert page.status == 400 and 'id="error-names">Row 2: the language of this name' in page.body


def test_a_taken_code_is_named_beside_the_code(web) -> None:  # noqa: ANN001
    engine, base = web
    browser = signed_in(engine, base, "admin")
    browser.post_form("/loyalty/club/rewards/new", DATA)
    page = browser.post_form("/loyalty/club/rewards/new", DATA)
    assert page.status == 400 and 'id="error-code">code: the catalogue has a reward' in page.body


def test_voucher_codes_pasted_in_are_added_once_and_counted(web) -> None:  # noqa: ANN001
    engine, base = web
    browser = signed_in(engine, base, "admin")
    browser.post_form("/loyalty/club/rewards/new", {**DATA, "code": "cinema", "fulfilment": "voucher"})
    added = browser.post_form("/loyalty/club/rewards/cinema", {"do": "codes", "codes": "KINO-1\nKINO-2\n\nKINO-1"})
    assert (added.status, added.headers["Location"]) == (303, "/loyalty/club/rewards/cinema?codes=2")
    page = browser.get("/loyalty/club/rewards/cinema?codes=2")
    assert "2 new voucher codes added" in page.body and 'id="codes-left">2 of 2 codes left' in page.body


def test_a_voucher_code_too_long_is_named_and_the_codes_kept(web) -> None:  # noqa: ANN001
    engine, base = web
    browser = signed_in(engine, base, "admin")
    browser.post_form("/loyalty/club/rewards/new", {**DATA, "code": "cinema", "fulfilment": "voucher"})
    page = browser.post_form("/loyalty/club/rewards/cinema", {"do": "codes", "codes": "KINO-1\n" + "X" * 70})
    assert page.status == 400 and 'id="error-codes">codes: line 2: a code has at most 64 characters' in page.body
    assert "KINO-1" in page.body


def test_support_reads_the_catalogue_but_may_not_change_it(web) -> None:  # noqa: ANN001
    engine, base = web
    signed_in(engine, base, "admin").post_form("/loyalty/club/rewards/new", DATA)
    browser = signed_in(engine, base, "support")
    assert browser.get("/loyalty/club/rewards").status == 200
    assert 'id="read-only"' in browser.get("/loyalty/club/rewards/data1gb").body
    assert browser.post_form("/loyalty/club/rewards/data1gb", {**DATA, "points": "1"}).status == 403


def test_a_marketer_of_a_branch_may_not_add_a_reward(web) -> None:  # noqa: ANN001
    engine, base = web
    refused = signed_in(engine, base, "marketer", branch="north").post_form("/loyalty/club/rewards/new", DATA)
    assert refused.status == 403


def test_an_unknown_reward_is_404(web) -> None:  # noqa: ANN001
    engine, base = web
    assert signed_in(engine, base, "admin").get("/loyalty/club/rewards/nope").status == 404
