"""Subscriber import (CSV, Parquet, JSON records): bad rows reported by where and why, good rows
kept, upsert by number of only the columns given, tags replaced, opt-outs never touched."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import insert, select, update

from engage.bench import imports as import_bench
from engage.cli import main as cli
from engage.engine.store.schema import OptOut, Subscriber, SubscriberTag
from engage.engine.subscribers import RowError, import_file, parquet_source, upsert_records, write_rejections

CSV = """msisdn,first_name,language,birth_date,balance,plan
+998 90 100-00-01,Aziz,UZ,1990-05-01,100.50,gold
not-a-number,Bad,uz,,,
901000002,Anna,ru,1991-13-01,,basic
998901000003,Sam,en,,12x,
90 100 00 04,Olga,ru,,,silver
"""


def _write(tmp_path: Path, text: str, name: str = "subs.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _subscribers(engine) -> dict:
    with engine.connect() as conn:
        return {r.msisdn: r for r in conn.execute(select(Subscriber.__table__))}


def _tags(engine, msisdn: str) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(SubscriberTag.tag).join(Subscriber, Subscriber.id == SubscriberTag.subscriber_id)
                                .where(Subscriber.msisdn == msisdn)).scalars())


def test_good_rows_are_kept_and_bad_rows_reported_by_line(engine, tmp_path):
    report = import_file(engine, _write(tmp_path, CSV), "UZ")
    assert (report.rows, report.imported) == (5, 2)
    assert [line for line, _ in report.rejected] == [3, 4, 5]
    reasons = dict(report.rejected)
    assert reasons[3].startswith("msisdn: 'not-a-number'")
    assert reasons[4].startswith("birth_date: '1991-13-01'")
    assert reasons[5].startswith("balance: '12x'")


def test_numbers_are_stored_in_e164_and_extra_columns_become_attributes(engine, tmp_path):
    import_file(engine, _write(tmp_path, CSV), "UZ")
    rows = _subscribers(engine)
    assert set(rows) == {"+998901000001", "+998901000004"}
    assert rows["+998901000001"].language == "uz"
    assert rows["+998901000001"].attributes == {"plan": "gold"}


def test_reimport_updates_by_number_and_never_undoes_an_opt_out(engine, tmp_path):
    import_file(engine, _write(tmp_path, CSV), "UZ")
    with engine.begin() as conn:
        conn.execute(insert(OptOut.__table__).values(msisdn="+998901000001", channel="sms"))
    import_file(engine, _write(tmp_path, "msisdn,first_name\n+998901000001,Aziz Jr\n"), "UZ")
    with engine.connect() as conn:
        opted = conn.execute(select(OptOut.msisdn)).scalars().all()
    assert _subscribers(engine)["+998901000001"].first_name == "Aziz Jr"
    assert opted == ["+998901000001"]


def test_reimport_leaves_columns_the_file_does_not_have(engine, tmp_path):
    import_file(engine, _write(tmp_path, CSV), "UZ")
    import_file(engine, _write(tmp_path, "msisdn,first_name\n+998901000001,Aziz Jr\n"), "UZ")
    row = _subscribers(engine)["+998901000001"]
    assert (row.language, row.balance, row.attributes) == ("uz", Decimal("100.50"), {"plan": "gold"})


def test_profile_fields_are_stored_typed(engine, tmp_path):
    import_file(engine, _write(tmp_path, "msisdn,contract_type,roaming,loyalty_points,last_activity_at,gender\n"
                                         "998901000001,Postpaid,yes,1200,2026-03-01T10:00:00Z,f\n"), "UZ")
    row = _subscribers(engine)["+998901000001"]
    assert (row.contract_type, row.roaming, row.loyalty_points, row.gender) == ("postpaid", True, 1200, "F")
    assert row.last_activity_at.replace(tzinfo=row.last_activity_at.tzinfo or UTC) == datetime(2026, 3, 1, 10,
                                                                                                tzinfo=UTC)


def test_a_rejection_names_the_field_and_the_value(engine, tmp_path):
    report = import_file(engine, _write(tmp_path, "msisdn,contract_type\n998901000001,gold\n"), "UZ")
    assert report.rejected == [(2, "contract_type: 'gold' is not one of the allowed values")]


def test_a_row_with_more_cells_than_the_header_is_rejected(engine, tmp_path):
    report = import_file(engine, _write(tmp_path, "msisdn,city\n998901000001,Tashkent,extra\n"), "UZ")
    assert report.rejected == [(2, "3 fields, but the header names 2")]


def test_a_file_without_a_number_column_is_refused(engine, tmp_path):
    with pytest.raises(RowError, match="no msisdn column"):
        import_file(engine, _write(tmp_path, "name,city\nAziz,Tashkent\n"), "UZ")


def test_a_tags_column_replaces_the_tag_set(engine, tmp_path):
    import_file(engine, _write(tmp_path, "msisdn,tags\n998901000001,sport;news\n"), "UZ")
    import_file(engine, _write(tmp_path, "msisdn,vas\n998901000001, news ;music;music\n"), "UZ")
    assert _tags(engine, "+998901000001") == {"news", "music"}


def test_an_empty_tags_cell_clears_the_tags(engine, tmp_path):
    import_file(engine, _write(tmp_path, "msisdn,tags\n998901000001,sport\n"), "UZ")
    import_file(engine, _write(tmp_path, "msisdn,tags\n998901000001,\n"), "UZ")
    assert _tags(engine, "+998901000001") == set()


def test_a_file_without_tags_leaves_them_alone(engine, tmp_path):
    import_file(engine, _write(tmp_path, "msisdn,tags\n998901000001,sport\n"), "UZ")
    import_file(engine, _write(tmp_path, "msisdn,city\n998901000001,Tashkent\n"), "UZ")
    assert _tags(engine, "+998901000001") == {"sport"}


def test_a_number_given_twice_keeps_its_last_row_within_and_across_chunks(engine, tmp_path):
    text = "msisdn,city\n998901000001,A\n998901000002,B\n998901000001,C\n+998901000002,D\n998901000001,E\n"
    report = import_file(engine, _write(tmp_path, text), "UZ", chunk_rows=2)
    rows = _subscribers(engine)
    assert (rows["+998901000001"].city, rows["+998901000002"].city) == ("E", "D")
    assert (report.imported, report.duplicates) == (2, 3)


def test_progress_is_reported_after_each_chunk(engine, tmp_path):
    seen: list[int] = []
    text = "msisdn\n" + "".join(f"99890100{i:04d}\n" for i in range(5))
    import_file(engine, _write(tmp_path, text), "UZ", chunk_rows=2, progress=seen.append)
    assert seen == [2, 4, 5]


def _parquet(tmp_path: Path, table: pa.Table) -> Path:
    path = tmp_path / "subs.parquet"
    pq.write_table(table, path)
    return path


def test_parquet_rows_are_validated_and_bad_ones_reported_by_row(engine, tmp_path):
    table = pa.table({"msisdn": [998901000001, 12345, 998901000003],
                      "birth_date": [datetime(1990, 5, 1).date(), None, None],
                      "balance": [Decimal("10.50"), None, Decimal("1")],
                      "tags": [["sport", "news"], None, ["music"]],
                      "plan": ["gold", "basic", None]})
    report = import_file(engine, _parquet(tmp_path, table), "UZ")
    assert (report.rows, report.imported, report.label) == (3, 2, "row")
    assert [row for row, _ in report.rejected] == [2]
    row = _subscribers(engine)["+998901000001"]
    assert (str(row.birth_date), row.balance, row.attributes) == ("1990-05-01", Decimal("10.50"), {"plan": "gold"})
    assert _tags(engine, "+998901000001") == {"sport", "news"}


def test_a_parquet_file_is_read_batch_by_batch(engine, tmp_path, monkeypatch):
    monkeypatch.setattr(parquet_source, "BATCH_ROWS", 3)
    path = _parquet(tmp_path, pa.table({"msisdn": [f"+99890100{i:04d}" for i in range(10)]}))
    report = import_file(engine, path, "UZ")
    assert (report.rows, report.imported) == (10, 10)
    assert len(_subscribers(engine)) == 10


def test_json_records_are_stored_and_bad_ones_reported_by_index(engine):
    report = upsert_records(engine, [{"msisdn": "+998901000001", "city": "Tashkent", "tags": ["sport"]},
                                     {"msisdn": "+998901000002", "gender": "Q"},
                                     "not an object",
                                     {"phone": "998901000003", "balance": 5, "plan": "gold"}], "UZ")
    assert (report.rows, report.imported) == (4, 2)
    assert report.as_dict(details=True)["rejections"] == [
        {"index": 1, "reason": "gender: 'Q' is not one of the allowed values"},
        {"index": 2, "reason": "not an object"}]
    rows = _subscribers(engine)
    assert (rows["+998901000001"].city, rows["+998901000003"].attributes) == ("Tashkent", {"plan": "gold"})
    assert _tags(engine, "+998901000001") == {"sport"}


def test_rejections_are_written_with_their_line_and_reason(engine, tmp_path):
    report = import_file(engine, _write(tmp_path, CSV), "UZ")
    write_rejections(report, tmp_path / "rejected.csv")
    lines = (tmp_path / "rejected.csv").read_text().splitlines()
    assert lines[0] == "line,reason"
    assert lines[1].startswith("3,msisdn:")


def test_the_cli_imports_a_parquet_file_and_reports_rejected_rows(database_url, engine, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", database_url)
    path = _parquet(tmp_path, pa.table({"msisdn": ["+998901000001", "bad"], "city": ["Tashkent", "Bukhara"]}))
    assert cli(["import", "subscribers", str(path), "--quiet"]) == 0
    assert '"imported": 1, "rejected": 1' in capsys.readouterr().out
    assert (tmp_path / "subs.rejected.csv").read_text().splitlines()[1].startswith("2,msisdn: 'bad'")


def test_the_import_bench_reports_its_figures_and_cleans_up(database_url, engine, monkeypatch):
    monkeypatch.setenv("ENGAGE_DATABASE_URL", database_url)
    result = import_bench.run(2000)
    assert result["rows"] == 2000
    assert result["imported"] + result["rejected"] == 2000 and result["rejected"] >= 1
    assert result["rows_per_s"] > 0 and result["peak_rss_mb"] > 0
    assert _subscribers(engine) == {}


def _age_all(engine) -> datetime:
    """Every subscriber last updated long ago, so that a rewrite shows whatever the clock's resolution."""
    moment = datetime(2020, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(update(Subscriber.__table__).values(updated_at=moment))
    return moment


def _updated(row) -> datetime:
    return row.updated_at if row.updated_at.tzinfo else row.updated_at.replace(tzinfo=UTC)


def test_reimporting_an_unchanged_row_leaves_it_as_it_was(engine, tmp_path):
    import_file(engine, _write(tmp_path, CSV), "UZ")
    long_ago = _age_all(engine)
    import_file(engine, _write(tmp_path, CSV), "UZ")
    row = _subscribers(engine)["+998901000001"]
    assert (_updated(row), row.first_name, row.attributes) == (long_ago, "Aziz", {"plan": "gold"})


def test_reimporting_rewrites_only_the_rows_that_change(engine, tmp_path):
    import_file(engine, _write(tmp_path, "msisdn,first_name\n998901000001,Aziz\n998901000002,Anna\n"), "UZ")
    long_ago = _age_all(engine)
    import_file(engine, _write(tmp_path, "msisdn,first_name\n998901000001,Aziz\n998901000002,Anna K\n"), "UZ")
    after = _subscribers(engine)
    assert _updated(after["+998901000001"]) == long_ago
    assert (after["+998901000002"].first_name, _updated(after["+998901000002"]) > long_ago) == ("Anna K", True)


def test_new_tags_on_an_otherwise_unchanged_row_replace_its_tags(engine, tmp_path):
    import_file(engine, _write(tmp_path, "msisdn,first_name,tags\n998901000001,Aziz,sport;news\n"), "UZ")
    import_file(engine, _write(tmp_path, "msisdn,first_name,tags\n998901000001,Aziz,music\n"), "UZ")
    assert _tags(engine, "+998901000001") == {"music"}


def test_changed_attributes_alone_are_written(engine, tmp_path):
    import_file(engine, _write(tmp_path, "msisdn,first_name,plan\n998901000001,Aziz,gold\n"), "UZ")
    import_file(engine, _write(tmp_path, "msisdn,first_name,plan\n998901000001,Aziz,silver\n"), "UZ")
    assert _subscribers(engine)["+998901000001"].attributes == {"plan": "silver"}
