"""MOs the receipts worker stored are handled by their keywords: STOP opts the number out and sets
aside what was still to be sent to it, START opts it back in, a repeated MO acts once, and nothing
a subscriber sends is dropped or crashes the handler."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update

from engage.engine import statuses as st
from engage.engine.delivery.opt_outs import RecentOptOuts
from engage.engine.delivery.submits import record_outcomes
from engage.engine.events import message_ids
from engage.engine.keywords.actions import ACTIONS
from engage.engine.keywords.handling import DUPLICATE_WINDOW, handle_pending
from engage.engine.providers.base import OutboundSms, SendOutcome
from engage.engine.store.schema import Event, InboundMessage, Message, OptOut, SendClaim
from tests.campaign_setup import bare_messages

NUMBER = "+998901234560"  # bare_messages' first recipient


def _mo(engine, text: str, source: str = NUMBER.lstrip("+"), at: datetime | None = None) -> int:  # noqa: ANN001
    values = {"provider_id": 1, "source": source, "destination": "1234", "text": text, "handled": False}
    if at is not None:
        values["received_at"] = at
    with engine.begin() as conn:
        return conn.execute(insert(InboundMessage.__table__).values(**values)).inserted_primary_key[0]


def _opted_out(engine) -> list[str]:  # noqa: ANN001
    with engine.connect() as conn:
        return list(conn.execute(select(OptOut.msisdn).where(OptOut.channel == "sms")).scalars())


def _keyword_events(engine) -> list[dict]:  # noqa: ANN001
    with engine.connect() as conn:
        return [e.data for e in conn.execute(select(Event).where(Event.kind == "keyword").order_by(Event.id))]


def test_stop_opts_the_number_out_of_sms(engine):
    _mo(engine, "Stop!")
    assert handle_pending(engine) == 1
    assert _opted_out(engine) == [NUMBER]


def test_stop_sets_aside_every_unsent_message_to_the_number_and_counts_them(engine):
    ids = bare_messages(engine, 1, status=st.PENDING) + bare_messages(engine, 1, status=st.QUEUED)
    held = bare_messages(engine, 1, status=st.HELD)
    others = bare_messages(engine, 2, status=st.PENDING)  # the second is another number
    sent = bare_messages(engine, 1, status=st.SUBMITTED)
    _mo(engine, "STOP")
    handle_pending(engine)
    with engine.connect() as conn:
        status = dict(conn.execute(select(Message.id, Message.status)).all())
        set_aside = [i for e in conn.execute(select(Event).where(Event.kind == st.OPTED_OUT))
                     for i in message_ids(e)]
    assert [status[i] for i in ids + held] == [st.OPTED_OUT] * 3
    assert status[others[1]] == st.PENDING and status[sent[0]] == st.SUBMITTED
    assert sorted(set_aside) == sorted(ids + held + others[:1])
    assert _keyword_events(engine)[0]["set_aside"] == 4


def test_start_opts_the_number_back_in(engine):
    _mo(engine, "stop")
    handle_pending(engine)
    _mo(engine, "START")
    handle_pending(engine)
    assert _opted_out(engine) == []


def test_the_same_mo_sent_again_acts_once_and_is_kept_as_a_duplicate(engine):
    first = _mo(engine, "STOP")
    again = _mo(engine, "STOP")
    handle_pending(engine)
    later = _mo(engine, "STOP")  # after the first was handled, still within the window
    handle_pending(engine)
    events = _keyword_events(engine)
    assert [e.get("duplicate_of") for e in events] == [None, first, first]
    assert [e.get("outcome") for e in events] == ["done", None, None]
    with engine.connect() as conn:
        marks = dict(conn.execute(select(InboundMessage.id, InboundMessage.duplicate_of)).all())
    assert marks == {first: None, again: first, later: first}


def test_the_same_text_after_the_window_acts_again(engine):
    long_ago = datetime.now(UTC) - DUPLICATE_WINDOW - timedelta(minutes=1)
    _mo(engine, "STOP", at=long_ago)
    handle_pending(engine)
    with engine.begin() as conn:
        conn.execute(update(OptOut.__table__).values(source="staff"))
    _mo(engine, "START")
    _mo(engine, "STOP")
    handle_pending(engine)
    assert [e.get("duplicate_of") for e in _keyword_events(engine)] == [None, None, None]
    assert _opted_out(engine) == [NUMBER]


def test_an_unknown_word_is_stored_marked_and_told_and_acts_on_nothing(engine):
    mo = _mo(engine, "Balance please")
    handle_pending(engine)
    with engine.connect() as conn:
        row = conn.execute(select(InboundMessage).where(InboundMessage.id == mo)).one()
    assert (row.handled, row.keyword, row.text) == (True, "BALANCE", "Balance please")
    assert _keyword_events(engine)[0]["outcome"] == "unknown"
    assert _opted_out(engine) == []


def test_a_sender_that_is_no_phone_number_is_handled_without_acting(engine):
    _mo(engine, "STOP", source="MTN-INFO")
    _mo(engine, "STOP")
    assert handle_pending(engine) == 2
    events = _keyword_events(engine)
    assert events[0]["outcome"] == "not a phone number" and events[1]["outcome"] == "done"
    assert _opted_out(engine) == [NUMBER]


def test_nothing_is_handled_twice(engine):
    _mo(engine, "HELP")
    assert handle_pending(engine) == 1
    assert handle_pending(engine) == 0
    assert len(_keyword_events(engine)) == 1


def test_stop_leaves_a_queued_message_whose_batch_a_sender_claimed_to_that_sender(engine):
    claimed, free = bare_messages(engine, 1, status=st.QUEUED) + bare_messages(engine, 1, status=st.QUEUED)
    with engine.begin() as conn:
        conn.execute(update(Message).where(Message.id == claimed).values(batch_id="b1"))
        conn.execute(update(Message).where(Message.id == free).values(batch_id="b2"))
        conn.execute(insert(SendClaim.__table__).values(batch_id="b1", provider_id=1))
    _mo(engine, "STOP")
    handle_pending(engine)
    with engine.connect() as conn:
        status = dict(conn.execute(select(Message.id, Message.status)).all())
    assert (status[claimed], status[free]) == (st.QUEUED, st.OPTED_OUT)


def test_a_sender_holds_back_a_message_to_a_number_that_opted_out_since_it_last_looked(engine):
    recent = RecentOptOuts(engine)
    recent.refresh_if_due()
    sms = OutboundSms(1, NUMBER, "Engage", "hi")
    assert recent.hold(sms) is None
    _mo(engine, "STOP")
    handle_pending(engine)
    recent._next = 0.0  # its REFRESH has passed
    recent.refresh_if_due()
    assert recent.hold(sms) == st.OPTED_OUT
    assert recent.hold(OutboundSms(2, "+998901234561", "Engage", "hi")) is None


def test_a_message_held_back_by_its_sender_is_recorded_as_opted_out_not_failed_over(engine):
    [held] = bare_messages(engine, 1, status=st.QUEUED)
    record_outcomes(engine, 1, 1, [SendOutcome(held, error=st.OPTED_OUT)])
    with engine.connect() as conn:
        assert conn.execute(select(Message.status).where(Message.id == held)).scalar_one() == st.OPTED_OUT
        told = [i for e in conn.execute(select(Event).where(Event.kind == st.OPTED_OUT)) for i in message_ids(e)]
    assert told == [held]


def _replied(engine) -> list[tuple[int | None, int | None, int]]:  # noqa: ANN001
    with engine.connect() as conn:
        return [(e.campaign_id, e.message_id, e.data["inbound_id"])
                for e in conn.execute(select(Event).where(Event.kind == "replied").order_by(Event.id))]


def _sent_at(engine, message_id: int, at: datetime) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(update(Message).where(Message.id == message_id).values(submitted_at=at))


def test_an_mo_is_a_reply_to_the_campaign_that_last_reached_the_number_within_the_window(engine):
    now = datetime.now(UTC)
    earlier, latest = bare_messages(engine, 1, status=st.DELIVERED) + bare_messages(engine, 1, status=st.DELIVERED)
    _sent_at(engine, earlier, now - timedelta(hours=5))
    _sent_at(engine, latest, now - timedelta(hours=1))
    mo = _mo(engine, "Yes please")
    handle_pending(engine)
    assert _replied(engine) == [(1, latest, mo)]


def test_an_mo_long_after_the_last_message_is_no_reply(engine):
    [old] = bare_messages(engine, 1, status=st.DELIVERED)
    _sent_at(engine, old, datetime.now(UTC) - timedelta(days=30))
    _mo(engine, "hello")
    handle_pending(engine)
    assert _replied(engine) == []


def test_a_repeated_mo_is_one_reply(engine):
    [message] = bare_messages(engine, 1, status=st.DELIVERED)
    _sent_at(engine, message, datetime.now(UTC) - timedelta(minutes=5))
    first = _mo(engine, "STOP")
    _mo(engine, "STOP")
    handle_pending(engine)
    assert _replied(engine) == [(1, message, first)]


def test_an_action_that_fails_is_told_and_holds_up_no_other_mo(engine, monkeypatch):
    def broken(conn, asked):  # noqa: ANN001, ANN202
        conn.execute(insert(OptOut.__table__).values(msisdn=asked[0][0].number, channel="sms"))  # undone with it
        raise ValueError("a keyword action with a bug")

    monkeypatch.setitem(ACTIONS, "HELP", broken)
    _mo(engine, "HELP")
    _mo(engine, "STOP", source="998901234561")
    assert handle_pending(engine) == 2
    events = _keyword_events(engine)
    assert events[0]["outcome"] == "failed" and "a keyword action with a bug" in events[0]["reason"]
    assert events[1]["outcome"] == "done"
    assert _opted_out(engine) == ["+998901234561"]


def test_many_stops_in_one_batch_each_act_and_a_number_repeated_within_it_opts_out_once(engine):
    [first, second] = bare_messages(engine, 2, status=st.PENDING)
    _mo(engine, "STOP")
    _mo(engine, "STOP", source="998901234561")
    _mo(engine, "stop!")  # the same number again, another text: not a repeat of the same MO
    handle_pending(engine)
    events = _keyword_events(engine)
    assert [(e["opted_out"], e["set_aside"]) for e in events] == [(True, 1), (True, 1), (False, 0)]
    assert sorted(_opted_out(engine)) == [NUMBER, "+998901234561"]


def test_a_failing_action_in_a_batch_fails_alone(engine, monkeypatch):
    def fails_for_one(conn, asked):  # noqa: ANN001, ANN202
        if any(mo.number.endswith("1") for mo, _ in asked):
            raise ValueError("not this one")
        return [{"help": True} for _ in asked]

    monkeypatch.setitem(ACTIONS, "HELP", fails_for_one)
    _mo(engine, "HELP")
    _mo(engine, "HELP", source="998901234561")
    _mo(engine, "HELP", source="998901234562")
    handle_pending(engine)
    assert [e["outcome"] for e in _keyword_events(engine)] == ["done", "failed", "done"]
