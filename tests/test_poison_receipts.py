"""One receipt or subscriber's message that cannot be stored (a NUL in its id, a value no column
holds) is parked in the receipts queue's dead letters with its reason; the receipts before and after
it, in its own batch and in every batch after, are stored and settle their messages."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import event, insert, select

from engage.engine import dead_letters
from engage.engine import statuses as st
from engage.engine.broker import connect
from engage.engine.broker.queues import receipts_queue
from engage.engine.delivery.submits import record_outcomes
from engage.engine.providers.base import SendOutcome
from engage.engine.receipts import matching
from engage.engine.store.schema import Campaign, InboundMessage, Message, Segment, Template
from engage.workers import runner
from tests.campaign_scenario import launch_campaign
from tests.database_refusals import refuse
from tests.fixtures.backends import running_workers


def _submitted(engine, n: int) -> list[int]:  # noqa: ANN001
    """n single-part messages submitted under the provider ids m0, m1, ..."""
    with engine.begin() as conn:
        conn.execute(insert(Segment.__table__).values(id=1, name="s", definition={}))
        conn.execute(insert(Template.__table__).values(id=1, name="t", default_language="en"))
        conn.execute(insert(Campaign.__table__).values(id=1, name="c", segment_id=1, template_id=1,
                                                       sender_id="X", status="running", set_aside={}))
        ids = [conn.execute(insert(Message.__table__).values(
            campaign_id=1, subscriber_id=1, msisdn=f"+99890123456{i}", status=st.QUEUED, parts=1,
            provider_id=1)).inserted_primary_key[0] for i in range(n)]
    record_outcomes(engine, 1, 1, [SendOutcome(m, [f"m{i}"]) for i, m in enumerate(ids)])
    return ids


def _receipt(provider_message_id: str, done_at: str | None = None) -> dict:
    return {"id": provider_message_id, "stat": "DELIVRD", "err": "000", "done_at": done_at}


def _eventually(check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def _statuses(engine, ids: list[int]) -> list[str]:  # noqa: ANN001
    with engine.connect() as conn:
        found = dict(conn.execute(select(Message.id, Message.status).where(Message.id.in_(ids))).all())
    return [found[i] for i in ids]


@pytest.fixture
def receipts_worker(engine, broker_url, monkeypatch) -> Iterator[Callable[..., None]]:  # noqa: ANN001
    """The receipts worker running on this database and broker; call it to publish a receipts batch."""
    monkeypatch.setenv("ENGAGE_QUEUE_PREFIX", f"test-{uuid.uuid4().hex[:8]}")
    broker = connect(broker_url)
    stop = threading.Event()
    threads = runner.start(["receipts"], engine, broker_url, stop)

    def publish(receipts: list[dict], inbound: list[dict] | None = None) -> None:
        broker.publish(receipts_queue(), json.dumps({"provider_id": 1, "receipts": receipts,
                                                     "inbound": inbound or []}).encode())

    try:
        yield publish
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
        broker.delete(receipts_queue())
        broker.close()


def _parked(broker_url: str, n: int) -> list[dict]:
    """The receipts queue's dead letters, once there are n."""
    seen: list[dict] = []

    def enough() -> bool:  # the look that found them: on RabbitMQ a look just after may not see them back yet
        seen[:] = dead_letters.peek(broker, receipts_queue())
        return len(seen) >= n

    with connect(broker_url) as broker:
        _eventually(enough)
    return seen


def test_a_receipt_with_a_nul_in_its_id_is_parked_and_the_receipts_after_it_settle_their_messages(
        engine, broker_url, receipts_worker):
    ids = _submitted(engine, 3)
    receipts_worker([_receipt("m0"), _receipt("AB\x00CD"), _receipt("m1")])
    receipts_worker([_receipt("m2")])
    _eventually(lambda: _statuses(engine, ids) == [st.DELIVERED] * 3)
    [parked] = _parked(broker_url, 1)
    assert "NUL" in parked["reason"] and "AB\\x00CD" in parked["reason"]


def test_a_receipt_that_fails_to_store_is_parked_alone_and_the_batches_around_it_are_stored(
        engine, broker_url, receipts_worker):
    ids = _submitted(engine, 4)
    refuse(engine, "receipts", "provider_message_id", "m9")
    receipts_worker([_receipt("m0")])
    receipts_worker([_receipt("m1"), _receipt("m9"), _receipt("m2")])
    receipts_worker([_receipt("m3")])
    _eventually(lambda: _statuses(engine, ids) == [st.DELIVERED] * 4)
    [parked] = _parked(broker_url, 1)
    assert "could not be stored" in parked["reason"] and "refused" in parked["reason"]
    assert parked["preview"].count('"m9"') == 1 and '"m1"' not in parked["preview"]


def test_a_receipt_whose_done_at_is_not_a_date_is_parked_with_the_reason_and_the_rest_settle(
        engine, broker_url, receipts_worker):
    ids = _submitted(engine, 2)
    receipts_worker([_receipt("m0"), _receipt("m9", done_at="yesterday"), _receipt("m1")])
    _eventually(lambda: _statuses(engine, ids) == [st.DELIVERED] * 2)
    [parked] = _parked(broker_url, 1)
    assert "its done_at" in parked["reason"] and "'yesterday'" in parked["reason"]


def _transactions(engine) -> Callable[[], int]:  # noqa: ANN001
    """How many transactions the engine has begun since."""
    begun = []
    event.listen(engine, "begin", lambda conn: begun.append(1))
    return lambda: len(begun)


def test_a_batch_of_receipts_with_dates_no_one_can_read_is_parked_without_a_transaction_each(engine):
    bad = [_receipt(f"m{i}", done_at=f"{i} days ago") for i in range(8)]
    begun = _transactions(engine)
    unstorable = matching.store_all(engine, [(1, bad, [])])
    assert [u.item["id"] for u in unstorable] == [f"m{i}" for i in range(8)]
    assert all("its done_at is not an ISO date" in u.reason for u in unstorable)
    assert begun() <= 1


def test_a_batch_for_a_provider_id_no_column_holds_is_parked_without_a_transaction_each(engine):
    begun = _transactions(engine)
    unstorable = matching.store_all(engine, [(2**31, [_receipt("m0"), _receipt("m1")],
                                              [{"source": "+998901234567", "destination": "1234", "text": "hi"}])])
    assert [u.kind for u in unstorable] == ["receipt", "receipt", "inbound"]
    assert all("provider id 2147483648" in u.reason for u in unstorable)
    assert begun() <= 1


def test_a_subscribers_message_whose_gateway_id_no_column_holds_is_parked_and_the_others_are_stored(engine):
    unstorable = matching.store_all(engine, [(1, [], [
        {"source": "+998901234567", "destination": "1234", "text": "hi", "provider_ref": "x" * 73},
        {"source": "+998901234567", "destination": "1234", "text": "STOP", "provider_ref": "gw-1"}])])
    assert [u.reason for u in unstorable] == [
        "message from '+998901234567': its provider_ref is not an id of at most 72 characters"]
    with engine.connect() as conn:
        assert conn.execute(select(InboundMessage.text, InboundMessage.provider_ref)).all() == [("STOP", "gw-1")]


def test_a_receipts_batch_naming_a_provider_id_out_of_range_is_parked_with_the_reason(
        engine, broker_url, receipts_worker):
    ids = _submitted(engine, 1)
    with connect(broker_url) as broker:
        broker.publish(receipts_queue(), json.dumps({"provider_id": 2**63, "receipts": [_receipt("m0")],
                                                     "inbound": []}).encode())
    receipts_worker([_receipt("m0")])
    _eventually(lambda: _statuses(engine, ids) == [st.DELIVERED])
    [parked] = _parked(broker_url, 1)
    assert f"provider id {2**63}" in parked["reason"]


def test_a_subscribers_message_with_a_nul_in_its_text_is_stored_with_the_nul_replaced(
        engine, broker_url, receipts_worker):
    receipts_worker([], [{"source": "+998901234567", "destination": "1234", "text": "STOP\x00 now"}])

    def stored() -> list[str]:
        with engine.connect() as conn:
            return list(conn.execute(select(InboundMessage.text)).scalars())

    _eventually(lambda: stored() == ["STOP\ufffd now"])


def test_a_subscribers_message_from_an_unusable_address_is_parked_with_the_reason(engine, broker_url,
                                                                                 receipts_worker):
    ids = _submitted(engine, 1)
    receipts_worker([_receipt("m0")], [{"source": "+99890\x001234567", "destination": "1234", "text": "hi"}])
    _eventually(lambda: _statuses(engine, ids) == [st.DELIVERED])
    [parked] = _parked(broker_url, 1)
    assert "source address" in parked["reason"]


def test_an_smsc_quoting_ids_with_a_nul_in_some_receipts_holds_up_none_of_the_others(backend, smsc_factory,
                                                                                     tmp_path):
    engine, broker_url, _ = backend
    sim = smsc_factory(receipt_delay=0.02, nul_receipt_every=50)  # the 50th and the 100th receipt
    campaign_id = launch_campaign(engine, tmp_path, sim.port, 147)

    def counts() -> Counter[str]:
        with engine.connect() as conn:
            return Counter(conn.execute(select(Message.status).where(Message.campaign_id == campaign_id)).scalars())

    with running_workers(engine, broker_url):
        _eventually(lambda: counts().get(st.DELIVERED) == 142, timeout=30)
        parked = _parked(broker_url, 2)
    assert counts() == {st.DELIVERED: 142, st.SUBMITTED: 2}
    assert len(parked) == 2 and all("its id has a NUL byte" in p["reason"] for p in parked)

