"""A campaign's progress figures: events bucketed over time per kind, and messages by provider, on
both databases (by network: tests/test_networks.py)."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, update

from engage.engine.campaigns import progress
from engage.engine.campaigns.launching import launch_run
from engage.engine.events import record, record_batch
from engage.engine.providers.records import add_smpp
from engage.engine.store.schema import Event, Message
from tests.campaign_setup import add_subscribers, make_campaign

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_events_are_counted_per_kind_in_equal_steps(engine):
    with engine.begin() as conn:
        conn.execute(insert(Event.__table__), [
            {"kind": kind, "campaign_id": 7, "message_id": i, "at": T0 + timedelta(seconds=s)}
            for i, (kind, s) in enumerate([("queued", 0), ("queued", 1), ("submitted", 2), ("delivered", 59),
                                           ("delivered", 119), ("failed", 60), ("queued", 0)])])
        conn.execute(insert(Event.__table__), {"kind": "queued", "campaign_id": 8, "at": T0})
        line = progress.timeline(conn, 7, buckets=2)
    assert line["step_seconds"] == 60 and line["start"].startswith("2026-12-01T08:00:00")
    assert line["series"]["queued"] == [3, 0] and line["series"]["delivered"] == [1, 1]
    assert line["series"]["failed"] == [0, 1] and line["series"]["submitted"] == [1, 0]


def test_a_batch_event_counts_each_of_its_messages(engine):
    with engine.begin() as conn:
        record_batch(conn, "submitted", 7, [11, 12, 13])
        record(conn, "submitted", [{"campaign_id": 7, "message_id": 14}])
        assert progress.timeline(conn, 7, buckets=1)["series"]["submitted"] == [4]


def test_a_campaign_without_events_has_empty_series(engine):
    with engine.connect() as conn:
        assert progress.timeline(conn, 99)["series"]["delivered"] == []


def test_messages_are_counted_by_provider(engine):
    add_subscribers(engine, 4)
    campaign_id = make_campaign(engine)
    launch_run(engine, campaign_id, T0, actor="t", now=T0)
    with engine.begin() as conn:
        provider_id = add_smpp(conn, name="mts", host="127.0.0.1", port=2775, system_id="e", password="p",
                               actor="t")
        conn.execute(update(Message.__table__).values(provider_id=provider_id, status="delivered"))
        conn.execute(update(Message.__table__).where(Message.subscriber_id == 1).values(status="failed"))
        assert progress.by_provider(conn, campaign_id) == [
            {"name": "mts", "total": 4, "counts": {"delivered": 3, "failed": 1}}]
