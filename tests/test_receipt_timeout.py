"""A submitted message whose receipt has not come within its provider's receipt_timeout becomes
`unconfirmed`: final, so its campaign completes, counted and charged; a receipt that arrives later
still settles it. The clock is moved by writing submitted_at into the past; the sweep is run as the
dispatch worker runs it, or by the worker itself."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from engage.engine import statuses as st
from engage.engine.broker import connect
from engage.engine.campaigns import complete_finished
from engage.engine.costs import campaign_cost
from engage.engine.delivery.submits import record_outcomes
from engage.engine.delivery.sweeper import sweep
from engage.engine.providers import KINDS
from engage.engine.providers.base import SendOutcome
from engage.engine.providers.common_settings import DEFAULT_RECEIPT_TIMEOUT
from engage.engine.providers.records import add_provider, add_smpp, update_provider
from engage.engine.receipts import matching
from engage.engine.receipts.timeouts import time_out_unconfirmed
from engage.engine.store.schema import Campaign, Message
from tests.campaign_scenario import launch_campaign, wait_until_done
from tests.campaign_setup import bare_messages, recorded, statuses
from tests.fixtures.backends import running_workers
from tests.test_cli import engage

TIMEOUT = 60  # s: the providers' receipt_timeout in these tests


def _provider(engine, name: str = "sim", **config) -> int:  # noqa: ANN001, ANN003
    with engine.begin() as conn:
        return add_smpp(conn, name=name, host="127.0.0.1", port=2775, system_id="engage", password="secret",
                        actor="test", **config)


def _submitted(engine, n: int, *, ago: float, provider_id: int = 1, first_id: str = "r") -> list[int]:  # noqa: ANN001
    """n single-part messages of campaign 1 submitted to the provider `ago` seconds ago, ids r0, r1..."""
    ids = bare_messages(engine, n, status=st.SENDING)
    with engine.begin() as conn:
        conn.execute(update(Message).where(Message.id.in_(ids)).values(provider_id=provider_id))
    record_outcomes(engine, provider_id, 1, [SendOutcome(m, [f"{first_id}{i}"]) for i, m in enumerate(ids)])
    _age(engine, ids, ago)
    return ids


def _age(engine, ids: list[int], seconds: float) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(update(Message).where(Message.id.in_(ids)).values(
            submitted_at=datetime.now(UTC) - timedelta(seconds=seconds)))


def _status(engine, ids: list[int]) -> list[str]:  # noqa: ANN001
    with engine.connect() as conn:
        return list(conn.execute(select(Message.status).where(Message.id.in_(ids)).order_by(Message.id)).scalars())


def _sweep(engine) -> int:  # noqa: ANN001
    """The dispatch worker's sweep, on a broker of its own (nothing here is re-published)."""
    broker = connect(f"memory://receipt-timeout-{id(engine)}")
    try:
        return sweep(engine, broker).unconfirmed
    finally:
        broker.close()


def test_a_message_without_a_receipt_becomes_unconfirmed_once_its_providers_timeout_has_passed(engine):
    _provider(engine, receipt_timeout=TIMEOUT)
    late, recent = _submitted(engine, 1, ago=TIMEOUT + 5), _submitted(engine, 1, ago=TIMEOUT - 20, first_id="s")
    assert _sweep(engine) == 1
    assert _status(engine, late + recent) == [st.UNCONFIRMED, st.SUBMITTED]
    assert recorded(engine, 1, st.UNCONFIRMED) == (1, set(late))


def test_each_provider_waits_its_own_receipt_timeout(engine):
    quick = _provider(engine, "quick", receipt_timeout=TIMEOUT)
    patient = _provider(engine, "patient")  # the default: 48 h of validity and an hour
    ids = _submitted(engine, 1, ago=TIMEOUT + 5, provider_id=quick)
    ids += _submitted(engine, 1, ago=TIMEOUT + 5, provider_id=patient, first_id="p")
    ids += _submitted(engine, 1, ago=DEFAULT_RECEIPT_TIMEOUT + 5, provider_id=patient, first_id="q")
    assert time_out_unconfirmed(engine) == 2
    assert _status(engine, ids) == [st.UNCONFIRMED, st.SUBMITTED, st.UNCONFIRMED]


def test_a_backlog_is_timed_out_in_bounded_batches(engine):
    _provider(engine, receipt_timeout=TIMEOUT)
    ids = _submitted(engine, 7, ago=TIMEOUT + 5)
    assert time_out_unconfirmed(engine, batch=3, max_batches=2) == 6  # this sweep's share
    assert time_out_unconfirmed(engine, batch=3, max_batches=2) == 1  # the next sweep takes the rest
    assert _status(engine, ids) == [st.UNCONFIRMED] * 7
    assert recorded(engine, 1, st.UNCONFIRMED) == (7, set(ids))


def test_the_campaign_completes_when_its_last_messages_are_unconfirmed(engine):
    _provider(engine, receipt_timeout=TIMEOUT)
    ids = _submitted(engine, 2, ago=TIMEOUT + 5)
    matching.store(engine, 1, [{"id": "r0", "stat": "DELIVRD", "err": None, "done_at": None}], [])
    assert complete_finished(engine) == []  # r1 still waits for its receipt
    _sweep(engine)
    assert _status(engine, ids) == [st.DELIVERED, st.UNCONFIRMED]
    assert complete_finished(engine) == [1]
    assert _campaign_status(engine, 1) == st.CAMPAIGN_COMPLETED


def test_a_receipt_arriving_after_the_timeout_settles_the_message_and_the_counts_move(engine):
    _provider(engine, receipt_timeout=TIMEOUT)
    ids = _submitted(engine, 2, ago=TIMEOUT + 5)
    _sweep(engine)
    assert statuses(engine, 1) == {st.UNCONFIRMED: 2}
    matching.store(engine, 1, [{"id": "R1", "stat": "DELIVRD", "err": "000", "done_at": None}], [])
    assert _status(engine, ids) == [st.UNCONFIRMED, st.DELIVERED]
    assert statuses(engine, 1) == {st.UNCONFIRMED: 1, st.DELIVERED: 1}
    assert recorded(engine, 1, st.DELIVERED) == (1, {ids[1]})


def test_a_receipt_stored_unmatched_and_matched_after_the_timeout_settles_the_message(engine, monkeypatch):
    monkeypatch.setattr(matching, "ALT_MATCH_AFTER", 0.0)
    _provider(engine, receipt_timeout=TIMEOUT)
    ids = _submitted(engine, 1, ago=TIMEOUT + 5, first_id="1f")
    _sweep(engine)
    matching.store(engine, 1, [{"id": "496", "stat": "UNDELIV", "err": "001", "done_at": None}], [])  # 0x1f0 in decimal
    assert matching.match_pending(engine) == 1
    assert _status(engine, ids) == [st.UNDELIVERED]


def test_a_long_message_that_timed_out_is_settled_when_all_its_parts_receipts_arrive(engine):
    _provider(engine, receipt_timeout=TIMEOUT)
    message = bare_messages(engine, 1, status=st.SENDING, parts=2)
    record_outcomes(engine, 1, 1, [SendOutcome(message[0], ["p1", "p2"])])
    _age(engine, message, TIMEOUT + 5)
    _sweep(engine)
    matching.store(engine, 1, [{"id": "p1", "stat": "DELIVRD", "err": None, "done_at": None}], [])
    assert _status(engine, message) == [st.UNCONFIRMED]  # one part still unknown
    matching.store(engine, 1, [{"id": "p2", "stat": "DELIVRD", "err": None, "done_at": None}], [])
    assert _status(engine, message) == [st.DELIVERED]


def test_an_unconfirmed_message_is_charged(engine):
    _provider(engine, receipt_timeout=TIMEOUT)
    ids = _submitted(engine, 2, ago=TIMEOUT + 5)
    with engine.begin() as conn:
        conn.execute(update(Message).where(Message.id.in_(ids)).values(price=Decimal("0.03"), currency="USD"))
    _sweep(engine)
    with engine.connect() as conn:
        assert campaign_cost(conn, 1) == {"USD": Decimal("0.060000")}


def test_campaign_show_counts_the_unconfirmed_messages(engine, database_url):
    _provider(engine, receipt_timeout=TIMEOUT)
    _submitted(engine, 3, ago=TIMEOUT + 5)
    _sweep(engine)
    env = {**os.environ, "ENGAGE_DATABASE_URL": database_url, "ENGAGE_BROKER_URL": "memory://"}
    shown = engage(env, "campaign", "show", "1")
    assert shown["counts"][st.UNCONFIRMED] == 3 and shown["counts"][st.SUBMITTED] == 0


KANNEL = {"url": "http://kannel:13013/cgi-bin/sendsms", "username": "u", "password": "p",
          "callback_base": "https://engage.example"}


@pytest.mark.parametrize("value", ["2h", 0, -5, True, 30 * 86_400 + 1], ids=str)
def test_a_bad_receipt_timeout_is_refused_naming_the_field(engine, value):
    with engine.begin() as conn, pytest.raises(ValueError, match=r"^receipt_timeout: "):
        add_provider(conn, name="k", kind="kannel", actor="test", config={**KANNEL, "receipt_timeout": value})


def test_a_bad_receipt_timeout_is_refused_when_a_provider_is_changed(engine):
    _provider(engine, receipt_timeout=TIMEOUT)
    with engine.begin() as conn, pytest.raises(ValueError, match=r"^receipt_timeout: .* not '1d'"):
        update_provider(conn, "sim", config={"receipt_timeout": "1d"}, actor="test")
    with engine.connect() as conn:
        assert update_provider(conn, "sim", config={"receipt_timeout": 90}, actor="test")["config"][
            "receipt_timeout"] == 90


def test_a_kind_never_sees_the_receipt_timeout_in_its_own_config(engine):
    _provider(engine, receipt_timeout=TIMEOUT)
    from engage.engine.providers.records import find

    with engine.connect() as conn:
        stored = dict(find(conn, "sim").config)
    assert stored["receipt_timeout"] == TIMEOUT
    provider = KINDS["smpp"](1, "sim", stored, 10, sink=None)  # type: ignore[arg-type]
    assert "receipt_timeout" not in provider.config
    assert KINDS["smpp"].validate_config(provider.config) == provider.config  # what start() checks again


def test_a_campaign_whose_smsc_sends_no_receipts_completes_through_the_workers(engine, broker_url, smsc, tmp_path):
    """Real workers, a real SMSC over TCP that is asked for no receipts: the dispatch worker's own
    sweep ends the messages unconfirmed after the provider's 1 s, and the campaign completes."""
    campaign_id = launch_campaign(engine, tmp_path, smsc.port, 12)  # 9 recipients, 3 opted out
    with engine.begin() as conn:
        update_provider(conn, "sim", config={"registered_delivery": 0, "receipt_timeout": 1}, actor="test")
    with running_workers(engine, broker_url):
        counts = wait_until_done(engine, campaign_id, timeout=60)
        assert counts[st.UNCONFIRMED] == 9 and smsc.stats()["receipts_sent"] == 0
        deadline = time.monotonic() + 30
        while _campaign_status(engine, campaign_id) != st.CAMPAIGN_COMPLETED:
            assert time.monotonic() < deadline, "the campaign did not complete"
            time.sleep(0.1)


def _campaign_status(engine, campaign_id: int) -> str:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(Campaign.status).where(Campaign.id == campaign_id)).scalar_one()
