"""Imports started from the browser or the API, as jobs: progress and counts in import_jobs, the
rejected rows in a CSV report, a failure recorded as the job's error; a branch user's import writes
only that branch's subscribers."""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select, update

from engage.engine.store.schema import AuditEntry, ImportJob, Subscriber
from engage.engine.subscribers import import_jobs
from tests.subscriber_story import SAM, add_people

GOOD_AND_BAD = ("msisdn,first_name,city,birth_date\n"
                "+998901110001,Olim,Samarkand,1990-01-01\n"
                "12,Nobody,Navoi,\n"
                "+998901110002,Dilnoza,Samarkand,not a date\n"
                "+998901110003,Jasur,Samarkand,\n")


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def upload(text: str, name: str = "upload") -> Path:
    path = import_jobs.imports_dir() / name
    path.write_text(text, encoding="utf-8")
    return path


def start(engine, path: Path, *, branch: str | None = None, filename: str = "people.csv") -> int:
    with engine.begin() as conn:
        return import_jobs.create(conn, filename=filename, path=path, actor="mara@example.com", branch=branch)


def job(engine, job_id: int, branch: str | None = None):
    with engine.begin() as conn:
        return import_jobs.get(conn, job_id, branch)


def report_rows(engine, job_id: int) -> list[list[str]]:
    with engine.connect() as conn:
        path = import_jobs.report_file(conn, job_id, None)
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def branches(engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Subscriber.msisdn, Subscriber.branch)).all())


def test_a_job_imports_the_good_rows_and_counts_the_rejected_ones(engine):
    job_id = start(engine, upload(GOOD_AND_BAD))
    assert job(engine, job_id)["status"] == "queued"
    import_jobs.run(engine, job_id, "UZ")
    done = job(engine, job_id)
    assert (done["status"], done["percent"], done["total_rows"]) == ("done", 100, 4)
    assert (done["rows_read"], done["rows_imported"], done["rows_rejected"]) == (4, 2, 2)
    assert done["started_at"] is not None and done["finished_at"] is not None
    assert set(branches(engine)) == {"+998901110001", "+998901110003"}


def test_the_rejected_rows_are_reported_with_their_line_and_reason(engine):
    job_id = start(engine, upload(GOOD_AND_BAD))
    import_jobs.run(engine, job_id, "UZ")
    rows = report_rows(engine, job_id)
    assert rows[0] == ["line", "reason"]
    assert [r[0] for r in rows[1:]] == ["3", "4"]
    assert rows[1][1].startswith("msisdn:") and rows[2][1].startswith("birth_date:")
    assert job(engine, job_id)["has_report"] is True


def test_a_job_without_rejected_rows_has_no_report(engine):
    job_id = start(engine, upload("msisdn\n+998901110001\n"))
    import_jobs.run(engine, job_id, "UZ")
    assert job(engine, job_id)["has_report"] is False
    with engine.connect() as conn:
        assert import_jobs.report_file(conn, job_id, None) is None


def test_the_upload_is_removed_once_imported(engine):
    path = upload(GOOD_AND_BAD)
    import_jobs.run(engine, start(engine, path), "UZ")
    assert not path.exists()


def test_a_file_that_cannot_be_read_fails_the_job_with_the_reason(engine):
    job_id = start(engine, upload("name,city\nAziz,Tashkent\n"))
    import_jobs.run(engine, job_id, "UZ")
    failed = job(engine, job_id)
    assert failed["status"] == "failed" and "no msisdn column" in failed["error"]
    assert failed["finished_at"] is not None


def test_a_failure_names_the_file_as_uploaded_never_the_servers_path(engine):
    path = upload("\n\n")
    job_id = start(engine, path, filename="empty.csv")
    import_jobs.run(engine, job_id, "UZ")
    error = job(engine, job_id)["error"]
    assert error == "empty.csv: no header row" and str(path) not in error


def test_a_file_that_is_not_text_fails_the_job_saying_so(engine):
    path = import_jobs.imports_dir() / "binary"
    path.write_bytes(b"msisdn\n" + bytes(range(256)) * 4)
    job_id = start(engine, path, filename="photo.csv")
    import_jobs.run(engine, job_id, "UZ")
    assert job(engine, job_id)["error"].startswith("photo.csv: not a CSV file (binary data")


def test_a_row_with_a_nul_byte_is_rejected_and_the_job_imports_the_others(engine):
    job_id = start(engine, upload("msisdn,first_name\n+998901110001,Olim\n+998901110002,Dil\x00noza\n"
                                  "+998901110003,Jasur\n"))
    import_jobs.run(engine, job_id, "UZ")
    done = job(engine, job_id)
    assert (done["status"], done["rows_imported"], done["rows_rejected"]) == ("done", 2, 1)
    assert report_rows(engine, job_id)[1] == ["3", "first_name: a control character (U+0000) at character 4"]


def test_a_truncated_parquet_upload_fails_the_job_saying_so(engine):
    path = import_jobs.imports_dir() / "upload"
    pq.write_table(pa.table({"msisdn": ["+998901110001"] * 50}), path)
    path.write_bytes(path.read_bytes()[:200])
    job_id = start(engine, path, filename="people.parquet")
    import_jobs.run(engine, job_id, "UZ")
    assert job(engine, job_id)["error"].startswith("people.parquet: not a readable Parquet file")


def test_a_job_already_run_is_not_run_again(engine):
    job_id = start(engine, upload(GOOD_AND_BAD))
    import_jobs.run(engine, job_id, "UZ")
    import_jobs.run(engine, job_id, "UZ")  # another web process picking it up late: nothing happens
    assert job(engine, job_id)["status"] == "done"


def test_starting_an_import_is_in_the_audit_log(engine):
    job_id = start(engine, upload(GOOD_AND_BAD))
    with engine.connect() as conn:
        entry = conn.execute(select(AuditEntry).where(AuditEntry.action == "subscribers.import")).one()
    assert (entry.actor, entry.object_id, entry.details["filename"]) == ("mara@example.com", str(job_id),
                                                                         "people.csv")


def test_a_branch_users_import_writes_every_row_into_their_branch(engine):
    job_id = start(engine, upload("msisdn,city\n+998901110001,Navoi\n+998901110002,Navoi\n"), branch="north")
    import_jobs.run(engine, job_id, "UZ")
    assert branches(engine) == {"+998901110001": "north", "+998901110002": "north"}


def test_a_branch_users_import_rejects_rows_naming_another_branch(engine):
    text = "msisdn,branch\n+998901110001,north\n+998901110002,south\n+998901110003,\n"
    job_id = start(engine, upload(text), branch="north")
    import_jobs.run(engine, job_id, "UZ")
    assert branches(engine) == {"+998901110001": "north", "+998901110003": "north"}
    assert report_rows(engine, job_id)[1:] == [
        ["3", "branch: 'south' is another branch; an import by branch 'north' writes only its own subscribers"]]


def test_a_branch_users_import_leaves_another_branchs_subscribers_alone(engine):
    add_people(engine)
    job_id = start(engine, upload(f"msisdn,city\n{SAM},Khiva\n+998901110001,Khiva\n"), branch="north")
    import_jobs.run(engine, job_id, "UZ")
    with engine.connect() as conn:
        sam = conn.execute(select(Subscriber.city, Subscriber.branch).where(Subscriber.msisdn == SAM)).one()
    assert tuple(sam) == ("Bukhara", "south")
    assert report_rows(engine, job_id)[1:] == [["2", "msisdn: the number is a subscriber of another branch"]]
    assert (job(engine, job_id)["rows_imported"], job(engine, job_id)["rows_rejected"]) == (1, 1)


def test_a_branch_import_of_a_parquet_file_rejects_by_row(engine):
    path = import_jobs.imports_dir() / "people.parquet"
    pq.write_table(pa.table({"msisdn": ["+998901110001", "+998901110002"], "branch": ["north", "south"]}), path)
    job_id = start(engine, path, branch="north")
    import_jobs.run(engine, job_id, "UZ")
    assert branches(engine) == {"+998901110001": "north"}
    assert report_rows(engine, job_id)[1][0] == "2" and report_rows(engine, job_id)[0] == ["row", "reason"]


def test_a_branch_import_reports_its_progress_chunk_by_chunk(engine):
    lines = "".join(f"+99890{2000000 + i:07d},Navoi\n" for i in range(25))
    seen = []
    report = import_jobs.import_for_branch(engine, upload("msisdn,city\n" + lines), "UZ", "north", chunk_rows=10,
                                           progress=lambda r: seen.append((r.rows, r.imported)))
    assert seen == [(10, 10), (20, 20), (25, 25)]
    assert report.imported == 25


def test_a_job_is_not_visible_to_another_branch(engine):
    job_id = start(engine, upload(GOOD_AND_BAD), branch="north")
    assert job(engine, job_id, "south") is None
    assert job(engine, job_id, "north") is not None and job(engine, job_id, None) is not None


def running_since(engine, job_id: int, minutes: int) -> None:
    """As if a process took the job and was last heard of ``minutes`` ago."""
    then = datetime.now(UTC) - timedelta(minutes=minutes)
    with engine.begin() as conn:
        conn.execute(update(ImportJob).where(ImportJob.id == job_id)
                     .values(status="running", started_at=then, updated_at=then))


def test_a_running_job_silent_for_ten_minutes_is_reported_interrupted(engine):
    job_id = start(engine, upload(GOOD_AND_BAD))
    running_since(engine, job_id, 11)
    found = job(engine, job_id)
    assert found["status"] == "failed" and found["error"].startswith("interrupted")
    assert job(engine, job_id)["status"] == "failed"  # recorded, not only shown


def test_a_running_job_heard_from_recently_is_left_running(engine):
    job_id = start(engine, upload(GOOD_AND_BAD))
    running_since(engine, job_id, 2)
    assert job(engine, job_id)["status"] == "running"


def test_a_job_still_queued_after_ten_minutes_is_reported_interrupted_and_its_upload_removed(engine):
    path = upload(GOOD_AND_BAD, name="never-taken")
    job_id = start(engine, path)
    then = datetime.now(UTC) - timedelta(minutes=11)
    with engine.begin() as conn:
        conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(created_at=then, updated_at=then))
    found = job(engine, job_id)
    assert found["status"] == "failed" and found["error"].startswith("interrupted")
    assert not path.exists()


def test_a_job_queued_a_moment_ago_stays_queued(engine):
    job_id = start(engine, upload(GOOD_AND_BAD, name="just-queued"))
    assert job(engine, job_id)["status"] == "queued"


def test_a_job_reads_its_csv_in_the_encoding_it_was_given(engine):
    path = import_jobs.imports_dir() / "cp1251.csv"
    path.write_bytes("msisdn,first_name\n+998901110001,Ольга\n".encode("cp1251"))
    with engine.begin() as conn:
        job_id = import_jobs.create(conn, filename="people.csv", path=path, actor="mara@example.com", branch=None,
                                    encoding="cp1251")
    import_jobs.run(engine, job_id, "UZ")
    assert (job(engine, job_id)["status"], job(engine, job_id)["rows_rejected"]) == ("done", 0)
    with engine.connect() as conn:
        assert conn.execute(select(Subscriber.first_name)).scalar_one() == "Ольга"


def test_a_job_without_an_encoding_rejects_the_lines_it_cannot_read_as_utf8(engine):
    path = import_jobs.imports_dir() / "cp1251.csv"
    path.write_bytes("msisdn,first_name\n+998901110001,Ольга\n+998901110002,Olga\n".encode("cp1251"))
    job_id = start(engine, path)
    import_jobs.run(engine, job_id, "UZ")
    assert (job(engine, job_id)["rows_imported"], job(engine, job_id)["rows_rejected"]) == (1, 1)
    assert "not UTF-8 (byte 0xCE at character 1)" in report_rows(engine, job_id)[1][1]


def test_an_encoding_python_does_not_know_is_refused_naming_it(engine):
    with engine.begin() as conn, pytest.raises(import_jobs.RowError, match="encoding: unknown encoding 'klingon'"):
        import_jobs.create(conn, filename="p.csv", path=upload("msisdn\n"), actor="m", branch=None, encoding="klingon")
