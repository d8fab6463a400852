"""`engage bench stop`: STOP honoured inside a running campaign, measured by the simulator's log.

A campaign to ``recipients`` bench subscribers, paced at ``rate`` messages a second, sends through
the SMSC simulator. While it runs, ``stops`` recipients text STOP, each a little before its message
was due (``leads`` seconds ahead of the campaign's progress at the simulator), so that its message
is pending, queued in the broker or waiting in a sender's claimed batch when the MO arrives. The
simulator logs when it sent each MO and when it accepted each submit; the promise is that no
campaign message reaches a number later than ``grace`` seconds after its STOP.

Reported: how many campaign messages reached a STOP number before its MO (sent before anyone could
know), within the grace, and after it (the promise: 0), the latest of those, the messages set aside
as opted_out, and the STOP confirmations the numbers received.
"""

from __future__ import annotations

import itertools
import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, update

from engage import config
from engage.bench.send import (
    Options,
    WorkerProcesses,
    _create_campaign,
    one_bench_at_a_time,
    seed_subscribers,
    use_bench_providers,
)
from engage.engine import campaigns
from engage.engine import statuses as st
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade
from engage.engine.store.schema import Campaign, Message
from engage.simulators.smsc import SmscSimulator, start_in_thread

SHORT_CODE = "4455"
SENDER = "Bench"  # bench.send's campaigns' sender id


@dataclass
class StopOptions:
    recipients: int = 10_000
    rate: int = 300
    stops: int = 100
    grace: float = 2.0
    leads: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 3.0)  # seconds ahead of the campaign's progress
    stall_timeout: float = 60.0


def run(options: StopOptions) -> dict[str, Any]:
    settings = config.load()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    with ExitStack() as stack:
        stack.enter_context(one_bench_at_a_time(engine))
        seed_subscribers(engine, options.recipients)
        sim = start_in_thread(receipt_delay=0.05, deliver_window=64)
        stack.callback(sim.stop_thread)
        stack.callback(use_bench_providers(engine, [sim], Options(recipients=options.recipients, binds=2)))
        campaign_id = _create_campaign(engine, options.recipients)
        with engine.begin() as conn:
            conn.execute(update(Campaign.__table__).where(Campaign.id == campaign_id).values(max_rate=options.rate))
        workers = stack.enter_context(WorkerProcesses(settings))
        started = time.monotonic()
        campaigns.launch(engine, campaign_id, actor="bench")
        order = _recipients_in_order(engine, campaign_id)
        stopped = _text_stop_while_sending(sim, order, options)
        final = _wait(engine, campaign_id, len(order), options)
        _wait_for_confirmations(sim, len(stopped), options)
        seconds = time.monotonic() - started
    return _report(engine, campaign_id, sim, stopped, options) | {
        "recipients": len(order), "rate": options.rate, "seconds": round(seconds, 2), "all_final": final,
        "database": engine.dialect.name, "broker": "memory" if settings.broker_url.startswith("memory")
        else "rabbitmq", "peak_rss_mb": workers.peaks}


def _recipients_in_order(engine: Engine, campaign_id: int) -> list[str]:
    """The campaign's numbers in the order the dispatcher takes them (message id)."""
    with engine.connect() as conn:
        return list(conn.execute(select(Message.msisdn).where(Message.campaign_id == campaign_id)
                                 .order_by(Message.id)).scalars())


def _campaign_accepted(sim: SmscSimulator) -> int:
    return sum(1 for r in sim.received if r.source == SENDER)


def _text_stop_while_sending(sim: SmscSimulator, order: list[str], options: StopOptions) -> dict[str, float]:
    """number -> when (time.time()) the simulator sent its STOP. Spread over the campaign's middle,
    each number picked ``lead`` seconds of sending ahead of what the simulator accepted so far."""
    # over the campaign's middle, the last still ahead of its end by the longest lead
    spacing = max(0.02, (len(order) * 0.8 / options.rate - max(options.leads)) / max(options.stops, 1))
    stopped: dict[str, float] = {}
    leads = itertools.cycle(options.leads)
    while _campaign_accepted(sim) < len(order) * 0.1:
        time.sleep(0.05)
    for _ in range(options.stops):
        lead = next(leads)
        at = _campaign_accepted(sim) + int(lead * options.rate)
        number = next((n for n in order[at:] if n not in stopped), None)
        if number is None:
            break
        stopped[number] = time.time()
        sim.deliver_mo(number.lstrip("+"), SHORT_CODE, "STOP")
        time.sleep(spacing)
    return stopped


def _wait_for_confirmations(sim: SmscSimulator, due: int, options: StopOptions) -> None:
    last, moved = -1, time.monotonic()
    while (sent := sum(1 for r in sim.received if r.source == SHORT_CODE)) < due:
        if sent != last:
            last, moved = sent, time.monotonic()
        elif time.monotonic() - moved > options.stall_timeout:
            return
        time.sleep(0.1)


def _wait(engine: Engine, campaign_id: int, total: int, options: StopOptions) -> bool:
    last, moved = -1, time.monotonic()
    while True:
        with engine.connect() as conn:
            final = conn.execute(select(func.count()).where(Message.campaign_id == campaign_id,
                                                            Message.status.in_(st.FINAL))).scalar_one()
        if final >= total:
            return True
        if final != last:
            last, moved = final, time.monotonic()
        elif time.monotonic() - moved > options.stall_timeout:
            return False
        time.sleep(0.2)


def _report(engine: Engine, campaign_id: int, sim: SmscSimulator, stopped: dict[str, float],
            options: StopOptions) -> dict[str, Any]:
    before = within = after = replies = 0
    latest = None
    for part in sim.received:
        number = "+" + part.destination.lstrip("+")
        if number not in stopped:
            continue
        if part.source == SHORT_CODE:
            replies += 1
            continue
        late = part.at - stopped[number]
        if late < 0:
            before += 1
        elif late <= options.grace:
            within += 1
        else:
            after += 1
        if late >= 0:
            latest = late if latest is None else max(latest, late)
    with engine.connect() as conn:
        aside = conn.execute(select(func.count()).where(Message.campaign_id == campaign_id,
                                                        Message.status == st.OPTED_OUT)).scalar_one()
    return {"stops": len(stopped), "grace_s": options.grace, "sent_before_stop": before,
            "sent_within_grace": within, "sent_after_grace": after,
            "latest_after_stop_s": round(latest, 3) if latest is not None else None,
            "set_aside_opted_out": aside, "stop_confirmations": replies}
