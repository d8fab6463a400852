"""An SMSC that hands out a message id it gave before (its counter started over after a restart, or
it is simply buggy): every submit is still recorded, so the sweeper never sends anyone the same SMS
twice, and a receipt quoting a reused id settles the newest message sent under it."""

from __future__ import annotations

from sqlalchemy import select

from engage.engine import statuses as st
from engage.engine.delivery.submits import record_outcomes
from engage.engine.providers.base import SendOutcome
from engage.engine.receipts import matching
from engage.engine.store.schema import Message, MessagePart
from tests.campaign_scenario import launch_campaign, wait_until_done
from tests.campaign_setup import bare_messages
from tests.fixtures.backends import running_workers

FAST_SWEEP = {"ENGAGE_SEND_LEASE": "3", "ENGAGE_REPUBLISH_AFTER": "2"}


def _messages(engine, n: int, status: str = st.QUEUED) -> list[int]:  # noqa: ANN001
    return bare_messages(engine, n, status=status)


def _statuses(engine, ids: list[int]) -> list[str]:  # noqa: ANN001
    with engine.connect() as conn:
        found = dict(conn.execute(select(Message.id, Message.status).where(Message.id.in_(ids))).all())
    return [found[i] for i in ids]


def _owner(engine, provider_message_id: str) -> int:  # noqa: ANN001
    """The message whose part answers to this provider id now."""
    with engine.connect() as conn:
        return conn.execute(select(MessagePart.message_id).where(
            MessagePart.provider_id == 1, MessagePart.provider_message_id == provider_message_id)).scalar_one()


def test_a_submit_under_an_id_an_earlier_message_holds_is_recorded_and_takes_the_id_over(engine):
    old, new, other = _messages(engine, 3)
    record_outcomes(engine, 1, 1, [SendOutcome(old, ["7f01"])])
    matching.store(engine, 1, [{"id": "7f01", "stat": "DELIVRD", "err": "000", "done_at": None}], [])
    record_outcomes(engine, 1, 1, [SendOutcome(new, ["7F01"]), SendOutcome(other, ["7f02"])])
    assert _statuses(engine, [old, new, other]) == [st.DELIVERED, st.SUBMITTED, st.SUBMITTED]
    assert _owner(engine, "7f01") == new


def test_the_earlier_message_keeps_its_part_under_a_marked_id(engine):
    old, new = _messages(engine, 2)
    record_outcomes(engine, 1, 1, [SendOutcome(old, ["7f01"])])
    record_outcomes(engine, 1, 1, [SendOutcome(new, ["7f01"])])
    with engine.connect() as conn:
        kept = conn.execute(select(MessagePart.provider_message_id, MessagePart.alt_message_id).where(
            MessagePart.message_id == old)).one()
    assert kept.provider_message_id.startswith("7f01~") and kept.alt_message_id == "7f01"


def test_a_receipt_quoting_a_reused_id_settles_the_newest_message_sent_under_it(engine):
    old, new = _messages(engine, 2)
    record_outcomes(engine, 1, 1, [SendOutcome(old, ["7f01"])])
    record_outcomes(engine, 1, 1, [SendOutcome(new, ["7f01"])])
    matching.store(engine, 1, [{"id": "7f01", "stat": "UNDELIV", "err": "001", "done_at": None}], [])
    assert _statuses(engine, [old, new]) == [st.SUBMITTED, st.UNDELIVERED]


def test_a_second_receipt_for_a_reused_id_settles_the_earlier_message_still_waiting_for_one(engine):
    old, new = _messages(engine, 2)
    record_outcomes(engine, 1, 1, [SendOutcome(old, ["7f01"])])
    record_outcomes(engine, 1, 1, [SendOutcome(new, ["7f01"])])
    matching.store(engine, 1, [{"id": "7f01", "stat": "DELIVRD", "err": "000", "done_at": None}], [])
    matching.store(engine, 1, [{"id": "7f01", "stat": "UNDELIV", "err": "001", "done_at": None}], [])
    assert _statuses(engine, [old, new]) == [st.UNDELIVERED, st.DELIVERED]


def test_a_repeated_receipt_for_a_reused_id_changes_nothing_once_both_messages_are_settled(engine):
    old, new = _messages(engine, 2)
    record_outcomes(engine, 1, 1, [SendOutcome(old, ["7f01"])])
    record_outcomes(engine, 1, 1, [SendOutcome(new, ["7f01"])])
    for stat in ("DELIVRD", "UNDELIV", "EXPIRED"):
        matching.store(engine, 1, [{"id": "7f01", "stat": stat, "err": "000", "done_at": None}], [])
    assert _statuses(engine, [old, new]) == [st.UNDELIVERED, st.DELIVERED]


def test_one_batch_answered_twice_with_the_same_id_records_both_and_the_later_one_owns_it(engine):
    first, second, third = _messages(engine, 3)
    record_outcomes(engine, 1, 1, [SendOutcome(first, ["aa"]), SendOutcome(second, ["bb"]),
                                   SendOutcome(third, ["aa"])])
    assert _statuses(engine, [first, second, third]) == [st.SUBMITTED] * 3
    assert _owner(engine, "aa") == third


def test_an_smsc_reusing_message_ids_gets_every_message_once_and_all_are_delivered(backend, smsc_factory,
                                                                                   tmp_path, monkeypatch):
    for key, value in FAST_SWEEP.items():
        monkeypatch.setenv(key, value)
    engine, broker_url, _ = backend
    sim = smsc_factory(receipt_delay=0.02, id_cycle=100)  # ids 101.. are ids 1.. again
    campaign_id = launch_campaign(engine, tmp_path, sim.port, 147)
    with running_workers(engine, broker_url):
        counts = wait_until_done(engine, campaign_id, timeout=30)
        stats = sim.stats()
    assert counts["delivered"] == 144, counts
    assert (stats["submits"], stats["duplicate_submits"]) == (144, 0)
    assert len({r.message_id for r in sim.received}) == 100


def test_an_earlier_message_whose_long_reused_id_was_cut_when_moved_aside_is_settled_by_the_second_receipt(engine):
    long_id = "f" * 70  # an HTTP provider's hash: moved aside, it is cut to make room for ~<part>
    *before, old, new = _messages(engine, 11)
    record_outcomes(engine, 1, 1, [SendOutcome(m, [f"x{i}"]) for i, m in enumerate(before)]
                    + [SendOutcome(old, [long_id])])
    record_outcomes(engine, 1, 1, [SendOutcome(new, [long_id])])
    with engine.connect() as conn:
        kept = conn.execute(select(MessagePart.provider_message_id).where(MessagePart.message_id == old)).scalar_one()
    assert len(kept) == 72 and not kept.startswith(long_id + "~")
    matching.store(engine, 1, [{"id": long_id, "stat": "DELIVRD", "err": "000", "done_at": None}], [])
    matching.store(engine, 1, [{"id": long_id, "stat": "UNDELIV", "err": "001", "done_at": None}], [])
    assert _statuses(engine, [old, new]) == [st.UNDELIVERED, st.DELIVERED]
