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
