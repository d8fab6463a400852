"""The send worker: one sending loop per enabled provider, SMPP on a shared asyncio loop, and a
heartbeat that reports each provider's health to the provider_status table and /metrics. USSD hops
that come on the SMPP binds are answered here, on the same binds (engine/ussd/gateways/smpp.py)."""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, Row, select

from engage.engine.asyncloop import LoopThread
from engage.engine.delivery.sending import ProviderSendLoop
from engage.engine.providers import KINDS
from engage.engine.providers.status import Heartbeat
from engage.engine.receipts.sink import BrokerDeliverySink
from engage.engine.store.schema import Provider
from engage.engine.ussd.gateways.smpp import SmppHops

log = logging.getLogger(__name__)

PROVIDER_WAIT = 2.0  # seconds between looks for a first provider


def run(engine: Engine, broker_url: str, stop: threading.Event) -> None:
    rows = _enabled_providers(engine, stop)
    if stop.is_set():
        return
    loop = LoopThread()
    sink = BrokerDeliverySink(broker_url)
    ussd_hops = SmppHops(engine)  # USSD deliver_sm on the SMPP binds, answered on them (ussd/gateways/smpp.py)
    providers = []
    for row in rows:
        kind = KINDS.get(row.kind)
        if kind is None:
            log.error("provider %s: unknown kind %r; skipped", row.name, row.kind)
            continue
        provider = kind(row.id, row.name, dict(row.config), row.tps, sink)
        if hasattr(provider, "on_ussd"):
            provider.on_ussd = ussd_hops
        loop.run(provider.start())
        providers.append(provider)
    threads = [threading.Thread(target=ProviderSendLoop(engine, broker_url, p, loop, stop).run,
                                name=f"send-{p.name}", daemon=True) for p in providers]
    heartbeat = threading.Thread(target=Heartbeat(engine, providers, loop=loop).run, args=(stop,),
                                 name="send-heartbeat", daemon=True)
    for t in [*threads, heartbeat]:
        t.start()
    log.info("ready: %s", ", ".join(p.name for p in providers) or "no provider")
    stop.wait()
    for t in [*threads, heartbeat]:
        t.join(timeout=30)
    for p in providers:
        loop.run(p.stop(), timeout=10)
    sink.close()
    ussd_hops.close()
    loop.stop()


def _enabled_providers(engine: Engine, stop: threading.Event) -> list[Row]:
    """The enabled providers, waiting for a first one if there is none: a new stack (docker compose)
    starts this worker before anyone has run `engage provider add`, and it must then send without
    a restart."""
    waiting = False
    while True:
        with engine.connect() as conn:
            rows = conn.execute(select(Provider.__table__).where(Provider.enabled.is_(True))).all()
        if rows or stop.is_set():
            return rows
        if not waiting:
            log.warning("no enabled provider yet; waiting for one (`engage provider add`)")
            waiting = True
        stop.wait(PROVIDER_WAIT)
