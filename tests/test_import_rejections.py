"""An import's rejected rows as its page shows them: each with its line, the column at fault by its
label and the reason, a page at a time, read from the report the import wrote."""

from __future__ import annotations

import pytest

from engage.engine.subscribers import import_jobs, rejections
from tests.test_import_jobs import GOOD_AND_BAD, start, upload

pytestmark = pytest.mark.usefixtures("home")


def report_of(engine, text: str):
    job_id = start(engine, upload(text))
    import_jobs.run(engine, job_id, "UZ")
    with engine.connect() as conn:
        return import_jobs.report_file(conn, job_id, None)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))


def test_a_rejected_row_has_its_line_its_column_by_label_and_the_reason(engine):
    page = rejections.read_page(report_of(engine, GOOD_AND_BAD))
    assert page.where == "line" and page.first == 1 and not page.more
    first, second = page.rows
    assert (first.where, first.column, first.label) == ("3", "msisdn", "Phone number")
    assert (second.where, second.column, second.label) == ("4", "birth_date", "Date of birth")
    assert second.reason == "'not a date' is not a date (YYYY-MM-DD)"


def test_a_row_wrong_as_a_whole_names_no_column(engine):
    page = rejections.read_page(report_of(engine, "msisdn,city\n+998901110001,Navoi,extra\n"))
    [row] = page.rows
    assert (row.where, row.column, row.label, row.reason) == ("2", None, "", "3 fields, but the header names 2")


def test_rejected_rows_come_a_page_at_a_time_in_line_order(engine):
    text = "msisdn,city\n" + "".join(f"{i},Navoi\n" for i in range(1, 8))  # seven numbers no one can have
    report = report_of(engine, text)
    first = rejections.read_page(report, 1, size=3)
    last = rejections.read_page(report, 3, size=3)
    assert [r.where for r in first.rows] == ["2", "3", "4"] and first.more
    assert [r.where for r in last.rows] == ["8"] and last.first == 7 and not last.more
