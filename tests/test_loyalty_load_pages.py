"""Bulk point loads over real HTTP: a marketer uploads a file (multipart, with the form's _xsrf), the
load's page lists the rows with a problem by line, another person approves it and the points are
posted; the uploader is offered no approval and is refused one; a rejection needs a reason."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import insert, select

from engage.engine.loyalty import ledger, members, programmes
from engage.engine.store.schema import AuditEntry, LoyaltyMember, Subscriber
from tests.fixtures.web import Browser, serving, signed_in

ANA, BEN = "+998901000001", "+998901000002"
FILE = f"msisdn,points,reason,external_id\n{ANA},100,Welcome gift,w-1\n{BEN},50,Welcome gift,w-2\n12345,5,Gift,w-3\n"


@pytest.fixture
def web(engine, quick_hashes, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    with engine.begin() as conn:
        conn.execute(insert(Subscriber), [{"msisdn": ANA}, {"msisdn": BEN}])
        club = programmes.create(conn, "club", "Beeline Club")
        members.enrol(conn, club.id, conn.execute(select(Subscriber.id)).scalars().all(), "api")
    with serving(engine) as base:
        yield engine, base


def upload(browser: Browser, text: str, *, enrol: bool = False, filename: str = "gifts.csv"):  # noqa: ANN201
    boundary = f"----engage{secrets.token_hex(8)}"
    fields = {"_xsrf": browser.cookie("_xsrf") or browser.xsrf(), **({"enrol": "1"} if enrol else {})}
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"Content-Type: text/csv\r\n\r\n".encode() + text.encode() + f"\r\n--{boundary}--\r\n".encode())
    return browser.request("POST", "/loyalty/club/loads", b"".join(parts),
                           {"Content-Type": f"multipart/form-data; boundary={boundary}"})


def available(engine, msisdn: str) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        member = conn.execute(select(LoyaltyMember.id).join(Subscriber, Subscriber.id == LoyaltyMember.subscriber_id)
                              .where(Subscriber.msisdn == msisdn)).scalar_one()
        return ledger.balance(conn, member).available


def test_an_upload_is_checked_and_its_page_lists_the_rows_with_a_problem(web) -> None:  # noqa: ANN001
    engine, base = web
    marketer = signed_in(engine, base, "marketer")
    sent = upload(marketer, FILE)
    assert (sent.status, sent.headers["Location"]) == (303, "/loyalty/club/loads/1")
    page = marketer.get("/loyalty/club/loads/1")
    assert page.status == 200
    assert 'id="good">2<' in page.body and 'id="bad">1<' in page.body and 'id="points">150<' in page.body
    assert '<tr data-line="4"><td>4</td>' in page.body and "msisdn: not a valid phone number" in page.body
    assert 'id="approve"' not in page.body and 'id="another-person"' in page.body
    assert available(engine, ANA) == 0


def test_the_list_shows_each_load_with_its_state_and_counts(web) -> None:  # noqa: ANN001
    engine, base = web
    marketer = signed_in(engine, base, "marketer")
    upload(marketer, FILE)
    page = marketer.get("/loyalty/club/loads")
    assert page.status == 200 and 'id="upload"' in page.body
    assert '<tr data-load="1"><td><a href="/loyalty/club/loads/1">Load 1</a></td><td>gifts.csv</td><td>pending</td>' \
           '<td>3</td><td>1</td><td>150</td>' in page.body


def test_another_person_approves_and_the_points_are_posted(web) -> None:  # noqa: ANN001
    engine, base = web
    upload(signed_in(engine, base, "marketer"), FILE)
    approver = signed_in(engine, base, "approver")
    assert 'id="approve"' in approver.get("/loyalty/club/loads/1").body
    done = approver.post_form("/loyalty/club/loads/1", {"do": "approve"})
    assert (done.status, done.headers["Location"]) == (303, "/loyalty/club/loads/1?done=approve")
    assert (available(engine, ANA), available(engine, BEN)) == (100, 50)
    page = approver.get("/loyalty/club/loads/1?done=approve")
    assert "Approved: 2 rows posted." in page.body and 'id="approve"' not in page.body


def test_the_uploader_is_refused_an_approval(web) -> None:  # noqa: ANN001
    engine, base = web
    admin = signed_in(engine, base, "admin")
    upload(admin, FILE)
    refused = admin.post_form("/loyalty/club/loads/1", {"do": "approve"})
    assert refused.status == 400 and "admin@example.com uploaded it; another person approves it" in refused.body
    assert available(engine, ANA) == 0


def test_a_rejection_needs_a_reason_and_posts_nothing(web) -> None:  # noqa: ANN001
    engine, base = web
    upload(signed_in(engine, base, "marketer"), FILE)
    approver = signed_in(engine, base, "approver")
    assert approver.post_form("/loyalty/club/loads/1", {"do": "reject", "reason": ""}).status == 400
    done = approver.post_form("/loyalty/club/loads/1", {"do": "reject", "reason": "wrong month"})
    assert done.status == 303
    assert "Rejected by approver@example.com" in approver.get("/loyalty/club/loads/1").body
    assert available(engine, ANA) == 0
    with engine.connect() as conn:
        assert conn.execute(select(AuditEntry.details).where(AuditEntry.action == "loyalty.load.reject")
                            ).scalar_one()["reason"] == "wrong month"


def test_the_same_file_again_is_refused_on_the_form(web) -> None:  # noqa: ANN001
    engine, base = web
    marketer = signed_in(engine, base, "marketer")
    upload(marketer, FILE)
    again = upload(marketer, FILE, filename="again.csv")
    assert again.status == 400 and "this file was uploaded as load 1" in again.body


def test_a_file_without_a_column_is_refused_naming_it(web) -> None:  # noqa: ANN001
    engine, base = web
    refused = upload(signed_in(engine, base, "marketer"), "msisdn,points\n+998901000001,5\n")
    assert refused.status == 400 and "the header has no column reason, external_id" in refused.body


def test_the_report_csv_masks_numbers_for_a_marketer(web) -> None:  # noqa: ANN001
    engine, base = web
    marketer = signed_in(engine, base, "marketer")
    upload(marketer, f"msisdn,points,reason,external_id\n{ANA},-1,Gift,x-1\n")
    report = marketer.get("/loyalty/club/loads/1/problems.csv")
    assert report.status == 200 and report.headers["Content-Type"].startswith("text/csv")
    assert report.body.splitlines()[1].startswith("2,+99890*****01,,Gift,x-1,\"points: -1 is not positive")


def test_only_editors_upload_and_branch_users_see_no_loads(web) -> None:  # noqa: ANN001
    engine, base = web
    assert upload(signed_in(engine, base, "approver"), FILE).status == 403
    assert upload(signed_in(engine, base, "marketer", branch="north"), FILE).status == 403
    assert signed_in(engine, base, "admin", branch="north").get("/loyalty/club/loads").status == 403
    assert 'id="upload"' not in signed_in(engine, base, "analyst").get("/loyalty/club/loads").body


def test_a_load_of_another_programme_is_not_found(web) -> None:  # noqa: ANN001
    engine, base = web
    marketer = signed_in(engine, base, "marketer")
    upload(marketer, FILE)
    with engine.begin() as conn:
        programmes.create(conn, "other", "Other")
    assert marketer.get("/loyalty/other/loads/1").status == 404


def test_an_approver_finds_the_waiting_load_on_the_approvals_page(web) -> None:  # noqa: ANN001
    engine, base = web
    upload(signed_in(engine, base, "marketer"), FILE)
    page = signed_in(engine, base, "approver").get("/approvals")
    assert '<a href="/loyalty/club/loads">Beeline Club (1 waiting)</a>' in page.body
