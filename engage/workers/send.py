"""The send worker: one sending loop per enabled provider, SMPP on a shared asyncio loop, and a
heartbeat that reports each provider's health to the provider_status table and /metrics."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, select

from engage.engine.asyncloop import LoopThread
from engage.engine.delivery.sending import ProviderSendLoop
from engage.engine.providers import KINDS
from engage.engine.providers.status import Heartbeat
from engage.engine.receipts.sink import BrokerDeliverySink
from engage.engine.store.schema import Provider

log = logging.getLogger(__name__)


def run(engine: Engine, broker_url: str, stop: threading.Event) -> None:
    with engine.connect() as conn:
        rows = conn.execute(select(Provider.__table__).where(Provider.enabled.is_(True))).all()
    if not rows:
        log.warning("no enabled provider; add one with `engage provider add`")
    loop = LoopThread()
    sink = BrokerDeliverySink(broker_url)
    providers = []
    for row in rows:
        kind = KINDS.get(row.kind)
        if kind is None:
            log.error("provider %s: unknown kind %r; skipped", row.name, row.kind)
            continue
        provider = kind(row.id, row.name, dict(row.config), row.tps, sink)
        loop.run(provider.start())
        providers.append(provider)
    threads = [threading.Thread(target=ProviderSendLoop(engine, broker_url, p, loop, stop).run,
                                name=f"send-{p.name}", daemon=True) for p in providers]
    heartbeat = threading.Thread(target=Heartbeat(engine, providers, loop=loop).run, args=(stop,),
                                 name="send-heartbeat", daemon=True)
    for t in [*threads, heartbeat]:
        t.start()
    stop.wait()
    for t in [*threads, heartbeat]:
        t.join(timeout=30)
    for p in providers:
        loop.run(p.stop(), timeout=10)
    sink.close()
    loop.stop()
