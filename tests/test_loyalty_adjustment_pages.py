"""Adjustments over real HTTP: support asks on the member's ledger page, with a reason; a small one is
posted at once, a big one waits on the programme's adjustments page until an approver (not the asker)
approves or rejects it; marketers ask but never decide; forms carry the XSRF field; a user of a
branch reaches only that branch's members; numbers are masked for those who may not see them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select

from engage.engine.loyalty import adjustments, ledger, members, programmes
from engage.engine.loyalty.ledger import Credit
from engage.engine.store.schema import AuditEntry, Subscriber
from tests.fixtures.web import serving, signed_in

NORTH, SOUTH = "+998901000001", "+998901000002"


@pytest.fixture
def web(engine, quick_hashes, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    """The club with a north member holding 300 points and a south member."""
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    with engine.begin() as conn:
        ids = [conn.execute(insert(Subscriber.__table__).values(msisdn=n, branch=b, attributes={}))
               .inserted_primary_key[0] for n, b in ((NORTH, "north"), (SOUTH, "south"))]
        club = programmes.create(conn, "club", "Beeline Club")
        members.enrol(conn, club.id, ids, "api")
        ledger.credit(conn, [Credit(members.find(conn, club.id, ids[0]).id, 300, datetime.now(UTC), "rule", "usage",
                                    "u1")])
    with serving(engine) as base:
        yield engine, base


def adjust(browser, points: str, reason: str = "goodwill after an outage", msisdn: str = NORTH):  # noqa: ANN001, ANN201
    return browser.post_form("/loyalty/club/adjustments/new", {"msisdn": msisdn, "points": points, "reason": reason})


def balance(engine, msisdn: str = NORTH) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        member = adjustments.member_of(conn, programmes.get(conn, "club").id, msisdn)
        return ledger.balance(conn, member).available


def only_adjustment(engine) -> adjustments.Adjustment:  # noqa: ANN001
    with engine.connect() as conn:
        [found] = adjustments.pending(conn, programmes.get(conn, "club").id) or adjustments.decided(
            conn, programmes.get(conn, "club").id)
        return found


def test_support_adjusts_a_few_points_from_the_members_page_at_once(web) -> None:  # noqa: ANN001
    engine, base = web
    support = signed_in(engine, base, "support")
    done = adjust(support, "50")
    assert done.status == 303 and done.headers["Location"].startswith("/loyalty/club/member?msisdn=%2B998901000001")
    page = support.get(done.headers["Location"])
    assert 'id="adjusted"' in page.body and 'data-state="posted"' in page.body
    assert "<strong>350</strong> points available" in page.body and "goodwill after an outage" in page.body


def test_the_members_page_has_the_adjust_form_with_its_xsrf_field(web) -> None:  # noqa: ANN001
    engine, base = web
    page = signed_in(engine, base, "support").get("/loyalty/club/member?msisdn=%2B998901000001")
    form = re.search(r'<form method="post" action="/loyalty/club/adjustments/new".*?</form>', page.body, re.S)
    assert form and 'name="_xsrf"' in form.group(0) and "Adjust points" in form.group(0)


def test_an_analyst_reads_the_members_page_without_the_form_and_may_not_adjust(web) -> None:  # noqa: ANN001
    engine, base = web
    analyst = signed_in(engine, base, "analyst")
    assert 'id="adjust"' not in analyst.get("/loyalty/club/member?msisdn=%2B998901000001").body
    assert adjust(analyst, "50").status == 403
    assert analyst.get("/loyalty/club/adjustments").status == 403


def test_an_adjustment_without_the_xsrf_field_is_refused(web) -> None:  # noqa: ANN001
    engine, base = web
    refused = signed_in(engine, base, "support").post_form(
        "/loyalty/club/adjustments/new", {"msisdn": NORTH, "points": "50", "reason": "x"}, xsrf=False)
    assert refused.status == 403 and balance(engine) == 300


def test_a_big_adjustment_waits_and_an_approver_approves_it(web) -> None:  # noqa: ANN001
    engine, base = web
    assert adjust(signed_in(engine, base, "support"), "5000").status == 303
    assert balance(engine) == 300
    approver = signed_in(engine, base, "approver")
    listed = approver.get("/loyalty/club/adjustments")
    waiting = only_adjustment(engine)
    assert listed.status == 200 and f'data-adjustment="{waiting.id}"' in listed.body
    assert "+5000" in listed.body and "support@example.com" in listed.body
    done = approver.post_form(f"/loyalty/club/adjustments/{waiting.id}/approve", {})
    assert (done.status, done.headers["Location"]) == (303, "/loyalty/club/adjustments?decided=posted")
    assert balance(engine) == 5300
    with engine.connect() as conn:
        assert conn.execute(select(AuditEntry.actor).where(
            AuditEntry.action == "loyalty.adjustment.approve")).scalar_one() == "approver@example.com"


def test_the_pending_list_masks_numbers_for_an_approver(web) -> None:  # noqa: ANN001
    engine, base = web
    adjust(signed_in(engine, base, "support"), "5000")
    listed = signed_in(engine, base, "approver").get("/loyalty/club/adjustments").body
    assert "+99890*****01" in listed and NORTH not in listed


def test_the_pending_lists_forms_carry_the_xsrf_field_and_reject_looks_dangerous(web) -> None:  # noqa: ANN001
    engine, base = web
    adjust(signed_in(engine, base, "support"), "5000")
    listed = signed_in(engine, base, "approver").get("/loyalty/club/adjustments").body
    forms = re.findall(r'<form method="post" action="/loyalty/club/adjustments.*?</form>', listed, re.S)
    assert len(forms) == 2 and all('name="_xsrf"' in f for f in forms)
    assert 'class="inline danger"' in forms[1] and 'name="reason"' in forms[1] and "required" in forms[1]


def test_a_marketer_may_ask_but_not_approve(web) -> None:  # noqa: ANN001
    engine, base = web
    marketer = signed_in(engine, base, "marketer")
    assert adjust(marketer, "5000").status == 303
    waiting = only_adjustment(engine)
    assert marketer.post_form(f"/loyalty/club/adjustments/{waiting.id}/approve", {}).status == 403
    assert balance(engine) == 300 and only_adjustment(engine).state == "pending"


def test_the_asker_may_not_approve_their_own_adjustment(web) -> None:  # noqa: ANN001
    engine, base = web
    admin = signed_in(engine, base, "admin")
    adjust(admin, "5000")
    waiting = only_adjustment(engine)
    assert "Another person decides" in admin.get("/loyalty/club/adjustments").body
    refused = admin.post_form(f"/loyalty/club/adjustments/{waiting.id}/approve", {})
    assert refused.status == 400 and "a second person approves" in refused.body
    assert balance(engine) == 300


def test_a_rejection_needs_a_reason_and_moves_no_points(web) -> None:  # noqa: ANN001
    engine, base = web
    adjust(signed_in(engine, base, "support"), "5000")
    waiting = only_adjustment(engine)
    approver = signed_in(engine, base, "approver")
    refused = approver.post_form(f"/loyalty/club/adjustments/{waiting.id}/reject", {"reason": ""})
    assert refused.status == 400 and "reason: say why" in refused.body
    done = approver.post_form(f"/loyalty/club/adjustments/{waiting.id}/reject", {"reason": "no outage that day"})
    assert done.headers["Location"] == "/loyalty/club/adjustments?decided=rejected"
    assert balance(engine) == 300
    shown = approver.get(done.headers["Location"]).body
    assert 'data-state="rejected"' in shown and "no outage that day" in shown


def test_approving_an_adjustment_decided_already_is_a_conflict(web) -> None:  # noqa: ANN001
    engine, base = web
    adjust(signed_in(engine, base, "support"), "5000")
    waiting = only_adjustment(engine)
    approver = signed_in(engine, base, "approver")
    approver.post_form(f"/loyalty/club/adjustments/{waiting.id}/approve", {})
    again = approver.post_form(f"/loyalty/club/adjustments/{waiting.id}/approve", {})
    assert again.status == 409 and balance(engine) == 5300


def test_a_debit_beyond_the_balance_is_shown_again_naming_the_points(web) -> None:  # noqa: ANN001
    engine, base = web
    page = adjust(signed_in(engine, base, "support"), "-400")
    assert page.status == 400 and "has 300 points available" in page.body
    assert 'value="-400"' in page.body and 'value="goodwill after an outage"' in page.body


def test_points_that_are_not_a_whole_number_are_named(web) -> None:  # noqa: ANN001
    engine, base = web
    page = adjust(signed_in(engine, base, "support"), "lots")
    assert page.status == 400 and "points: &#x27;lots&#x27; is not a whole number" in page.body


def test_a_user_of_a_branch_cannot_adjust_another_branchs_member(web) -> None:  # noqa: ANN001
    engine, base = web
    north = signed_in(engine, base, "support", branch="north")
    refused = adjust(north, "50", msisdn=SOUTH)
    assert refused.status == 400 and "is not a member" in refused.body and balance(engine, SOUTH) == 0
    assert adjust(north, "50").status == 303


def test_an_approver_of_a_branch_does_not_find_another_branchs_adjustment(web) -> None:  # noqa: ANN001
    engine, base = web
    adjust(signed_in(engine, base, "support"), "5000", msisdn=SOUTH)
    waiting = only_adjustment(engine)
    north = signed_in(engine, base, "approver", branch="north")
    assert f'data-adjustment="{waiting.id}"' not in north.get("/loyalty/club/adjustments").body
    assert north.post_form(f"/loyalty/club/adjustments/{waiting.id}/approve", {}).status == 404
    assert only_adjustment(engine).state == "pending"


def test_the_programme_page_links_the_adjustments_with_how_many_wait(web) -> None:  # noqa: ANN001
    engine, base = web
    support = signed_in(engine, base, "support")
    adjust(support, "5000")
    assert "Adjustments (1 waiting)" in support.get("/loyalty").body
    assert "Adjustments (" not in signed_in(engine, base, "analyst").get("/loyalty").body


def test_an_approver_finds_what_waits_on_the_approvals_page(web) -> None:  # noqa: ANN001
    engine, base = web
    adjust(signed_in(engine, base, "support"), "5000")
    page = signed_in(engine, base, "approver").get("/approvals").body
    assert '<a href="/loyalty/club/adjustments">Beeline Club (1 waiting)</a>' in page
    assert 'id="loyalty-adjustments"' not in signed_in(engine, base, "marketer").get("/approvals").body
