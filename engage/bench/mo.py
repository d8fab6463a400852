"""`engage bench mo`: subscribers' messages (MO) through SMPP, measured from the simulator's
deliver_sm to handled by the keywords: the bind, the sink, the broker, the receipts worker storing
them, and keywords/ de-duplicating, matching and acting (STOP opts out and sets aside); then the
confirmations they text back, through the dispatcher and the senders to the simulator.

Each of ``messages`` MOs comes from a number of its own (+99894 and seven digits); ``stop_share`` of
them text STOP, ``keyword_share`` the bench's own keyword (JOIN on the bench short code: a tag and a
reply), the rest a word no keyword knows. Lost: MOs the simulator had answered (so the SMSC would
forget them) that are not stored, or stored and never handled, once nothing moves for
``stall_timeout`` seconds. Replies: every STOP and JOIN is answered, counted at the simulator.
"""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from engage import config
from engage.bench.send import Options as SendOptions
from engage.bench.send import WorkerProcesses, one_bench_at_a_time, use_bench_providers
from engage.engine.keywords import editing
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade
from engage.engine.store.schema import InboundMessage, Keyword, OptOut, Template
from engage.engine.templates import store as templates
from engage.simulators.smsc import SmscSimulator, start_in_thread

PREFIX = "99894"  # the bench's MO senders: +99894 and a 7-digit index
SHORT_CODE = "4455"
REPLY_TEMPLATE = "Keyword reply: JOIN (bench)"


@dataclass
class MoOptions:
    messages: int = 100_000
    stop_share: float = 0.2
    keyword_share: float = 0.2
    binds: int = 4
    window: int = 64  # the simulator's unanswered deliver_sm per bind, as an SMSC's
    stall_timeout: float = 60.0


def run(options: MoOptions) -> dict[str, Any]:
    settings = config.load()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    with ExitStack() as stack:
        stack.enter_context(one_bench_at_a_time(engine))
        sim = start_in_thread(deliver_window=options.window)
        stack.callback(sim.stop_thread)
        stack.callback(use_bench_providers(engine, [sim], SendOptions(recipients=0, binds=options.binds,
                                                                      window=options.window)))
        with engine.connect() as conn:
            first_id = (conn.execute(select(func.max(InboundMessage.id))).scalar() or 0) + 1
        workers = stack.enter_context(WorkerProcesses(settings))
        stops = int(options.messages * options.stop_share)
        joins = min(int(options.messages * options.keyword_share), options.messages - stops)
        _bench_keyword(engine)
        texts = [(f"{PREFIX}{i:07d}", SHORT_CODE, "Stop" if i < stops else "join" if i < stops + joins
                  else f"hello {i}") for i in range(options.messages)]
        started = time.monotonic()
        sim.deliver_mos(texts)
        stored, handled, done_at = _wait(engine, first_id, options)
        replied, replied_at = _wait_for_replies(sim, stops + joins, options)
    seconds = (done_at or time.monotonic()) - started
    reply_seconds = (replied_at or time.monotonic()) - started
    with engine.connect() as conn:
        opted_out = conn.execute(select(func.count()).select_from(OptOut).where(
            OptOut.msisdn.like(f"+{PREFIX}%"), OptOut.source.like("keyword%"))).scalar_one()
    answered = sim.counts().get("mo_acked", 0)
    return {"messages": options.messages, "seconds": round(seconds, 2),
            "handled_per_s": round(handled / seconds, 1) if seconds else None, "stored": stored,
            "handled": handled, "lost": max(answered - handled, 0), "stop": stops, "opted_out": opted_out,
            "keyword": joins, "replies_due": stops + joins, "replies_sent": replied,
            "replies_seconds": round(reply_seconds, 2),
            "replies_per_s": round(replied / reply_seconds, 1) if reply_seconds else None,
            "database": engine.dialect.name, "broker": "memory" if settings.broker_url.startswith("memory")
            else "rabbitmq", "peak_rss_mb": workers.peaks, "worker_logs": workers.log_dir}


def _bench_keyword(engine: Engine) -> None:
    """JOIN on the bench short code: a tag and a reply, as an operator's keyword would."""
    with engine.begin() as conn:
        if conn.execute(select(Keyword.id).where(Keyword.word == "JOIN", Keyword.short_code == SHORT_CODE)).first():
            return
        template_id = conn.execute(select(Template.id).where(Template.name == REPLY_TEMPLATE)).scalar()
        if template_id is None:
            template_id = templates.create(conn, REPLY_TEMPLATE, {"en": "Welcome to the bench club!"},
                                           default_language="en", actor="bench")
        editing.save(conn, {"word": "JOIN", "short_code": SHORT_CODE, "steps": [{"kind": "tag", "tag": "bench"}],
                            "reply_template_id": template_id}, actor="bench")


def _wait_for_replies(sim: SmscSimulator, due: int, options: MoOptions) -> tuple[int, float | None]:
    """(replies the simulator accepted for the bench's numbers, when the last came): until all are
    there, or nothing moved for stall_timeout."""
    last, moved = -1, time.monotonic()
    while True:
        replied = sum(1 for r in sim.received if r.destination.lstrip("+").startswith(PREFIX))
        if replied >= due:
            return replied, time.monotonic()
        if replied != last:
            last, moved = replied, time.monotonic()
        elif time.monotonic() - moved > options.stall_timeout:
            return replied, None
        time.sleep(0.2)


def _wait(engine: Engine, first_id: int, options: MoOptions) -> tuple[int, int, float | None]:
    """(stored, handled, when the last was handled): until all are handled, or nothing moved for stall_timeout."""
    last, moved = (-1, -1), time.monotonic()
    while True:
        with engine.connect() as conn:
            stored, handled = conn.execute(select(func.count(), func.count().filter(InboundMessage.handled)).where(
                InboundMessage.id >= first_id)).one()
        if handled >= options.messages:
            return stored, handled, time.monotonic()
        if (stored, handled) != last:
            last, moved = (stored, handled), time.monotonic()
        elif time.monotonic() - moved > options.stall_timeout:
            return stored, handled, None
        time.sleep(0.1)
