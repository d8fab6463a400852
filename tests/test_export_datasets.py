"""The Parquet exports as BI reads them: every dataset through DuckDB, its counts and sums equal to the
database's; incremental runs; a late receipt reaching the messages snapshot; numbers as keyed hashes."""

from __future__ import annotations

import hmac
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, insert, select, text, update

from engage.engine import events as ev
from engage.engine.analytics import exports
from engage.engine.analytics.effectiveness.refresh import refresh
from engage.engine.analytics.exports.personal import export_key
from engage.engine.campaigns import lifecycle
from engage.engine.campaigns.completion import launch_due
from engage.engine.store.schema import Event, InboundMessage, Message, Subscriber, UssdSession
from engage.engine.subscribers.storage import delete_subscribers
from tests.campaign_setup import add_subscribers, make_campaign

DATASETS = ("campaign_results", "campaigns", "events", "inbound", "messages", "subscribers", "ussd_sessions")


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ENGAGE_EXPORTS_DIR", str(tmp_path / "exports"))
    return tmp_path


@pytest.fixture
def sent(engine, home):
    """A launched campaign of 12 subscribers, 5 of them delivered at a price; two MOs, a USSD session; its
    effectiveness figures computed."""
    add_subscribers(engine, 12)
    campaign_id = make_campaign(engine)
    with engine.begin() as conn:
        lifecycle.submit(conn, campaign_id, actor="maker")
    launch_due(engine)
    deliver(engine, campaign_id, 5)
    with engine.begin() as conn:
        conn.execute(insert(InboundMessage.__table__), [
            {"provider_id": 1, "source": "+998900000001", "destination": "5050", "text": "STOP please",
             "handled": True, "keyword": "STOP"},
            {"provider_id": 1, "source": "+998900000002", "destination": "5050", "text": "hello", "handled": True,
             "keyword": "HELLO", "campaign_id": campaign_id}])
        conn.execute(insert(UssdSession.__table__).values(gateway_id=1, session_key="s1", msisdn="+998900000003",
                                                          code="*100#", screen="main", visited=["main"]))
    refresh(engine, campaign_id)
    return campaign_id


def deliver(engine, campaign_id: int, n: int, *, first: int = 0) -> list[int]:
    """As the receipts sink does: the messages' state and one batch event."""
    with engine.begin() as conn:
        ids = list(conn.execute(select(Message.id).where(Message.campaign_id == campaign_id)
                                .order_by(Message.id).offset(first).limit(n)).scalars())
        conn.execute(update(Message).where(Message.id.in_(ids)).values(
            status="delivered", price=0.0125, currency="USD", done_at=func.now()))
        ev.record_batch(conn, "delivered", campaign_id, ids)
    return ids


def export(engine, home: Path, names: list[str] | None = None, **options) -> dict[str, dict]:
    manifests = exports.run(engine, exports.ExportOptions(directory=home / "exports", settle=0, **options), names)
    return {m["dataset"]: m for m in manifests}


def bi(home: Path, dataset: str, query: str = "count(*)") -> object:
    files = f"{home / 'exports' / dataset}/**/*.parquet"
    return duckdb.sql(f"SELECT {query} FROM read_parquet('{files}', hive_partitioning = true)").fetchall()[0][0]


def database(engine, sql: str) -> object:
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def event_rows(engine) -> int:
    """Events as the dataset has them: a batch event is a row per message it stands for."""
    with engine.connect() as conn:
        return sum(len(ev.message_ids(e)) or 1 for e in conn.execute(select(Event.message_id, Event.data)))


def test_every_dataset_reads_in_duckdb_with_the_databases_counts(engine, sent, home):
    export(engine, home)
    assert bi(home, "messages") == database(engine, "SELECT count(*) FROM messages") == 12
    assert bi(home, "events") == event_rows(engine)
    assert bi(home, "subscribers") == 12
    assert bi(home, "campaigns") == 1
    assert bi(home, "inbound") == 2
    assert bi(home, "ussd_sessions") == 1
    assert bi(home, "campaign_results") == database(engine, "SELECT count(*) FROM campaign_results") > 0


def test_message_prices_and_statuses_sum_in_duckdb_as_in_the_database(engine, sent, home):
    export(engine, home)
    assert bi(home, "messages", "sum(price)") == pytest.approx(
        float(database(engine, "SELECT sum(price) FROM messages")), abs=1e-9)
    assert bi(home, "messages", "count(*) FILTER (WHERE status = 'delivered')") == 5
    assert bi(home, "events", "count(*) FILTER (WHERE kind = 'delivered')") == 5


def test_columns_have_arrow_types_bi_relies_on(engine, sent, home):
    export(engine, home)
    files = str(home / "exports" / "messages" / "**" / "*.parquet")
    types = {row[0]: row[1] for row in duckdb.sql(
        f"DESCRIBE SELECT * FROM read_parquet('{files}', hive_partitioning = true)").fetchall()}
    assert types["price"] == "DECIMAL(18,6)"
    assert types["created_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["dt"] == "DATE"


def test_statuses_are_dictionary_encoded_in_the_files_and_ids_and_moments_are_not(engine, sent, home):
    export(engine, home)
    row_group = pq.ParquetFile(next((home / "exports" / "messages").rglob("*.parquet"))).metadata.row_group(0)
    encodings = {row_group.column(i).path_in_schema: row_group.column(i).encodings
                 for i in range(row_group.num_columns)}
    assert "RLE_DICTIONARY" in encodings["status"]
    assert "RLE_DICTIONARY" not in encodings["message_id"]
    assert "RLE_DICTIONARY" not in encodings["created_at"]


def test_partitions_are_the_utc_dates_of_the_rows(engine, sent, home):
    with engine.begin() as conn:
        conn.execute(update(Message).where(Message.id <= 3).values(created_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC)))
    export(engine, home)
    assert (home / "exports" / "messages" / "dt=2026-03-01").is_dir()
    assert bi(home, "messages", "count(*) FILTER (WHERE dt = DATE '2026-03-01')") == 3


def test_a_second_run_straight_after_adds_nothing(engine, sent, home):
    export(engine, home)
    before = sorted(p.relative_to(home) for p in (home / "exports").rglob("*.parquet"))
    again = export(engine, home)
    assert {name: m["rows"] for name, m in again.items()} == dict.fromkeys(DATASETS, 0)
    assert sorted(p.relative_to(home) for p in (home / "exports").rglob("*.parquet")) == before


def test_a_late_receipt_replaces_its_days_messages_partition(engine, sent, home):
    with engine.begin() as conn:  # the campaign went out three days ago
        conn.execute(update(Message).values(created_at=datetime.now(UTC) - timedelta(days=3)))
    export(engine, home)
    late = deliver(engine, sent, 1, first=10)
    manifests = export(engine, home)
    day = (datetime.now(UTC) - timedelta(days=3)).date().isoformat()
    assert manifests["messages"]["replaced"] == [day]
    assert bi(home, "messages") == 12  # each message once, no de-duplication needed
    assert bi(home, "messages", f"any_value(status) FILTER (WHERE message_id = {late[0]})") == "delivered"
    assert bi(home, "events", f"count(*) FILTER (WHERE message_id = {late[0]} AND kind = 'delivered')") == 1


def test_new_events_are_appended_in_a_new_file(engine, sent, home):
    export(engine, home)
    with engine.begin() as conn:
        ev.record_one(conn, "campaign_completed", sent)
    assert export(engine, home, names=["events"])["events"]["rows"] == 1
    assert bi(home, "events") == event_rows(engine)


def test_numbers_are_keyed_hashes_the_same_in_every_dataset(engine, sent, home):
    export(engine, home)
    key = export_key()
    expected = hmac.new(key, b"+998900000001", "sha256").hexdigest()
    assert bi(home, "subscribers", "any_value(msisdn_hash) FILTER (WHERE subscriber_id = 1)") == expected
    assert bi(home, "inbound", "any_value(msisdn_hash) FILTER (WHERE keyword = 'STOP')") == expected
    for dataset in DATASETS:
        files = f"{home / 'exports' / dataset}/**/*.parquet"
        cells = duckdb.sql(f"SELECT * FROM read_parquet('{files}')").fetchall()
        assert not any(isinstance(v, str) and "99890" in v for row in cells for v in row), dataset


def test_a_number_the_gateway_gave_without_its_plus_hashes_as_its_subscribers(engine, sent, home):
    with engine.begin() as conn:
        conn.execute(insert(InboundMessage.__table__).values(provider_id=1, source="998900000005", destination="5050",
                                                             text="YES", handled=True, keyword="YES"))
        conn.execute(insert(UssdSession.__table__).values(gateway_id=1, session_key="s2", msisdn="998900000006",
                                                          code="*100#", screen="main", visited=["main"]))
    export(engine, home)
    assert bi(home, "inbound", "any_value(msisdn_hash) FILTER (WHERE keyword = 'YES')") == hmac.new(
        export_key(), b"+998900000005", "sha256").hexdigest()
    assert duckdb.sql(
        f"SELECT s.subscriber_id FROM read_parquet('{home}/exports/inbound/**/*.parquet') AS i "
        f"JOIN read_parquet('{home}/exports/subscribers/**/*.parquet') AS s USING (msisdn_hash) "
        "WHERE i.keyword = 'YES'").fetchall() == [(5,)]
    assert duckdb.sql(
        f"SELECT s.subscriber_id FROM read_parquet('{home}/exports/ussd_sessions/**/*.parquet') AS u "
        f"JOIN read_parquet('{home}/exports/subscribers/**/*.parquet') AS s USING (msisdn_hash) "
        "ORDER BY 1").fetchall() == [(3,), (6,)]


def test_a_sender_id_that_is_no_number_is_hashed_as_it_came(engine, sent, home):
    with engine.begin() as conn:
        conn.execute(insert(InboundMessage.__table__).values(provider_id=1, source="MTN-INFO", destination="5050",
                                                             text="promo", handled=True, keyword="PROMO"))
    export(engine, home)
    assert bi(home, "inbound", "any_value(msisdn_hash) FILTER (WHERE keyword = 'PROMO')") == hmac.new(
        export_key(), b"MTN-INFO", "sha256").hexdigest()


def test_the_export_key_lives_with_the_installation_not_the_exports(engine, sent, home):
    export(engine, home)
    assert (home / "home" / "export_key").stat().st_mode & 0o077 == 0
    assert not any("export_key" in p.name for p in (home / "exports").rglob("*"))


def test_names_and_free_text_are_left_out_unless_configured(engine, sent, home):
    export(engine, home)
    assert "text" not in duckdb.sql(f"SELECT * FROM read_parquet('{home}/exports/inbound/**/*.parquet')").columns
    assert "first_name" not in duckdb.sql(
        f"SELECT * FROM read_parquet('{home}/exports/subscribers/**/*.parquet')").columns
    with_text = home / "with-text"
    exports.run(engine, exports.ExportOptions(directory=with_text, settle=0, text=True), ["inbound"])
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{with_text}/inbound/**/*.parquet') "
                      "WHERE text = 'STOP please'").fetchall()[0][0] == 1


def test_a_deleted_subscriber_leaves_the_export(engine, sent, home):
    export(engine, home)
    with engine.begin() as conn:
        delete_subscribers(conn, Subscriber.id == 4)
    assert export(engine, home, names=["subscribers"])["subscribers"]["rows"] == 11
    assert bi(home, "subscribers") == 11
    assert bi(home, "subscribers", "count(*) FILTER (WHERE subscriber_id = 4)") == 0


def test_a_ussd_session_that_moves_on_is_exported_in_its_new_state(engine, sent, home):
    export(engine, home)
    with engine.begin() as conn:
        conn.execute(update(UssdSession).values(screen="bye", end_reason="completed", ended_at=func.now(),
                                                updated_at=func.now()))
    export(engine, home, names=["ussd_sessions"], now=datetime.now(UTC) + timedelta(seconds=3))
    assert bi(home, "ussd_sessions") == 1
    assert bi(home, "ussd_sessions", "any_value(end_reason)") == "completed"


def test_a_changed_campaign_replaces_its_partition_and_an_unchanged_one_does_not(engine, sent, home):
    export(engine, home)
    assert export(engine, home, names=["campaigns"])["campaigns"]["files"] == []
    with engine.begin() as conn:
        conn.execute(text("UPDATE campaigns SET name = 'spring offer'"))
    assert len(export(engine, home, names=["campaigns"])["campaigns"]["files"]) == 1
    assert bi(home, "campaigns", "any_value(name)") == "spring offer"


def test_since_rebuilds_the_partitions_from_that_date(engine, sent, home):
    export(engine, home)
    manifests = export(engine, home, since=date.today() - timedelta(days=1))
    assert manifests["events"]["rows"] == event_rows(engine)
    assert bi(home, "events") == event_rows(engine)  # replaced, not added twice
    assert bi(home, "messages") == 12


def test_a_run_that_dies_leaves_no_file_and_the_next_exports_everything_once(engine, sent, home):
    def dies(rows: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        exports.run_dataset(engine, exports.get("events"),
                            exports.ExportOptions(directory=home / "exports", settle=0, progress=dies))
    assert not list((home / "exports").rglob("*.parquet*"))
    export(engine, home, names=["events"])
    assert bi(home, "events") == event_rows(engine)


def test_the_manifest_says_what_the_run_wrote(engine, sent, home):
    manifest = export(engine, home)["messages"]
    on_disk = json.loads((home / "exports" / "messages" / "_manifest.json").read_text())
    assert on_disk["rows"] == manifest["rows"] == 12
    assert on_disk["schema_version"] == exports.get("messages").version
    assert all((home / "exports" / "messages" / f).is_file() for f in on_disk["files"])
    assert on_disk["watermark"]["to"]["message_id"] == database(engine, "SELECT max(id) FROM messages")
    assert {"started", "finished", "dataset", "run"} <= set(on_disk)
