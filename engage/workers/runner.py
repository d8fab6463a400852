"""Running workers as threads of one process (`engage worker all`, `engage demo`) or one per
process (`engage worker dispatch`), stopping cleanly on SIGINT/SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from engage.engine import metrics
from engage.workers import dispatch, events, loyalty, receipts, scheduler, send

WORKERS: dict[str, Callable[[Engine, str, threading.Event], None]] = {
    "receipts": receipts.run,
    "send": send.run,
    "dispatch": dispatch.run,
    "scheduler": scheduler.run,
    "events": events.run,
    "loyalty": loyalty.run,
}
log = logging.getLogger(__name__)


def start(names: list[str], engine: Engine, broker_url: str, stop: threading.Event) -> list[threading.Thread]:
    threads = []
    for name in names:
        thread = threading.Thread(target=_guard, args=(name, engine, broker_url, stop), name=f"worker-{name}",
                                  daemon=True)
        thread.start()
        threads.append(thread)
    return threads


def _guard(name: str, engine: Engine, broker_url: str, stop: threading.Event) -> None:
    try:
        WORKERS[name](engine, broker_url, stop)
    except Exception:
        log.exception("worker %s stopped on an error", name)
        stop.set()


def stop_on_signals(stop: threading.Event) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())


def run_forever(names: list[str], engine: Engine, broker_url: str, *, metrics_port: int | None = None,
                metrics_addr: str = "0.0.0.0") -> None:
    """Run until a signal or a worker's error; with ``metrics_port``, serve /metrics there meanwhile."""
    stop = threading.Event()
    stop_on_signals(stop)
    server = None
    if metrics_port:
        metrics.watch(engine, broker_url)
        try:
            server = metrics.serve(metrics_port, metrics_addr)
        except OSError as exc:
            raise SystemExit(f"error: cannot serve /metrics on {metrics_addr}:{metrics_port}: {exc.strerror}") from None
    threads = start(names, engine, broker_url, stop)
    while any(t.is_alive() for t in threads) and not stop.is_set():
        stop.wait(0.5)
    stop.set()
    for t in threads:
        t.join(timeout=30)
    if server is not None:
        server.shutdown()
