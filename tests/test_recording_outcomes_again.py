"""Recording a batch's outcomes is idempotent: a sender that records them again (the database went
away after its commit reached the server, or after the one-by-one path had saved some of them)
makes no second part row and no second event, and moves no message's own part aside."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from engage.engine import statuses as st
from engage.engine.delivery.submits import record_outcomes
from engage.engine.events import message_ids
from engage.engine.providers.base import SendOutcome
from engage.engine.store.schema import Event, Message, MessagePart
from tests.campaign_setup import bare_messages
from tests.database_refusals import refuse


def _messages(engine, n: int, parts: int = 1) -> list[int]:  # noqa: ANN001
    return bare_messages(engine, n, status=st.QUEUED, parts=parts)


def _parts(engine) -> list[tuple[int, int, str]]:  # noqa: ANN001
    """(message, part number, provider id) of every part row, in the order they were written."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(
            MessagePart.message_id, MessagePart.part_no, MessagePart.provider_message_id).order_by(MessagePart.id))]


def _events(engine, kind: str) -> Counter[int]:  # noqa: ANN001
    """How many events of this kind name each message."""
    with engine.connect() as conn:
        rows = conn.execute(select(Event.message_id, Event.data).where(Event.kind == kind)).all()
    return Counter(m for row in rows for m in message_ids(row))


def _statuses(engine, ids: list[int]) -> list[tuple[str, str | None]]:  # noqa: ANN001
    with engine.connect() as conn:
        found = {r.id: (r.status, r.error) for r in conn.execute(
            select(Message.id, Message.status, Message.error).where(Message.id.in_(ids)))}
    return [found[i] for i in ids]


def test_sent_messages_recorded_twice_have_one_part_row_per_part_and_one_submitted_event(engine):
    a, b = _messages(engine, 2)
    outcomes = [SendOutcome(a, ["aa"]), SendOutcome(b, ["bb"])]
    record_outcomes(engine, 1, 1, outcomes)
    record_outcomes(engine, 1, 1, outcomes)
    assert _parts(engine) == [(a, 1, "aa"), (b, 1, "bb")]
    assert _events(engine, "submitted") == {a: 1, b: 1}


def test_a_long_message_recorded_twice_keeps_one_row_for_each_of_its_parts(engine):
    [long] = _messages(engine, 1, parts=3)
    record_outcomes(engine, 1, 1, [SendOutcome(long, ["p1", "p2", "p3"])])
    record_outcomes(engine, 1, 1, [SendOutcome(long, ["p1", "p2", "p3"])])
    assert _parts(engine) == [(long, 1, "p1"), (long, 2, "p2"), (long, 3, "p3")]


def test_final_failures_recorded_twice_have_one_failed_event_each(engine):
    out, partial = _messages(engine, 2)
    outcomes = [SendOutcome(out, error="smpp:0x0b"), SendOutcome(partial, ["cc"], error="smpp:0x45")]
    record_outcomes(engine, 1, 1, outcomes, max_routes=1)
    record_outcomes(engine, 1, 1, outcomes, max_routes=1)
    assert _events(engine, "failed") == {out: 1, partial: 1}
    assert _parts(engine) == [(partial, 1, "cc")]


def test_a_failover_recorded_twice_has_one_event_and_names_the_provider_once(engine):
    [over] = _messages(engine, 1)
    record_outcomes(engine, 1, 1, [SendOutcome(over, error="smpp:0x45")])
    record_outcomes(engine, 1, 1, [SendOutcome(over, error="smpp:0x45")])
    assert _events(engine, "failover") == {over: 1}
    with engine.connect() as conn:
        assert conn.execute(select(Message.tried_providers).where(Message.id == over)).scalar_one() == "1"


def test_a_batch_with_a_reused_id_recorded_twice_moves_only_the_earlier_message_aside(engine):
    old, new, other = _messages(engine, 3)
    record_outcomes(engine, 1, 1, [SendOutcome(old, ["aa"])])
    again = [SendOutcome(new, ["aa"]), SendOutcome(other, ["bb"])]
    record_outcomes(engine, 1, 1, again)  # the reused id sends it down the careful path
    record_outcomes(engine, 1, 1, again)
    parts = _parts(engine)
    assert [(m, p) for m, p, _ in parts] == [(old, 1), (new, 1), (other, 1)]
    assert parts[0][2].startswith("aa~") and parts[1:] == [(new, 1, "aa"), (other, 1, "bb")]
    assert _events(engine, "submitted") == {old: 1, new: 1, other: 1}


def test_a_message_recorded_again_after_a_newer_one_took_its_id_over_is_not_recorded_twice(engine):
    old, new = _messages(engine, 2)
    record_outcomes(engine, 1, 1, [SendOutcome(old, ["aa"])])
    record_outcomes(engine, 1, 1, [SendOutcome(new, ["aa"])])
    record_outcomes(engine, 1, 1, [SendOutcome(old, ["aa"])])  # the earlier sender's retry, late
    parts = _parts(engine)
    assert [(m, p) for m, p, _ in parts] == [(old, 1), (new, 1)]
    assert parts[1] == (new, 1, "aa")


def test_a_message_whose_parts_cannot_be_recorded_fails_visibly_and_the_rest_are_recorded(engine):
    fine, refused = _messages(engine, 2)
    refuse(engine, "message_parts", "provider_message_id", "bad")
    record_outcomes(engine, 1, 1, [SendOutcome(fine, ["ok"]), SendOutcome(refused, ["bad"])])
    assert _statuses(engine, [fine, refused]) == [(st.SUBMITTED, None), (st.FAILED, "could not be recorded")]
    assert _parts(engine) == [(fine, 1, "ok")]
    assert _events(engine, "failed") == {refused: 1}
    assert _events(engine, "submitted") == {fine: 1}


def test_a_long_message_partly_sent_whose_parts_cannot_be_recorded_fails_and_is_never_left_submitted(engine):
    [long] = _messages(engine, 1, parts=3)
    refuse(engine, "message_parts", "provider_message_id", "p2")
    record_outcomes(engine, 1, 1, [SendOutcome(long, ["p1", "p2"], error="smpp:0x45")])
    assert _statuses(engine, [long]) == [(st.FAILED, "could not be recorded")]
    assert _events(engine, "failed") == {long: 1}
