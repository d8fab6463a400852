"""The send path's statements keep their index plans on PostgreSQL when the statistics were taken
before the campaign: a provider ANALYZE has never seen, nothing in transit when it last looked.
That is the normal state of a new campaign (autovacuum lags, or is off); with the old indexes the
receipts lookup read every part of the provider and the senders' updates by id scanned every message
in transit (migration 0013). Each test EXPLAINs the exact statement our code sent."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from engage.engine import campaigns
from engage.engine import statuses as st
from engage.engine.delivery.submits import claim, record_outcomes
from engage.engine.providers.base import SendOutcome
from engage.engine.providers.records import add_smpp
from engage.engine.receipts.matching import _parts_by_id
from engage.engine.receipts.timeouts import time_out_unconfirmed
from engage.engine.segments import store as segments
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade
from engage.engine.templates import store as templates

OLD, NEW = 1, 2  # providers: one the statistics know, one they have never seen
MESSAGES = 20_000
OLD_PARTS = 200_000  # a table of some size: on a tiny one a sequential scan is the right plan


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    upgrade(postgres_url)
    eng = make_engine(postgres_url)
    with eng.begin() as conn:
        segment_id = segments.create(conn, "all", {"field": "msisdn", "op": "starts_with", "value": "+998"},
                                     actor="test")
        template_id = templates.create(conn, "t", {"en": "Hi"}, default_language="en", actor="test")
        campaign_id = campaigns.create(conn, name="c", segment_id=segment_id, template_id=template_id,
                                       sender_id="S", actor="test")
        conn.execute(text(
            "INSERT INTO messages (id, campaign_id, subscriber_id, msisdn, status) "
            "SELECT g, :c, g, '+99890' || lpad(g::text, 7, '0'), 'pending' FROM generate_series(1, :n) g"),
            {"c": campaign_id, "n": MESSAGES})
        conn.execute(text(
            "INSERT INTO message_parts (message_id, part_no, provider_id, provider_message_id, status) "
            "SELECT g, 1, :old, 'old' || g, 'delivered' FROM generate_series(1, :n) g"),
            {"old": OLD, "n": OLD_PARTS})
    with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE messages, message_parts")
    # the campaign runs on: a quarter of it in transit on a provider the statistics never saw
    with eng.begin() as conn:
        conn.execute(text("UPDATE messages SET status = 'sending', provider_id = :new, queued_at = now(), "
                          "claimed_at = now() WHERE id <= :n"), {"new": NEW, "n": MESSAGES // 4})
        conn.execute(text(
            "INSERT INTO message_parts (message_id, part_no, provider_id, provider_message_id, status) "
            "SELECT g, 1, :new, 'new' || g, 'submitted' FROM generate_series(1, :n) g"),
            {"new": NEW, "n": MESSAGES // 4})
    yield eng
    eng.dispose()


def _plans_of(engine: Engine, run: Callable[[], Any], start: str) -> list[dict[str, Any]]:
    """EXPLAIN each statement that begins with `start` and that `run` sends, with its own parameters."""
    plans: list[dict[str, Any]] = []

    def explain(_conn, cursor, statement: str, parameters, _context, _many) -> None:  # noqa: ANN001
        if statement.startswith(start):
            cursor.execute("EXPLAIN (FORMAT JSON) " + statement, parameters)
            plans.append(cursor.fetchone()[0][0]["Plan"])

    event.listen(engine, "before_cursor_execute", explain)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", explain)
    return plans


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _scans(plan: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(n.get("Index Name"), json.dumps(n)) for n in _nodes(plan) if "Scan" in n["Node Type"]]


def test_receipt_ids_are_looked_up_by_id_for_a_provider_the_statistics_never_saw(engine: Engine) -> None:
    ids = {f"new{n}" for n in range(1, 401)}
    found: dict[str, Any] = {}
    with engine.connect() as conn:
        plans = _plans_of(engine, lambda: found.update(_parts_by_id(conn, NEW, ids)), "SELECT message_parts")
    assert set(found) == ids
    [(index, node)] = _scans(plans[0])
    assert index == "uq_parts_provider_id"
    assert "provider_message_id" in json.loads(node)["Index Cond"]  # not a filter over the whole provider


def _updates_messages_by_primary_key(plans: list[dict[str, Any]]) -> None:
    assert plans
    for plan in plans:
        assert [index for index, _ in _scans(plan)] == ["messages_pkey"], plan


def test_a_claim_updates_messages_by_primary_key_while_statistics_say_nothing_is_in_transit(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("UPDATE messages SET status = 'queued' WHERE id <= 500"))
    plans = _plans_of(engine, lambda: claim(engine, NEW, list(range(1, 501))), "UPDATE messages")
    _updates_messages_by_primary_key(plans)


def test_recording_outcomes_updates_messages_by_primary_key(engine: Engine) -> None:
    outcomes = [SendOutcome(message_id=n, part_ids=[f"sent{n}"]) for n in range(1, 501)]
    # all sent: the part rows, the update and the event go in one statement (submits.SENT_AT_ONCE)
    plans = _plans_of(engine, lambda: record_outcomes(engine, NEW, 1, outcomes), "WITH new_parts")
    assert plans
    for plan in plans:
        scans = [(index, node) for index, node in _scans(plan) if json.loads(node).get("Relation Name") == "messages"]
        assert [index for index, _ in scans] == ["messages_pkey"], plan
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM messages WHERE status = :s"),
                            {"s": st.SUBMITTED}).scalar() == 500


def test_the_receipt_timeout_reads_only_the_submitted_messages_past_it(engine: Engine) -> None:
    """The sweep runs every few seconds over a table of millions: its choice of messages is a range of
    the partial index ix_messages_awaiting_receipt, whether or not the statistics saw any submitted."""
    with engine.begin() as conn:  # 5,000 sent a day ago never heard back; 5,000 sent just now wait
        conn.execute(text("UPDATE messages SET status = 'submitted', submitted_at = now() - interval '1 day' "
                          "WHERE id <= 5000"))
        conn.execute(text("UPDATE messages SET status = 'submitted', provider_id = :old, submitted_at = now() "
                          "WHERE id > 5000 AND id <= 10000"), {"old": OLD})
        for name in ("old", "new"):  # ids 1 and 2: OLD and NEW
            add_smpp(conn, name=name, host="127.0.0.1", port=2775, system_id="e", password="p", actor="t",
                     receipt_timeout=3600)
    sweep = lambda: time_out_unconfirmed(engine, batch=1000, max_batches=1)  # noqa: E731
    plans = _plans_of(engine, sweep, "UPDATE messages SET status=")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE messages")  # now the statistics know thousands are submitted
    plans += _plans_of(engine, sweep, "UPDATE messages SET status=")
    assert len(plans) == 4  # a statement per provider and sweep
    for plan in plans:  # the awaiting ones from their index (by range, or as a bitmap), then by primary key
        nodes = list(_nodes(plan))
        assert {n.get("Index Name") for n in nodes} - {None} == {"ix_messages_awaiting_receipt", "messages_pkey"}, plan
        assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], plan
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM messages WHERE status = 'unconfirmed'")).scalar() == 2000
