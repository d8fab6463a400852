"""Receipts are matched to the message part they are about whatever the provider does with
its id: another case, the other base, or a receipt that overtakes its submit response."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.engine import statuses as st
from engage.engine.delivery.submits import record_outcomes
from engage.engine.providers.base import SendOutcome
from engage.engine.providers.message_ids import alternate_id
from engage.engine.receipts import matching
from engage.engine.store.schema import Message, Receipt
from tests.campaign_scenario import launch_campaign, wait_until_done
from tests.campaign_setup import bare_messages
from tests.fixtures.backends import running_workers


def _one_message(engine, status: str = st.SENDING, parts: int = 1) -> int:  # noqa: ANN001
    return bare_messages(engine, 1, status=status, parts=parts)[0]


def _receipt(provider_message_id: str, stat: str = "DELIVRD") -> dict:
    return {"id": provider_message_id, "stat": stat, "err": None, "done_at": None}


def _status(engine, message_id: int) -> str:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(Message.status).where(Message.id == message_id)).scalar_one()


@pytest.mark.parametrize("quoted", ["0A1B2C3D", "169552957"], ids=["upper-case", "decimal"])
def test_a_receipt_quoting_the_id_in_another_case_or_base_settles_the_message(engine, quoted, monkeypatch):
    monkeypatch.setattr(matching, "ALT_MATCH_AFTER", 0.0)
    message_id = _one_message(engine)
    record_outcomes(engine, 1, 1, [SendOutcome(message_id, ["0a1b2c3d"])])
    matching.store(engine, 1, [{"id": quoted, "stat": "DELIVRD", "err": "000", "done_at": None}], [])
    matching.match_pending(engine)
    assert _status(engine, message_id) == st.DELIVERED


def test_a_receipt_quoting_a_decimal_submit_id_in_hex_settles_the_message(engine, monkeypatch):
    monkeypatch.setattr(matching, "ALT_MATCH_AFTER", 0.0)
    message_id = _one_message(engine)
    record_outcomes(engine, 1, 1, [SendOutcome(message_id, ["169552957"])])
    matching.store(engine, 1, [{"id": "A1B2C3D", "stat": "DELIVRD", "err": "000", "done_at": None}], [])
    matching.match_pending(engine)
    assert _status(engine, message_id) == st.DELIVERED


@pytest.mark.parametrize("provider_id", ["", "msg-17", "0x1f", "\u0663\u0663", "123456789012345678901",
                                         "abcdef0123456789a"])
def test_an_id_that_is_not_a_plain_hex_or_decimal_number_has_no_other_spelling(provider_id):
    assert alternate_id(provider_id) is None


def test_a_receipt_that_overtakes_its_submit_response_is_kept_and_matched_later(engine):
    message_id = _one_message(engine)
    matching.store(engine, 1, [{"id": "77aa", "stat": "UNDELIV", "err": "001", "done_at": None}], [])
    with engine.connect() as conn:
        assert conn.execute(select(Receipt.matched)).scalar_one() is False
    record_outcomes(engine, 1, 1, [SendOutcome(message_id, ["77AA"])])
    assert matching.match_pending(engine) == 1
    assert _status(engine, message_id) == st.UNDELIVERED


def test_a_repeated_receipt_records_one_event(engine):
    from engage.engine.events import message_ids
    from engage.engine.store.schema import Event

    message_id = _one_message(engine)
    record_outcomes(engine, 1, 1, [SendOutcome(message_id, ["abc1"])])
    for _ in range(2):
        matching.store(engine, 1, [{"id": "abc1", "stat": "DELIVRD", "err": None, "done_at": None}], [])
    with engine.connect() as conn:
        delivered = conn.execute(select(Event.message_id, Event.data).where(Event.kind == "delivered")).all()
    assert [message_ids(e) for e in delivered] == [[message_id]]


def test_receipts_settling_several_messages_at_once_record_one_event_naming_them(engine):
    from engage.engine.events import message_ids
    from engage.engine.store.schema import Event

    ids = [_one_message(engine) for _ in range(3)]
    record_outcomes(engine, 1, 1, [SendOutcome(m, [f"d{n}"]) for n, m in enumerate(ids)])
    matching.store(engine, 1, [_receipt(f"d{n}") for n in range(3)], [])
    with engine.connect() as conn:
        delivered = conn.execute(select(Event.message_id, Event.data, Event.message_count).where(
            Event.kind == "delivered")).all()
    assert [(sorted(message_ids(e)), e.message_count) for e in delivered] == [(sorted(ids), 3)]


def test_a_long_message_is_settled_by_its_last_part_receipt_with_the_worst_status(engine):
    message_id = _one_message(engine, parts=2)
    record_outcomes(engine, 1, 1, [SendOutcome(message_id, ["p1", "p2"])])
    matching.store(engine, 1, [_receipt("p1", "UNDELIV")], [])
    assert _status(engine, message_id) == st.SUBMITTED
    matching.store(engine, 1, [_receipt("p2")], [])
    assert _status(engine, message_id) == st.UNDELIVERED


def test_a_single_part_and_a_long_message_settle_in_the_same_receipt_batch(engine):
    single, long = _one_message(engine), _one_message(engine, parts=2)
    record_outcomes(engine, 1, 1, [SendOutcome(single, ["s1"]), SendOutcome(long, ["l1", "l2"])])
    matching.store(engine, 1, [_receipt("s1", "EXPIRED"), _receipt("l1"), _receipt("l2")], [])
    assert (_status(engine, single), _status(engine, long)) == (st.EXPIRED, st.DELIVERED)


def test_a_receipt_naming_its_message_settles_it_even_before_the_submit_is_recorded(engine):
    message_id = _one_message(engine)
    matching.store(engine, 1, [{**_receipt("early1"), "ours": message_id}], [])
    assert _status(engine, message_id) == st.DELIVERED
    with engine.connect() as conn:
        assert conn.execute(select(Receipt.matched)).scalar_one() is True


def test_a_receipt_naming_a_long_message_is_matched_by_its_part_instead(engine):
    message_id = _one_message(engine, parts=2)
    record_outcomes(engine, 1, 1, [SendOutcome(message_id, ["q1", "q2"])])
    matching.store(engine, 1, [{**_receipt("q1"), "ours": message_id}], [])
    assert _status(engine, message_id) == st.SUBMITTED
    matching.store(engine, 1, [_receipt("q2")], [])
    assert _status(engine, message_id) == st.DELIVERED


def test_a_receipt_naming_a_message_another_provider_sent_is_not_taken_at_its_word(engine):
    message_id = _one_message(engine)
    matching.store(engine, 2, [{**_receipt("x9"), "ours": message_id}], [])
    assert _status(engine, message_id) == st.SENDING
    with engine.connect() as conn:
        assert conn.execute(select(Receipt.matched)).scalar_one() is False


def test_a_receipt_matching_nothing_is_orphaned_after_a_while_and_kept(engine):
    matching.store(engine, 1, [{"id": "nobody", "stat": "DELIVRD", "err": None, "done_at": None}], [])
    assert matching.orphan_stale(engine, older_than=-1) == 1
    with engine.connect() as conn:
        row = conn.execute(select(Receipt.matched, Receipt.orphaned)).one()
    assert (row.matched, row.orphaned) == (False, True)
    assert matching.match_pending(engine) == 0


@pytest.mark.parametrize("receipt_id_base", ["decimal", "hex_upper"])
def test_a_campaign_whose_smsc_quotes_ids_in_another_base_is_all_delivered(backend, smsc_factory, tmp_path,
                                                                            receipt_id_base):
    engine, broker_url, _ = backend
    sim = smsc_factory(receipt_delay=0.02, receipt_id_base=receipt_id_base)
    campaign_id = launch_campaign(engine, tmp_path, sim.port, 40)
    with running_workers(engine, broker_url):
        counts = wait_until_done(engine, campaign_id, timeout=60)
    assert counts["delivered"] == 37
