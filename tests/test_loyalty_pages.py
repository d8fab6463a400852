"""The loyalty back office over real HTTP: a programme's figures, its rules created and changed (a new
version) by admin and marketer of no branch with errors named field by field, the tester that saves
nothing, a member's ledger found by number; reading for support and analysts, nothing for approvers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, update

from engage.engine.loyalty import ledger, members, programmes, rules
from engage.engine.loyalty.ledger import Credit
from engage.engine.store.schema import AuditEntry, LoyaltyMember, LoyaltyRuleVersion, Subscriber
from tests.fixtures.web import serving, signed_in

RULE = '{"kind": "call_out", "every": 100, "points": 10}'


@pytest.fixture
def web(engine, quick_hashes, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__).values(msisdn="+998901234567", attributes={}))
        club = programmes.create(conn, "club", "Beeline Club")
        members.enrol(conn, club.id, [conn.execute(select(Subscriber.id)).scalar_one()], "api")
        member = conn.execute(select(LoyaltyMember.id)).scalar_one()
        ledger.credit(conn, [Credit(member, 120, datetime.now(UTC), "rule", "usage", "a", cause_id="calls@v1")])
        rules.create(conn, club.id, "calls", "Outgoing calls", {"kind": "call_out", "every": 100, "points": 10},
                     actor="ana")
    with serving(engine) as base:
        yield engine, base


def test_the_page_shows_the_programmes_figures_and_rules(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "analyst").get("/loyalty")
    assert page.status == 200
    assert 'id="members">1<' in page.body and 'id="outstanding">120<' in page.body
    assert 'id="liability">1.20 USD<' in page.body
    assert "10 points for every 100 minutes of outgoing calls" in page.body


def test_the_points_earned_are_said_by_the_rules_name_and_version(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "analyst").get("/loyalty")
    assert "<td>Outgoing calls (version 1)</td><td>120</td>" in page.body
    assert "Members by level: no level 1" in page.body


def test_an_approver_has_no_loyalty_pages(web) -> None:  # noqa: ANN001
    engine, base = web
    assert signed_in(engine, base, "approver").get("/loyalty").status == 403


def test_a_marketer_creates_a_rule(web) -> None:  # noqa: ANN001
    engine, base = web
    saved = signed_in(engine, base, "marketer").post_form("/loyalty/club/rules/new", {
        "code": "data", "name": "Data", "definition": '{"kind": "data", "every": 1024, "points": 5}',
        "valid_from": "", "events": "", "level": "", "do": "save"})
    assert (saved.status, saved.headers["Location"]) == (303, "/loyalty/club/rules/data?saved=1")
    with engine.connect() as conn:
        assert conn.execute(select(AuditEntry.action).where(AuditEntry.action == "loyalty.rule.create")).scalar()


def test_saving_a_known_rule_adds_a_version(web) -> None:  # noqa: ANN001
    engine, base = web
    signed_in(engine, base, "admin").post_form("/loyalty/club/rules/calls", {
        "definition": '{"kind": "call_out", "every": 100, "points": 15}', "valid_from": "", "events": "",
        "level": "", "do": "save"})
    with engine.connect() as conn:
        assert sorted(conn.execute(select(LoyaltyRuleVersion.version)).scalars()) == [1, 2]


def test_a_rule_that_cannot_work_is_shown_again_naming_the_field(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "marketer").post_form("/loyalty/club/rules/new", {
        "code": "data", "name": "", "definition": '{"kind": "data", "every": -1, "points": 5}', "valid_from": "",
        "events": "", "level": "", "do": "save"})
    assert page.status == 400 and "every: -1" in page.body
    assert "&quot;every&quot;: -1" in page.body  # what was typed is kept


def test_trying_a_rule_shows_what_each_event_gives_and_saves_nothing(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "marketer").post_form("/loyalty/club/rules/new", {
        "code": "try", "name": "", "definition": RULE, "valid_from": "", "level": "",
        "events": "2027-01-05T09:00=250\n2027-01-05T10:00=50", "do": "try"})
    assert page.status == 200
    assert 'data-points="20"' in page.body and 'data-points="10"' in page.body
    assert "In all: 30 points." in page.body
    with engine.connect() as conn:
        assert conn.execute(select(LoyaltyRuleVersion.id)).all() == [(1,)]


def test_a_tester_line_that_is_not_an_event_is_named(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "marketer").post_form("/loyalty/club/rules/new", {
        "code": "try", "name": "", "definition": RULE, "valid_from": "", "level": "", "events": "yesterday",
        "do": "try"})
    assert page.status == 400 and "events: line 1" in page.body


def test_support_reads_rules_but_may_not_change_them(web) -> None:  # noqa: ANN001
    engine, base = web
    browser = signed_in(engine, base, "support")
    assert browser.get("/loyalty/club/rules/calls").status == 200
    assert browser.post_form("/loyalty/club/rules/calls", {"definition": RULE, "do": "save"}).status == 403


def test_a_user_of_a_branch_may_not_change_the_programmes_rules(web) -> None:  # noqa: ANN001
    engine, base = web
    refused = signed_in(engine, base, "marketer", branch="north").post_form("/loyalty/club/rules/new", {
        "code": "x", "definition": RULE, "do": "save"})
    assert refused.status == 403


def test_support_finds_a_members_ledger_by_number(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "support").get("/loyalty/club/member?msisdn=%2B998901234567")
    assert "<strong>120</strong> points available" in page.body and 'data-kind="earn"' in page.body


def test_a_user_of_another_branch_does_not_find_the_member(web) -> None:  # noqa: ANN001
    engine, base = web
    with engine.begin() as conn:
        conn.execute(update(Subscriber).values(branch="south"))
    page = signed_in(engine, base, "support", branch="north").get("/loyalty/club/member?msisdn=%2B998901234567")
    assert "is not a member of Beeline Club." in page.body and "points available" not in page.body


def test_a_number_that_is_no_member_is_said_so(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "support").get("/loyalty/club/member?msisdn=%2B998909999999")
    assert "+998909999999 is not a member of Beeline Club." in page.body


def test_an_unknown_programme_or_rule_is_404(web) -> None:  # noqa: ANN001
    engine, base = web
    browser = signed_in(engine, base, "admin")
    assert browser.get("/loyalty/nope/rules/new").status == 404
    assert browser.get("/loyalty/club/rules/nope").status == 404
