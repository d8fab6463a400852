"""The Subscribers pages and their API over real HTTP: numbers masked by the server for roles that
need not see them, a branch user kept to their branch, imports refused without the form's XSRF
token, the roles that may not look people up or import kept out."""

from __future__ import annotations

import json
import re
import secrets
import time
import urllib.parse

import pytest
from sqlalchemy import func, select

from engage.engine.store.schema import ImportJob
from tests.fixtures.web import Browser, serving, signed_in
from tests.subscriber_story import AZIZ, SAM, add_people, message_and_reply

TOKENS = "hq-token,north-token@north"
CSV = "msisdn,first_name,city\n+998901110001,Olim,Navoi\n12,Broken,Navoi\n+998901110002,Jasur,Navoi\n"


@pytest.fixture
def web(engine, quick_hashes, tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    ids = add_people(engine)
    message_and_reply(engine, AZIZ)
    with serving(engine, tokens=TOKENS) as base:
        yield engine, base, ids


def multipart(fields: dict[str, str], file_text: str, filename: str = "people.csv",
              file_encoding: str = "utf-8") -> tuple[bytes, str]:
    boundary = f"----engage{secrets.token_hex(8)}"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 f"Content-Type: text/csv\r\n\r\n{file_text}\r\n--{boundary}--\r\n")
    body = "".join(parts).encode(file_encoding)  # the framing is ASCII in any of the encodings used
    return body, f"multipart/form-data; boundary={boundary}"


def upload(browser: Browser, text: str = CSV, *, xsrf: bool = True):
    fields = {"_xsrf": browser.cookie("_xsrf") or browser.xsrf()} if xsrf else {}
    body, content_type = multipart(fields, text)
    return browser.request("POST", "/subscribers/import", body, {"Content-Type": content_type})


def finished(browser: Browser, job_id: int, headers: dict[str, str] | None = None) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reply = browser.request("GET", f"/api/v1/imports/{job_id}", None, headers)
        assert reply.status == 200, reply.body
        job = reply.json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"import {job_id} not finished: {job}")


def job_id_of(reply) -> int:
    assert reply.status == 303, reply.body
    return int(re.fullmatch(r"/subscribers/import/(\d+)", reply.headers["Location"]).group(1))


def jobs(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(ImportJob)).scalar_one()


def test_a_marketer_sees_numbers_masked_in_the_list_the_profile_and_the_json(web):
    engine, base, ids = web
    marketer = signed_in(engine, base, "marketer")
    page = marketer.get("/subscribers?field=city&value=Tashkent")
    assert page.status == 200 and "+99890*****01" in page.body and AZIZ not in page.body
    profile = marketer.get(f"/subscribers/{ids[AZIZ]}")
    assert "+99890*****01" in profile.body and AZIZ not in profile.body
    api = marketer.get(f"/api/v1/subscribers?q={urllib.parse.quote(AZIZ)}")
    assert api.json()["subscribers"][0]["msisdn"] == "+99890*****01" and AZIZ not in api.body
    assert AZIZ not in marketer.get(f"/api/v1/subscribers/{ids[AZIZ]}").body


@pytest.mark.parametrize("role", ["support", "admin"])
def test_support_and_admin_see_whole_numbers(web, role):
    engine, base, ids = web
    browser = signed_in(engine, base, role)
    assert AZIZ in browser.get("/subscribers?q=%2B99890").body
    assert browser.get(f"/api/v1/subscribers/{ids[AZIZ]}").json()["subscriber"]["msisdn"] == AZIZ


def test_a_marketer_may_not_search_by_part_of_a_number(web):
    engine, base, _ = web
    page = signed_in(engine, base, "marketer").get("/subscribers?q=%2B99890")
    assert page.status == 400 and "is not a whole phone number" in page.body


def test_a_bad_field_is_shown_on_the_page_and_answered_by_the_api_naming_it(web):
    engine, base, _ = web
    admin = signed_in(engine, base, "admin")
    page = admin.get("/subscribers?field=colour&value=red")
    assert page.status == 400 and "field: &#x27;colour&#x27; is not a subscriber field" in page.body
    api = admin.get("/api/v1/subscribers?field=balance&value=lots")
    assert api.status == 400 and api.json()["error"] == "value: balance: 'lots' is not a number"


def test_the_profile_page_shows_the_message_its_receipt_and_the_reply(web):
    engine, base, ids = web
    page = signed_in(engine, base, "support").get(f"/subscribers/{ids[AZIZ]}")
    assert page.status == 200
    for shown in ("Spring offer", "Hi Aziz, double points this week!", "DELIVRD", "STOP please", "Opted out"):
        assert shown in page.body


def test_a_branch_user_finds_only_their_branch_and_cannot_open_another_branchs_subscriber(web):
    engine, base, ids = web
    north = signed_in(engine, base, "support", branch="north")
    assert SAM not in north.get("/subscribers?q=%2B998").body
    assert north.get(f"/subscribers/{ids[SAM]}").status == 404
    assert north.get(f"/api/v1/subscribers/{ids[SAM]}").status == 404
    assert north.get(f"/subscribers/{ids[AZIZ]}").status == 200


def test_a_branch_token_reads_only_its_branch_with_numbers_masked(web):
    engine, base, ids = web
    token = {"Authorization": "Bearer north-token"}
    browser = Browser(base)
    assert browser.request("GET", f"/api/v1/subscribers/{ids[SAM]}", None, token).status == 404
    found = browser.request("GET", "/api/v1/subscribers?field=city&value=Tashkent", None, token).json()
    assert [s["msisdn"] for s in found["subscribers"]] == ["+99890*****01", "+99890*****02"]


def test_an_analyst_may_look_people_up_but_not_import(web):
    engine, base, ids = web
    analyst = signed_in(engine, base, "analyst")
    assert analyst.get(f"/subscribers/{ids[AZIZ]}").status == 200
    assert analyst.get("/subscribers/import").status == 403
    assert upload(analyst).status == 403
    assert jobs(engine) == 0


@pytest.mark.parametrize("role", ["partner", "approver"])
def test_partners_and_approvers_have_no_subscriber_pages_or_api(web, role):
    engine, base, ids = web
    browser = signed_in(engine, base, role)
    assert browser.get("/subscribers").status == 403
    assert browser.get(f"/subscribers/{ids[AZIZ]}").status == 403
    assert browser.get("/api/v1/subscribers?q=%2B998901000001").status == 403


def test_a_signed_out_visitor_is_sent_to_sign_in(web):
    _, base, _ = web
    reply = Browser(base).get("/subscribers")
    assert reply.status == 302 and reply.headers["Location"].startswith("/login?next=")


def test_an_upload_without_the_forms_xsrf_token_is_refused_and_makes_no_job(web):
    engine, base, _ = web
    admin = signed_in(engine, base, "admin")
    assert upload(admin, xsrf=False).status == 403
    assert jobs(engine) == 0


def test_an_upload_becomes_a_job_whose_progress_the_api_tells(web):
    engine, base, _ = web
    marketer = signed_in(engine, base, "marketer")
    job_id = job_id_of(upload(marketer))
    job = finished(marketer, job_id)
    assert (job["status"], job["percent"], job["rows_imported"], job["rows_rejected"]) == ("done", 100, 2, 1)
    page = marketer.get(f"/subscribers/import/{job_id}")
    assert page.status == 200 and f'href="/subscribers/import/{job_id}/rejected.csv"' in page.body


def test_the_rejected_rows_download_as_csv(web):
    engine, base, _ = web
    admin = signed_in(engine, base, "admin")
    job_id = job_id_of(upload(admin))
    finished(admin, job_id)
    report = admin.get(f"/subscribers/import/{job_id}/rejected.csv")
    assert report.status == 200 and report.headers["Content-Type"].startswith("text/csv")
    assert report.body.splitlines()[0] == "line,reason" and report.body.splitlines()[1].startswith("3,msisdn:")


def test_another_branch_cannot_see_an_import_or_its_report(web):
    engine, base, _ = web
    north = signed_in(engine, base, "marketer", branch="north")
    job_id = job_id_of(upload(north))
    finished(north, job_id)
    south = signed_in(engine, base, "marketer", branch="south")
    assert south.get(f"/subscribers/import/{job_id}").status == 404
    assert south.get(f"/subscribers/import/{job_id}/rejected.csv").status == 404
    assert south.get(f"/api/v1/imports/{job_id}").status == 404


def test_an_upload_in_the_encoding_the_form_names_is_read_in_it(web):
    engine, base, _ = web
    admin = signed_in(engine, base, "admin")
    body, content_type = multipart({"_xsrf": admin.cookie("_xsrf") or admin.xsrf(), "encoding": "cp1251"},
                                   "msisdn,first_name\n+998901110009,Ольга\n", file_encoding="cp1251")
    job = finished(admin, job_id_of(admin.request("POST", "/subscribers/import", body, {"Content-Type": content_type})))
    assert (job["rows_imported"], job["rows_rejected"]) == (1, 0)
    assert "Ольга" in admin.get("/subscribers?q=%2B998901110009").body


def test_an_api_import_with_an_unknown_encoding_is_a_400_naming_it_and_makes_no_job(web):
    engine, base, _ = web
    reply = Browser(base).request("POST", "/api/v1/imports?filename=crm.csv&encoding=klingon", CSV.encode(),
                                  {"Authorization": "Bearer hq-token", "Content-Type": "text/csv"})
    assert reply.status == 400 and "encoding: unknown encoding 'klingon'" in reply.json()["error"]
    assert jobs(engine) == 0


def test_an_upload_over_the_size_limit_is_refused(web, monkeypatch):
    engine, base, _ = web
    monkeypatch.setenv("ENGAGE_MAX_UPLOAD_MB", "0.0001")  # 104 bytes
    reply = upload(signed_in(engine, base, "admin"), CSV * 3)
    assert reply.status == 413 and "larger than the limit" in reply.body
    assert jobs(engine) == 0


def test_an_integration_imports_a_raw_csv_body_with_its_token(web):
    engine, base, _ = web
    token = {"Authorization": "Bearer north-token"}
    browser = Browser(base)
    reply = browser.request("POST", "/api/v1/imports?filename=crm.csv", CSV.encode(),
                            {**token, "Content-Type": "text/csv"})
    assert reply.status == 202, reply.body
    job = finished(browser, reply.json()["id"], token)
    assert (job["filename"], job["branch"], job["created_by"], job["rows_imported"]) == ("crm.csv", "north", "api", 2)
    rejected = browser.request("GET", job["report"], None, token)
    assert rejected.status == 200 and rejected.body.startswith("line,reason")


def test_a_session_upload_to_the_api_needs_the_xsrf_header(web):
    engine, base, _ = web
    admin = signed_in(engine, base, "admin")
    assert admin.request("POST", "/api/v1/imports", CSV.encode(), {"Content-Type": "text/csv"}).status == 403
    reply = admin.request("POST", "/api/v1/imports", CSV.encode(),
                          {"Content-Type": "text/csv", "X-XSRFToken": admin.cookie("_xsrf") or admin.xsrf()})
    assert reply.status == 202 and json.loads(reply.body)["status"] == "queued"
    assert finished(admin, reply.json()["id"])["rows_imported"] == 2
