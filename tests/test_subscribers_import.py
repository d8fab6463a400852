"""CSV import: bad rows reported by line and reason, good rows kept, upsert by number."""

from pathlib import Path

from sqlalchemy import insert, select

from engage.engine.store.schema import OptOut, Subscriber
from engage.engine.subscribers_import import import_csv

CSV = """msisdn,first_name,language,birth_date,balance,plan
+998 90 100-00-01,Aziz,UZ,1990-05-01,100.50,gold
not-a-number,Bad,uz,,,
901000002,Anna,ru,1991-13-01,,basic
998901000003,Sam,en,,12x,
90 100 00 04,Olga,ru,,,silver
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "subs.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_rows_are_kept_and_bad_rows_reported_by_line(engine, tmp_path):
    report = import_csv(engine, _write(tmp_path, CSV), "UZ")
    assert report.rows == 5
    assert report.imported == 2
    assert [line for line, _ in report.rejected] == [3, 4, 5]
    reasons = dict(report.rejected)
    assert reasons[3].startswith("msisdn:")
    assert reasons[4].startswith("birth_date:")
    assert reasons[5].startswith("balance:")


def test_numbers_are_stored_in_e164_and_extra_columns_become_attributes(engine, tmp_path):
    import_csv(engine, _write(tmp_path, CSV), "UZ")
    with engine.connect() as conn:
        rows = {r.msisdn: r for r in conn.execute(select(Subscriber.__table__))}
    assert set(rows) == {"+998901000001", "+998901000004"}
    assert rows["+998901000001"].language == "uz"
    assert rows["+998901000001"].attributes == {"plan": "gold"}


def test_reimport_updates_by_number_and_never_undoes_an_opt_out(engine, tmp_path):
    import_csv(engine, _write(tmp_path, CSV), "UZ")
    with engine.begin() as conn:
        conn.execute(insert(OptOut.__table__).values(msisdn="+998901000001", channel="sms"))
    import_csv(engine, _write(tmp_path, "msisdn,first_name\n+998901000001,Aziz Jr\n"), "UZ")
    with engine.connect() as conn:
        names = conn.execute(select(Subscriber.first_name).where(Subscriber.msisdn == "+998901000001")).all()
        opted = conn.execute(select(OptOut.msisdn)).scalars().all()
    assert names == [("Aziz Jr",)]
    assert opted == ["+998901000001"]
