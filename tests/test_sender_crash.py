"""What a sender's crash costs: it records each outcome as the SMSC answers it and never sends more
than its window ahead of what is recorded, so a kill -9 in the middle of a campaign loses nothing
and sends again at most binds x window messages (the ones the SMSC may have taken unrecorded)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select

from engage.engine import statuses as st
from engage.engine.delivery.recorder import OutcomeRecorder
from engage.engine.events import message_ids
from engage.engine.providers.base import OutboundSms, SendOutcome
from engage.engine.providers.send_pool import SendPool
from engage.engine.store.schema import Event, Message, MessagePart
from tests.campaign_scenario import launch_campaign, wait_until_done
from tests.campaign_setup import bare_messages
from tests.smpp_helpers import run, sms
from tests.test_nothing_lost import FAST_SWEEP, _spawn, _stop, assert_every_message_arrived

BINDS, WINDOW = 2, 16  # launch_campaign's providers have two binds
MAX_PARTS = 2  # its texts are one or two parts long


def test_a_send_pool_never_sends_more_than_its_size_ahead_of_what_is_settled() -> None:
    started, settled, ahead = [0], [0], []

    async def send(item: OutboundSms) -> SendOutcome:
        started[0] += 1
        ahead.append(started[0] - settled[0])
        await asyncio.sleep(0)
        return SendOutcome(item.id)

    async def settle(outcome: SendOutcome) -> None:
        for _ in range(outcome.message_id % 7):  # settles finish out of order, some at once
            await asyncio.sleep(0)
        settled[0] += 1

    async def scenario() -> list[SendOutcome]:
        pool = SendPool(send, 4)
        outcomes = await asyncio.gather(*(pool.send([sms(b * 100 + n) for n in range(50)], settle) for b in range(3)))
        await pool.close(timeout=1)
        return [o for batch in outcomes for o in batch]

    outcomes = run(scenario())
    assert len(outcomes) == 150 and settled[0] == 150
    assert max(ahead) == 4


def test_a_send_pool_whose_settles_are_futures_sends_no_further_ahead_and_keeps_the_order() -> None:
    started, settled, ahead, waiting = [0], [0], [], []

    async def send(item: OutboundSms) -> SendOutcome:
        started[0] += 1
        ahead.append(started[0] - settled[0])
        await asyncio.sleep(0)
        return SendOutcome(item.id)

    def settle(outcome: SendOutcome) -> asyncio.Future[bool]:
        written = asyncio.get_running_loop().create_future()
        waiting.append(written)
        return written

    async def write_some() -> None:  # a recorder: writes what is waiting, newest first, a few at a time
        while settled[0] < 150:
            for written in reversed(waiting[-3:]):
                del waiting[waiting.index(written)]
                settled[0] += 1
                written.set_result(True)
            await asyncio.sleep(0)

    async def scenario() -> list[list[SendOutcome]]:
        pool = SendPool(send, 4)
        writer = asyncio.ensure_future(write_some())
        outcomes = await asyncio.gather(*(pool.send([sms(b * 100 + n) for n in range(50)], settle) for b in range(3)))
        await writer
        await pool.close(timeout=1)
        return outcomes

    outcomes = run(scenario())
    assert [[o.message_id for o in batch] for batch in outcomes] == [[b * 100 + n for n in range(50)] for b in range(3)]
    assert max(ahead) == 4


def test_a_send_pool_holds_its_batch_until_every_outcome_is_settled() -> None:
    release = asyncio.Event()

    async def send(item: OutboundSms) -> SendOutcome:
        return SendOutcome(item.id)

    async def settle(outcome: SendOutcome) -> None:
        await release.wait()

    async def scenario() -> tuple[bool, list[SendOutcome]]:
        pool = SendPool(send, 3)
        batch = asyncio.ensure_future(pool.send([sms(n) for n in range(3)], settle))
        for _ in range(20):
            await asyncio.sleep(0)
        done_before = batch.done()
        release.set()
        return done_before, await batch

    done_before, outcomes = run(scenario())
    assert not done_before
    assert [o.message_id for o in outcomes] == [0, 1, 2]


def test_an_outcome_is_in_the_database_once_the_recorder_says_so(engine) -> None:  # noqa: ANN001
    ids = bare_messages(engine, 3, status=st.SENDING)
    recorder = OutcomeRecorder(engine, 1, threading.Event(), give_up_after=5)

    async def scenario() -> list[bool]:
        return list(await asyncio.gather(*(recorder.record(1, SendOutcome(i, [f"a{i:x}"])) for i in ids)))

    try:
        recorded = run(scenario())
    finally:
        recorder.close()
    assert recorded == [True, True, True]
    with engine.connect() as conn:
        statuses = conn.execute(select(Message.status).where(Message.id.in_(ids))).scalars().all()
        part_ids = conn.execute(select(MessagePart.provider_message_id).where(MessagePart.message_id.in_(ids))).all()
        told = [i for event in conn.execute(select(Event).where(Event.kind == "submitted")) for i in message_ids(event)]
    assert statuses == [st.SUBMITTED] * 3
    assert sorted(p for (p,) in part_ids) == sorted(f"a{i:x}" for i in ids)
    assert sorted(told) == sorted(ids)


def test_an_outcome_the_one_statement_write_cannot_take_is_recorded_carefully(engine) -> None:  # noqa: ANN001
    """On PostgreSQL all-sent outcomes are written in one statement on the writer's autocommit
    connection; an id the SMSC handed out before fails it, and the careful write moves the earlier
    part aside."""
    old, new = bare_messages(engine, 2, status=st.SENDING)
    recorder = OutcomeRecorder(engine, 1, threading.Event(), give_up_after=5)

    async def scenario() -> list[bool]:
        first = await recorder.record(1, SendOutcome(old, ["aa"]))
        return [first, await recorder.record(1, SendOutcome(new, ["aa"]))]

    try:
        recorded = run(scenario())
    finally:
        recorder.close()
    assert recorded == [True, True]
    with engine.connect() as conn:
        parts = dict(conn.execute(select(MessagePart.message_id, MessagePart.provider_message_id)).all())
        statuses = conn.execute(select(Message.status).where(Message.id.in_([old, new]))).scalars().all()
    assert parts[new] == "aa" and parts[old].startswith("aa~")
    assert statuses == [st.SUBMITTED] * 2


def _messages_sent_twice(sim) -> set[str]:  # noqa: ANN001
    """The recipients the SMSC took some part of a message for more than once."""
    seen = Counter((r.destination, r.concat[2] if r.concat else 1) for r in sim.received)
    return {destination for (destination, _), n in seen.items() if n > 1}


def _accepted(sim) -> int:  # noqa: ANN001
    return sim.counts()["accepted"]


def _wait_while_sending(sim, at_least: int, timeout: float = 90) -> None:  # noqa: ANN001
    """Until the SMSC has accepted at_least submits and is taking more at this very moment."""
    deadline = time.monotonic() + timeout
    while _accepted(sim) < at_least:
        assert time.monotonic() < deadline, f"the SMSC accepted only {_accepted(sim)} of {at_least}"
        time.sleep(0.01)
    before = _accepted(sim)
    while _accepted(sim) == before:
        assert time.monotonic() < deadline, "the sender stopped sending"
        time.sleep(0.001)


@pytest.mark.parametrize("backend", ["production"], indirect=True)
def test_a_sender_killed_at_full_speed_sends_again_at_most_binds_x_window(backend, smsc_factory, tmp_path):
    """Batches of 500 (as the dispatcher makes them) at the SMSC's full speed: recorded batch by batch,
    a kill left hundreds answered and unrecorded, each sent again."""
    engine, broker_url, url = backend
    sim = smsc_factory(receipt_delay=0.05, deliver_window=WINDOW)
    campaign_id = launch_campaign(engine, tmp_path, sim.port, 4000, tps=1_000_000, window=WINDOW)
    env = {**os.environ, **FAST_SWEEP, "ENGAGE_DATABASE_URL": url, "ENGAGE_BROKER_URL": broker_url}
    workers = [_spawn(name, env) for name in ("receipts", "dispatch")]
    doomed = _spawn("send", env)
    try:
        _wait_while_sending(sim, 1500)
        doomed.kill()  # SIGKILL, while it sends: no chance to record what it has in flight
        doomed.wait()
        workers.append(_spawn("send", env))
        counts = wait_until_done(engine, campaign_id, timeout=120)
    finally:
        errors = _stop(workers)
    assert counts["delivered"] == 3997, (counts, errors)
    assert_every_message_arrived(engine, sim, campaign_id, max_duplicates=BINDS * WINDOW * MAX_PARTS)
    sent_twice = _messages_sent_twice(sim)
    assert len(sent_twice) <= BINDS * WINDOW, f"{len(sent_twice)} messages sent twice"


@pytest.mark.parametrize("backend", ["production"], indirect=True)
def test_bench_send_kills_the_sender_mid_run_and_reports_its_duplicates_against_the_bound(backend, tmp_path):
    _, broker_url, url = backend
    env = {**os.environ, **FAST_SWEEP, "ENGAGE_DATABASE_URL": url, "ENGAGE_BROKER_URL": broker_url}
    done = subprocess.run([sys.executable, "-m", "engage.cli", "bench", "send", "--recipients", "3000", "--binds",
                           "2", "--window", "8", "--receipt-delay", "0.05", "--kill-sender-at", "0.5", "--quiet"],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["sender_killed_at_accepted"] >= 1500
    assert figures["duplicate_bound"] == 16
    assert (figures["delivered"], figures["lost"]) == (3000, 0)
    assert figures["duplicates"] <= figures["duplicate_bound"]
    assert "send (killed)" in figures["peak_rss_mb"]


@pytest.mark.parametrize("backend", ["embedded"], indirect=True)
def test_bench_send_refuses_to_kill_a_sender_that_is_a_thread_of_its_own(backend, tmp_path):
    _, broker_url, url = backend
    env = {**os.environ, "ENGAGE_DATABASE_URL": url, "ENGAGE_BROKER_URL": broker_url}
    done = subprocess.run([sys.executable, "-m", "engage.cli", "bench", "send", "--recipients", "10",
                           "--kill-sender-at", "0.5", "--quiet"], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert "--kill-sender-at needs the workers as processes" in done.stderr
    assert done.stdout == ""
