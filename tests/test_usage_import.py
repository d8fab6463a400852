"""Importing usage events: good rows stored (COPY on PostgreSQL), every bad row reported with its
line and reason, events dated before the totals' as_of added to them, totals refreshed after."""

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import insert, select

from engage.engine.store.schema import Subscriber, UsageEvent, UsageTotal
from engage.engine.subscribers.rows import RowError
from engage.engine.usage import totals
from engage.engine.usage.events_import import import_events

NOW = datetime.now(UTC).replace(microsecond=0)


def stamp(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).isoformat()


@pytest.fixture
def people(engine):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [
            {"id": 1, "msisdn": "+998901000001", "attributes": {}},
            {"id": 2, "msisdn": "+998901000002", "attributes": {}}])
    return engine


def write(tmp_path, rows, header="msisdn,kind,at,amount"):
    path = tmp_path / "usage.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def stored(engine):
    with engine.connect() as conn:
        rows = conn.execute(select(UsageEvent.subscriber_id, UsageEvent.kind, UsageEvent.amount))
        return sorted(tuple(r) for r in rows)


def test_good_rows_are_stored_for_their_subscribers(people, tmp_path):
    path = write(tmp_path, [f"998901000001,call_out,{stamp(1)},12.5", f"+998901000002,DATA,{stamp(2)},300"])
    report = import_events(people, path, "UZ", refresh=False)
    assert (report.rows, report.imported, report.rejected) == (2, 2, [])
    assert stored(people) == [(1, "call_out", 12.5), (2, "data", 300.0)]


def test_each_bad_row_is_reported_with_its_line_and_reason_and_the_good_ones_kept(people, tmp_path):
    path = write(tmp_path, [
        f"998901000001,call_out,{stamp(1)},5",
        f"12345,call_out,{stamp(1)},5",
        f"998901000001,calls,{stamp(1)},5",
        "998901000001,data,yesterday,5",
        f"998901000001,data,{stamp(1)},-3",
        f"998901000009,data,{stamp(1)},5",
        f"998901000001,data,{(NOW + timedelta(days=3)).isoformat()},5",
    ])
    report = import_events(people, path, "UZ", refresh=False)
    reasons = dict(report.rejected)
    assert report.imported == 1 and sorted(reasons) == [3, 4, 5, 6, 7, 8]
    assert reasons[3].startswith("msisdn:")
    assert reasons[4].startswith("kind: 'calls' is not one of")
    assert reasons[5].startswith("at: 'yesterday' is not a date-time")
    assert reasons[6] == "amount: '-3' must be a number of at least 0"
    assert reasons[7] == "msisdn: no subscriber has the number +998901000009"
    assert reasons[8].endswith("is in the future")


def test_a_file_without_the_needed_columns_is_refused_naming_them(people, tmp_path):
    path = write(tmp_path, ["998901000001,5"], header="msisdn,amount")
    with pytest.raises(RowError, match="needs column.s. kind, at"):
        import_events(people, path, "UZ")


def test_times_without_an_offset_are_utc_and_offsets_are_converted(people, tmp_path):
    path = write(tmp_path, ["998901000001,sms_out,2026-01-05T10:00:00,1",
                            "998901000001,sms_out,2026-01-05T10:00:00+05:00,1"])
    import_events(people, path, "UZ", refresh=False)
    with people.connect() as conn:
        times = sorted(t.replace(tzinfo=None) for t in conn.execute(select(UsageEvent.at)).scalars())
    assert times == [datetime(2026, 1, 5, 5, 0), datetime(2026, 1, 5, 10, 0)]


def test_parquet_files_are_read_the_same_way_with_rows_numbered(people, tmp_path):
    path = tmp_path / "usage.parquet"
    pq.write_table(pa.table({"msisdn": ["998901000001", "bad"], "kind": ["recharge", "recharge"],
                             "at": [NOW - timedelta(days=1)] * 2, "amount": [5.0, 5.0]}), path)
    report = import_events(people, path, "UZ", refresh=False)
    assert report.imported == 1 and [where for where, _ in report.rejected] == [2]


def test_an_import_refreshes_the_totals_by_default(people, tmp_path):
    path = write(tmp_path, [f"998901000001,call_out,{stamp(3)},20"])
    report = import_events(people, path, "UZ")
    assert report.refreshed is not None
    with people.connect() as conn:
        assert conn.execute(select(UsageTotal.total).where(
            UsageTotal.subscriber_id == 1, UsageTotal.kind == "call_out", UsageTotal.days == 7)).scalar() == 20


def test_events_dated_before_the_totals_as_of_are_added_to_them(people, tmp_path):
    totals.refresh(people, NOW)
    path = write(tmp_path, [f"998901000002,data,{stamp(10)},100", f"998901000002,data,{stamp(40)},50"])
    report = import_events(people, path, "UZ", refresh=False)
    assert report.late == 2
    with people.connect() as conn:
        by_window = dict(conn.execute(select(UsageTotal.days, UsageTotal.total).where(
            UsageTotal.subscriber_id == 2, UsageTotal.kind == "data")).all())
    assert by_window == {30: 100.0, 60: 150.0, 90: 150.0}
