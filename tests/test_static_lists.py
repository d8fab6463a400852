"""Static lists: uploaded numbers, validated line by line, usable by segments."""

import pytest
from sqlalchemy import select

from engage.engine import static_lists
from engage.engine.store.schema import StaticListMember


def _members(engine, list_id):
    with engine.connect() as conn:
        return sorted(conn.execute(select(StaticListMember.msisdn).where(
            StaticListMember.list_id == list_id)).scalars())


def test_a_list_keeps_good_numbers_in_e164_and_reports_bad_lines(engine, tmp_path):
    path = tmp_path / "winners.txt"
    path.write_text("+998 90 100-00-01\n998901000002\nnot a number\n\n+998901000001\n", encoding="utf-8")
    with engine.begin() as conn:
        report = static_lists.create(conn, "winners", static_lists.read_numbers(path), region="UZ", branch=None,
                                     actor="test")
    assert _members(engine, report.list_id) == ["+998901000001", "+998901000002"]
    assert [line for line, _ in report.rejected] == [3]
    assert "not a valid phone number" in report.rejected[0][1]


def test_a_csv_list_reads_its_number_column(engine, tmp_path):
    path = tmp_path / "pilot.csv"
    path.write_text("name,msisdn\nAziz,+998901000001\nAnna,+998901000002\n", encoding="utf-8")
    with engine.begin() as conn:
        report = static_lists.create(conn, "pilot", static_lists.read_numbers(path), region="UZ", branch=None,
                                     actor="test")
    assert report.as_dict()["members"] == 2


def test_two_lists_cannot_share_a_name(engine):
    with engine.begin() as conn:
        static_lists.create(conn, "vip", [(1, "+998901000001")], region="UZ", branch=None, actor="test")
        with pytest.raises(static_lists.ListError, match="a list called 'vip' exists"):
            static_lists.create(conn, "vip", [(1, "+998901000002")], region="UZ", branch=None, actor="test")


def _listed(engine, path, name="l", encoding=None):
    with engine.begin() as conn:
        return static_lists.create(conn, name, static_lists.read_numbers(path, encoding), region="UZ", branch=None,
                                   actor="test")


def test_a_line_that_is_not_utf8_is_rejected_naming_the_byte_and_the_others_are_kept(engine, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"msisdn\n+998901000001\n+99890100000\xe9\n+998901000003\n")
    report = _listed(engine, path)
    assert _members(engine, report.list_id) == ["+998901000001", "+998901000003"]
    assert report.rejected == [(3, "number: not UTF-8 (byte 0xE9 at character 13); save the file as UTF-8 or give "
                                   "its encoding, e.g. cp1251 or latin-1 (--encoding, the import form's text "
                                   "encoding, or ?encoding= in the API)")]


def test_a_line_with_a_nul_is_rejected_naming_it(engine, tmp_path):
    path = tmp_path / "nul.csv"
    path.write_bytes(b"+998901000001\n+99890\x001000002\n")
    report = _listed(engine, path)
    assert _members(engine, report.list_id) == ["+998901000001"]
    assert report.rejected == [(2, "number: a control character (U+0000) at character 7")]


def test_a_file_in_a_declared_encoding_is_read_in_it(engine, tmp_path):
    path = tmp_path / "utf16.csv"
    path.write_bytes("msisdn\n+998901000001\n".encode("utf-16-le"))
    assert _members(engine, _listed(engine, path, encoding="utf-16-le").list_id) == ["+998901000001"]


def test_a_binary_file_is_refused_whole_saying_it_is_not_csv(engine, tmp_path):
    path = tmp_path / "book.xlsx"
    path.write_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(static_lists.ListError, match="not a CSV file"):
        _listed(engine, path)
