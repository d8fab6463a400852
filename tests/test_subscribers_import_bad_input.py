"""One bad row never sinks a subscriber import: every good row is kept and each bad one is reported
with its line and field (a NUL byte, a 128 KB value, a byte the file's encoding cannot decode, a
quote left open); a file that is not CSV text at all, or a damaged Parquet file, is refused with a
clear error; numbers are counted once however they are spelt. Reproduced on SQLite and on
PostgreSQL, whose COPY path is where a NUL byte once failed the whole import."""

from __future__ import annotations

import csv
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from engage.cli import main as cli
from engage.engine.store.schema import Subscriber
from engage.engine.subscribers import RowError, import_file, upsert_records
from engage.engine.subscribers.import_jobs import import_for_branch

GOOD_ROWS = 5000


def good_lines(count: int = GOOD_ROWS, first: int = 0) -> list[str]:
    return [f"+99890{first + i:07d},Name{i},Tashkent" for i in range(count)]


def write_bytes(tmp_path: Path, data: bytes, name: str = "subs.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def with_bad_row(tmp_path: Path, bad: bytes, at: int = 2500) -> Path:
    """5,000 good rows with `bad` as the row at file line at + 2 (after the header)."""
    lines = [line.encode() for line in good_lines()]
    lines.insert(at, bad)
    return write_bytes(tmp_path, b"msisdn,first_name,city\n" + b"\n".join(lines) + b"\n")


def stored(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(Subscriber)).scalar()


def names(engine) -> dict[str, str | None]:
    with engine.connect() as conn:
        return dict(conn.execute(select(Subscriber.msisdn, Subscriber.first_name)).all())


def test_a_row_with_a_nul_byte_is_rejected_and_the_5000_good_rows_are_imported(engine, tmp_path):
    report = import_file(engine, with_bad_row(tmp_path, b"+998911111111,Ali\x00ce,Tashkent"), "UZ")
    assert (report.rows, report.imported, stored(engine)) == (5001, 5000, 5000)
    assert report.rejected == [(2502, "first_name: a control character (U+0000) at character 4")]


def test_a_128_kb_field_is_rejected_and_the_5000_good_rows_are_imported(engine, tmp_path):
    report = import_file(engine, with_bad_row(tmp_path, b"+998911111111,Ali," + b"x" * 131_073), "UZ")
    assert (report.rows, report.imported, stored(engine)) == (5001, 5000, 5000)
    [(line, reason)] = report.rejected
    assert line == 2502 and "131,072" in reason


def test_an_attribute_longer_than_10_kb_is_rejected_by_its_column(engine, tmp_path):
    text = "msisdn,plan\n+998911111111," + "x" * 10_001 + "\n+998911111112," + "y" * 10_000 + "\n"
    report = import_file(engine, write_bytes(tmp_path, text.encode()), "UZ")
    assert report.rejected == [(2, "plan: 10,001 characters, more than the 10,000 a value may have")]
    assert stored(engine) == 1


def test_whole_number_fields_are_stored_on_both_databases(engine, tmp_path):
    text = "msisdn,sms_month,loyalty_points\n+998911111111,12,9000000000\n"
    report = import_file(engine, write_bytes(tmp_path, text.encode()), "UZ")
    assert (report.imported, report.rejected) == (1, [])
    with engine.connect() as conn:
        assert conn.execute(select(Subscriber.sms_month, Subscriber.loyalty_points)).one() == (12, 9_000_000_000)


def test_a_catalogue_field_longer_than_1000_characters_is_rejected_without_echoing_it(engine, tmp_path):
    report = import_file(engine, with_bad_row(tmp_path, b"+998911111111," + b"A" * 5000 + b",Tashkent"), "UZ")
    assert report.rejected == [(2502, "first_name: 5,000 characters, more than the 1,000 a value may have")]


def test_a_latin1_byte_rejects_its_row_only_naming_the_byte_and_the_way_out(engine, tmp_path):
    report = import_file(engine, with_bad_row(tmp_path, "+998911111111,Ren\u00e9e,Tashkent".encode("latin-1")), "UZ")
    assert (report.imported, stored(engine)) == (5000, 5000)
    [(line, reason)] = report.rejected
    assert line == 2502
    assert reason.startswith("first_name: not UTF-8 (byte 0xE9 at character 4); ")
    assert "--encoding" in reason


def test_a_latin1_file_is_read_with_its_declared_encoding(engine, tmp_path):
    path = write_bytes(tmp_path, "msisdn,first_name\n+998911111111,Ren\u00e9e\n".encode("latin-1"))
    report = import_file(engine, path, "UZ", encoding="latin-1")
    assert (report.imported, report.rejected) == (1, [])
    assert names(engine) == {"+998911111111": "Ren\u00e9e"}


def test_a_cp1251_file_is_read_with_its_declared_encoding(engine, tmp_path):
    path = write_bytes(tmp_path, "msisdn,first_name,city\n+998911111111,Анна,Ташкент\n".encode("cp1251"))
    report = import_file(engine, path, "UZ", encoding="cp1251")
    assert (report.imported, report.rejected) == (1, [])
    assert names(engine) == {"+998911111111": "Анна"}


def test_an_unknown_declared_encoding_is_refused_naming_it(engine, tmp_path):
    path = write_bytes(tmp_path, b"msisdn\n+998911111111\n")
    with pytest.raises(RowError, match="unknown encoding 'klingon'"):
        import_file(engine, path, "UZ", encoding="klingon")


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-be", "utf-8-sig"])
def test_utf16_and_utf8_files_with_a_byte_order_mark_are_read(engine, tmp_path, codec):
    text = "msisdn,first_name\n+998911111111,Анна\n+998911111112,Zoë\n"
    data = text.encode(codec) if codec != "utf-16-be" else b"\xfe\xff" + text.encode("utf-16-be")
    report = import_file(engine, write_bytes(tmp_path, data), "UZ")
    assert (report.imported, report.rejected) == (2, [])
    assert names(engine) == {"+998911111111": "Анна", "+998911111112": "Zoë"}


def test_a_binary_file_is_refused_as_not_a_csv_file(engine, tmp_path):
    path = write_bytes(tmp_path, bytes(range(256)) * 64, "photo.csv")
    with pytest.raises(RowError, match="not a CSV file"):
        import_file(engine, path, "UZ")
    assert stored(engine) == 0


def test_an_excel_workbook_is_refused_saying_to_save_it_as_csv(engine, tmp_path):
    path = write_bytes(tmp_path, b"PK\x03\x04\x14\x00\x06\x00" + bytes(200), "people.xlsx")
    with pytest.raises(RowError, match="not a CSV file .it looks like an Excel workbook"):
        import_file(engine, path, "UZ")


def test_utf16_without_a_byte_order_mark_is_refused_saying_which_encoding_to_give(engine, tmp_path):
    path = write_bytes(tmp_path, "msisdn,first_name\n+998911111111,Anna\n".encode("utf-16-le"))
    with pytest.raises(RowError, match="import it again naming its encoding, utf-16-le"):
        import_file(engine, path, "UZ")


def test_an_unterminated_quote_rejects_its_row_and_the_rows_after_it_are_imported(engine, tmp_path):
    text = ("msisdn,first_name,city\n+998911111111,\"Aziz,Tashkent\n"
            + "\n".join(good_lines(10)) + "\n")
    report = import_file(engine, write_bytes(tmp_path, text.encode()), "UZ")
    assert (report.rows, report.imported, stored(engine)) == (11, 10, 10)
    [(line, reason)] = report.rejected
    assert line == 2 and reason.startswith("first_name: a line break inside quotes")
    assert names(engine)["+998900000000"] == "Name0"


def test_a_quote_closed_a_few_lines_later_swallows_no_row(engine, tmp_path):
    text = ("msisdn,first_name,city\n+998911111111,\"Aziz,Tashkent\n"
            + "\n".join(good_lines(3)) + "\n+998922222222,Bo\"b,Bukhara\n")
    report = import_file(engine, write_bytes(tmp_path, text.encode()), "UZ")
    assert [line for line, _ in report.rejected] == [2]
    assert set(names(engine)) == {"+998900000000", "+998900000001", "+998900000002", "+998922222222"}


def test_a_number_spelt_four_ways_is_imported_once_and_its_last_row_wins(engine, tmp_path):
    text = ("msisdn,first_name\n+998 90 123-45-67,A\n998901234567,B\n00998901234567,C\n(+998) 901234567,D\n"
            "+998911111111,E\n")
    report = import_file(engine, write_bytes(tmp_path, text.encode()), "UZ", chunk_rows=2)
    assert (report.rows, report.imported, report.duplicates, report.rejected) == (5, 2, 3, [])
    assert report.as_dict()["duplicates"] == 3
    assert names(engine)["+998901234567"] == "D"


def test_a_branch_import_counts_a_number_spelt_twice_once(engine, tmp_path):
    path = write_bytes(tmp_path, b"msisdn,first_name\n+998901234567,A\n998901234567,B\n")
    report = import_for_branch(engine, path, "UZ", "north", chunk_rows=1)
    assert (report.rows, report.imported, report.duplicates) == (2, 1, 1)


def test_a_branch_import_keeps_good_rows_around_a_nul_byte(engine, tmp_path):
    report = import_for_branch(engine, with_bad_row(tmp_path, b"+998911111111,A\x00,X", at=3), "UZ", "north")
    assert (report.imported, [line for line, _ in report.rejected]) == (5000, [5])


@pytest.mark.parametrize("balance", ["999999999999.999", "-999999999999.995"])
def test_a_balance_that_rounds_past_the_columns_range_is_rejected_not_the_chunk(engine, tmp_path, balance):
    text = f"msisdn,balance\n+998911111111,{balance}\n+998911111112,5\n"
    report = import_file(engine, write_bytes(tmp_path, text.encode()), "UZ")
    assert [line for line, _ in report.rejected] == [2]
    assert stored(engine) == 1


def test_a_balance_with_more_digits_than_the_column_keeps_is_stored_rounded_to_it(engine, tmp_path):
    text = "msisdn,balance\n+998911111111,1e-20000\n+998911111112,12.345\n"
    report = import_file(engine, write_bytes(tmp_path, text.encode()), "UZ")
    assert report.rejected == []
    with engine.connect() as conn:
        balances = conn.execute(select(Subscriber.balance).order_by(Subscriber.msisdn)).scalars().all()
    assert [Decimal(b) for b in balances] == [Decimal("0.00"), Decimal("12.35")]


def test_a_number_above_the_columns_range_is_rejected_not_the_chunk(engine, tmp_path):
    text = "msisdn,balance,sms_month\n+998911111111,1e20,1\n+998911111112,5,99999999999\n+998911111113,5,1\n"
    report = import_file(engine, write_bytes(tmp_path, text.encode()), "UZ")
    assert [line for line, _ in report.rejected] == [2, 3]
    assert dict(report.rejected)[2].startswith("balance: ")
    assert stored(engine) == 1


def test_json_records_with_a_nul_or_a_lone_surrogate_are_rejected_by_index(engine):
    report = upsert_records(engine, [{"msisdn": "+998911111111", "first_name": "A\x00"},
                                     {"msisdn": "+998911111112", "note": {"x": "\ud800"}},
                                     {"msisdn": "+998911111113", "first_name": "Ok"}], "UZ")
    assert report.imported == 1
    assert report.rejected == [(0, "first_name: a control character (U+0000) at character 2"),
                               (1, "note: a lone surrogate (U+D800) at character 1, which is not text")]


def parquet(tmp_path: Path, table: pa.Table) -> Path:
    path = tmp_path / "subs.parquet"
    pq.write_table(table, path)
    return path


def test_a_truncated_parquet_file_is_refused_with_a_clear_error(engine, tmp_path):
    path = parquet(tmp_path, pa.table({"msisdn": [f"+99890{i:07d}" for i in range(100)]}))
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(RowError, match="not a readable Parquet file"):
        import_file(engine, path, "UZ")


def test_a_parquet_file_that_is_only_its_magic_bytes_is_refused(engine, tmp_path):
    with pytest.raises(RowError, match="not a readable Parquet file"):
        import_file(engine, write_bytes(tmp_path, b"PAR1", "subs.parquet"), "UZ")


def test_a_parquet_file_with_a_schema_and_no_rows_imports_nothing(engine, tmp_path):
    path = parquet(tmp_path, pa.table({"msisdn": pa.array([], pa.string()), "city": pa.array([], pa.string())}))
    report = import_file(engine, path, "UZ")
    assert (report.rows, report.imported, report.rejected) == (0, 0, [])


def test_parquet_text_with_a_nul_is_rejected_by_row(engine, tmp_path):
    path = parquet(tmp_path, pa.table({"msisdn": ["+998911111111", "+998911111112"], "city": ["A\x00", "B"]}))
    report = import_file(engine, path, "UZ")
    assert (report.imported, report.rejected) == (1, [(1, "city: a control character (U+0000) at character 2")])


def test_parquet_attributes_that_json_cannot_hold_are_rejected_by_row(engine, tmp_path):
    path = parquet(tmp_path, pa.table({"msisdn": ["+998911111111", "+998911111112", "+998911111113"],
                                       "score": [1.5, float("nan"), 2.0],
                                       "photo": [None, None, b"\x89PNG"]}))
    report = import_file(engine, path, "UZ")
    assert report.imported == 1
    assert report.rejected == [(2, "score: nan is not a number JSON can hold"),
                               (3, "photo: binary data, not text")]


def test_parquet_dates_inside_a_list_attribute_are_stored_as_text(engine, tmp_path):
    path = parquet(tmp_path, pa.table({"msisdn": ["+998911111111"],
                                       "visits": [[datetime(2026, 1, 5).date(), datetime(2026, 2, 1).date()]]}))
    assert import_file(engine, path, "UZ").imported == 1
    with engine.connect() as conn:
        assert conn.execute(select(Subscriber.attributes)).scalar() == {"visits": ["2026-01-05", "2026-02-01"]}


def test_the_cli_imports_the_good_rows_of_a_file_with_a_latin1_byte(database_url, engine, tmp_path, monkeypatch,
                                                                      capsys):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", database_url)
    path = with_bad_row(tmp_path, "+998911111111,Ren\u00e9e,X".encode("latin-1"), at=1)
    assert cli(["import", "subscribers", str(path), "--region", "UZ", "--quiet"]) == 0
    assert '"imported": 5000, "rejected": 1' in capsys.readouterr().out
    with (tmp_path / "subs.rejected.csv").open(newline="", encoding="utf-8") as fh:
        line, reason = list(csv.reader(fh))[1]
    assert line == "3" and reason.startswith("first_name: not UTF-8")


def test_the_cli_reads_a_declared_encoding(database_url, engine, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", database_url)
    path = write_bytes(tmp_path, "msisdn,first_name\n+998911111111,Анна\n".encode("cp1251"))
    assert cli(["import", "subscribers", str(path), "--encoding", "cp1251", "--quiet"]) == 0
    assert names(engine) == {"+998911111111": "Анна"}


@pytest.mark.parametrize(("content", "message"), [
    (bytes(range(256)) * 64, "not a CSV file"),
    (b"PAR1" + bytes(100), "not a readable Parquet file"),
], ids=["binary", "truncated-parquet"])
def test_the_cli_refuses_an_unreadable_file_in_one_line_without_a_traceback(tmp_path, content, message):
    path = write_bytes(tmp_path, content, "people.csv")
    done = subprocess.run([sys.executable, "-m", "engage.cli", "import", "subscribers", str(path), "--quiet"],
                          env={"ENGAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}", "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr
