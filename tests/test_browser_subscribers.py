"""The Subscribers pages in a browser: an admin imports a CSV with some bad rows, watches the
progress bar reach 100 % (an open progress page follows its job by polling), reads the rejected
rows on the page and downloads them; then finds a subscriber by number, or by part of a name in
any script, and opens their labelled profile and their history in words."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from engage.engine.subscribers import import_jobs, upsert
from tests.fixtures.browser import screenshot, sign_in
from tests.fixtures.web import add_user
from tests.subscriber_story import AZIZ, add_people, message_and_reply

ROWS = 20_000  # enough for the bar to move while the page watches on a slow machine
BAD = {7: "12345", 5001: "not a number", 19_999: "+99890"}  # data line -> a number no one can have


def people_csv() -> bytes:
    lines = ["msisdn,first_name,city,language"]
    for i in range(ROWS):
        lines.append(f"{BAD.get(i, f'+99893{3000000 + i:07d}')},Name{i},Navoi,uz")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def admin(site, quick_hashes, page, tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    engine, base = site
    add_user(engine, "ada@example.com", "admin")
    return engine, base, page


def test_an_import_shows_its_progress_and_its_rejected_rows_can_be_downloaded(admin):
    engine, base, page = admin
    sign_in(page, base, "ada@example.com", "/subscribers/import")
    page.set_input_files("#file", files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": people_csv()}])
    page.click("#start")
    page.wait_for_url(f"{base}/subscribers/import/*")
    expect(page.locator("#status")).to_have_attribute("data-status", "done", timeout=120_000)
    expect(page.locator("#progress")).to_have_attribute("data-percent", "100")
    assert page.locator("#progress span").evaluate("e => e.style.width") == "100%"
    expect(page.locator("#rows-imported")).to_have_text(str(ROWS - len(BAD)))
    expect(page.locator("#rows-rejected")).to_have_text(str(len(BAD)))
    rejected = page.locator("#rejected tbody tr")  # drawn once the job finished, without a reload
    expect(rejected).to_have_count(len(BAD))
    expect(rejected.first.locator("td")).to_have_text(["9", "Phone number", re.compile(r"^'12345' is not a valid")])
    screenshot(page, "subscribers-import-done")
    with page.expect_download() as download:
        page.click("#report-link")
    with open(download.value.path(), encoding="utf-8") as fh:
        rows = list(csv.reader(io.StringIO(fh.read())))
    assert rows[0] == ["line", "reason"]
    assert [int(r[0]) for r in rows[1:]] == [i + 2 for i in sorted(BAD)]  # data line i is file line i + 2
    assert all(r[1].startswith("msisdn:") for r in rows[1:])


def test_the_progress_page_follows_a_job_that_runs_after_it_was_opened(admin):
    engine, base, page = admin
    path = import_jobs.imports_dir() / "queued.csv"
    path.write_bytes(people_csv())
    with engine.begin() as conn:
        job_id = import_jobs.create(conn, filename="queued.csv", path=path, actor="ada@example.com", branch=None)
    sign_in(page, base, "ada@example.com", f"/subscribers/import/{job_id}")
    expect(page.locator("#status")).to_have_attribute("data-status", "queued")
    expect(page.locator("#progress")).to_have_attribute("data-percent", "0")
    expect(page.locator("#report")).to_be_hidden()
    import_jobs.run(engine, job_id, "UZ")  # as the web process's import thread would
    expect(page.locator("#status")).to_have_attribute("data-status", "done")
    expect(page.locator("#progress")).to_have_attribute("data-percent", "100")
    expect(page.locator("#rows-rejected")).to_have_text(str(len(BAD)))
    expect(page.locator("#report")).to_be_visible()


def test_a_number_finds_the_subscriber_whose_history_shows_the_message_and_the_reply(admin):
    engine, base, page = admin
    add_people(engine)
    message_and_reply(engine, AZIZ)
    sign_in(page, base, "ada@example.com", "/subscribers")
    page.fill("#q", "+998 90 100 00 01")
    page.click("#search button[type=submit]")
    result = page.locator("#subscribers a.number")
    expect(result).to_have_count(1)
    expect(result).to_have_text(AZIZ)
    screenshot(page, "subscribers-search")
    result.click()
    expect(page.locator("#number")).to_have_text(AZIZ)
    message = page.locator("#history tr[data-kind=message]")
    expect(message).to_contain_text("Spring offer")
    expect(message).to_contain_text("Hi Aziz, double points this week!")
    expect(page.locator("#history tr[data-kind=reply]")).to_contain_text("STOP please")
    receipt = page.locator("#history tr[data-kind=receipt] .outcome")
    expect(receipt).to_have_text("Delivered")
    expect(receipt).to_have_attribute("title", "DELIVRD (error 000)")
    expect(page.locator("#profile dt").first).to_have_text("First name")
    screenshot(page, "subscriber-history")


def test_part_of_a_cyrillic_name_in_lower_case_finds_the_subscriber(admin):
    engine, base, page = admin
    upsert(engine, [{"msisdn": "+998901000077", "first_name": "Дилноза", "last_name": "Юсупова"}])
    sign_in(page, base, "ada@example.com", "/subscribers")
    page.select_option("#field", label="First name")
    page.select_option("#op", "contains")
    page.fill("#value", "дилн")
    page.click("#search button[type=submit]")
    expect(page.locator("#subscribers tbody tr")).to_have_count(1)
    expect(page.locator("#subscribers tbody tr td").nth(1)).to_have_text("Дилноза Юсупова")
    screenshot(page, "subscribers-search-cyrillic")
