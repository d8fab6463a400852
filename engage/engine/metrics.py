"""Prometheus metrics: what operators graph and alert on, exposed at /metrics by every process.

Hot paths call the small functions below once per batch (never per message). Provider gauges and
the throttled/error counters come from the provider-status heartbeat, which already reads each
provider's stats, so provider kinds carry no metrics code. Queue depths and unmatched receipts are
cluster-wide figures read from the broker and the database when /metrics is scraped.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from http.server import ThreadingHTTPServer
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, false, func, select

log = logging.getLogger(__name__)

MESSAGES_SUBMITTED = Counter("engage_messages_submitted_total", "Messages accepted by a provider", ["provider"])
MESSAGES_FAILED = Counter("engage_messages_failed_total", "Messages that failed, by reason class",
                          ["provider", "reason_class"])
PARTS_SUBMITTED = Counter("engage_parts_submitted_total", "SMS parts (submit_sm) accepted by a provider",
                          ["provider"])
THROTTLED = Counter("engage_throttled_total", "Throttling answers (ESME_RTHROTTLED, ESME_RMSGQFUL, HTTP 429)",
                    ["provider"])
PROVIDER_ERRORS = Counter("engage_provider_errors_total", "Provider errors: temporary (retried) or permanent",
                          ["provider", "severity"])
POSSIBLE_DUPLICATES = Counter("engage_possible_duplicates_total",
                              "Resends after a failure the provider may have taken the request in", ["provider"])
RECEIPTS = Counter("engage_receipts_total", "Delivery receipts received, by final stat", ["provider", "stat"])
MESSAGES_UNCONFIRMED = Counter("engage_messages_unconfirmed_total",
                               "Submitted messages whose receipt did not come within the provider's receipt timeout",
                               ["provider"])
DISPATCH_BATCHES = Counter("engage_dispatch_batches_total", "Batches the dispatcher published")
MESSAGES_DISPATCHED = Counter("engage_messages_dispatched_total", "Messages the dispatcher queued for sending")
DEAD_LETTERED = Counter("engage_dead_lettered_total", "Broker messages parked in a dead-letter queue", ["queue"])
PROVIDER_BINDS_UP = Gauge("engage_provider_binds_up", "Provider connections (binds) up in this process",
                          ["provider"])
PROVIDER_IN_FLIGHT = Gauge("engage_provider_in_flight", "Submits awaiting the provider's answer", ["provider"])
PROVIDER_TPS = Gauge("engage_provider_tps", "Parts per second submitted over the last heartbeat", ["provider"])
PROVIDER_HEALTHY = Gauge("engage_provider_healthy", "1 when this process can send through the provider",
                         ["provider"])
SEND_BATCH_SECONDS = Histogram("engage_send_batch_seconds", "Time to send one broker batch through a provider",
                               buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))

_PROVIDER_GAUGES = (PROVIDER_BINDS_UP, PROVIDER_IN_FLIGHT, PROVIDER_TPS, PROVIDER_HEALTHY)
_names: dict[int, str] = {}
_names_lock = threading.Lock()


# ---- calls for the hot paths: one per batch ----------------------------------------------------

def submitted(provider: int | str, messages: int, parts: int) -> None:
    """A batch's messages (and their parts) accepted by ``provider`` (its name, or its id)."""
    label = provider_label(provider)
    MESSAGES_SUBMITTED.labels(label).inc(messages)
    PARTS_SUBMITTED.labels(label).inc(parts)


def failed(provider: int | str, reason_class: str, n: int = 1) -> None:
    """``n`` messages failed; ``reason_class`` must be low-cardinality (see reason_class())."""
    if n:
        MESSAGES_FAILED.labels(provider_label(provider), reason_class).inc(n)


def receipts(provider: int | str, stat_counts: Mapping[str, int]) -> None:
    """A batch of receipts, counted by stat: {"DELIVRD": 480, "UNDELIV": 20}."""
    label = provider_label(provider)
    for stat, n in stat_counts.items():
        if n:
            RECEIPTS.labels(label, _stat_label(stat)).inc(n)


def unconfirmed(provider: int | str, n: int) -> None:
    """``n`` messages of ``provider`` timed out waiting for their receipt (a sweep's batch)."""
    if n:
        MESSAGES_UNCONFIRMED.labels(provider_label(provider)).inc(n)


def dispatched(n: int) -> None:
    """One batch of ``n`` messages published by the dispatcher."""
    DISPATCH_BATCHES.inc()
    MESSAGES_DISPATCHED.inc(n)


def dead_lettered(queue: str, n: int = 1) -> None:
    DEAD_LETTERED.labels(queue).inc(n)


@contextmanager
def send_batch_timer() -> Iterator[None]:
    """Wrap the sending of one batch: ``with metrics.send_batch_timer(): ...``."""
    started = time.perf_counter()
    try:
        yield
    finally:
        SEND_BATCH_SECONDS.observe(time.perf_counter() - started)


_CODE = re.compile(r"^(smpp:0x[0-9a-f]{1,8}|http:\d{3}|[a-z][a-z0-9_]{0,30})$")


def reason_class(error: str | None) -> str:
    """Error texts vary without bound ("no route for +998..."); a label must not. Provider codes
    (smpp:0x0b, http:400) and short snake_case classes are kept, everything else is "other"."""
    text = (error or "").strip().lower()
    return text if _CODE.match(text) else "other"


def _stat_label(stat: str) -> str:
    text = str(stat).upper()
    return text if re.fullmatch(r"[A-Z]{1,12}", text) else "OTHER"


# ---- provider figures from the heartbeat -------------------------------------------------------

def provider_heartbeat(provider: str, status: Mapping[str, Any], tps: float, deltas: Mapping[str, int]) -> None:
    """Set a provider's gauges and add the counter increases since the previous heartbeat."""
    PROVIDER_BINDS_UP.labels(provider).set(int(status.get("binds_up", 0)))
    PROVIDER_IN_FLIGHT.labels(provider).set(int(status.get("in_flight", 0)))
    PROVIDER_TPS.labels(provider).set(tps)
    PROVIDER_HEALTHY.labels(provider).set(1 if status.get("healthy") else 0)
    if deltas.get("throttled", 0) > 0:
        THROTTLED.labels(provider).inc(deltas["throttled"])
    for severity in ("temporary", "permanent"):
        if deltas.get(f"{severity}_errors", 0) > 0:
            PROVIDER_ERRORS.labels(provider, severity).inc(deltas[f"{severity}_errors"])
    if deltas.get("possible_duplicates", 0) > 0:
        POSSIBLE_DUPLICATES.labels(provider).inc(deltas["possible_duplicates"])


def provider_gone(provider: str) -> None:
    """The connection stopped: its gauges would otherwise keep showing the last figures."""
    for gauge in _PROVIDER_GAUGES:
        with suppress(KeyError):
            gauge.remove(provider)


# ---- provider labels ---------------------------------------------------------------------------

def learn_provider(provider_id: int, name: str) -> None:
    with _names_lock:
        _names[provider_id] = name


def provider_label(provider: int | str) -> str:
    """Labels are provider names; callers that only know the id get the name looked up once."""
    if isinstance(provider, str):
        return provider
    with _names_lock:
        name = _names.get(provider)
    if name is None:
        name = _lookup_name(provider)
    return name


def _lookup_name(provider_id: int) -> str:
    engine = SHARED.engine
    if engine is None:
        return str(provider_id)
    from engage.engine.store.schema import Provider

    try:
        with engine.connect() as conn:
            name = conn.execute(select(Provider.name).where(Provider.id == provider_id)).scalar()
    except Exception as exc:  # a metrics label must never fail the batch it counts
        log.warning("metrics: could not look up provider %s: %s", provider_id, exc)
        return str(provider_id)
    if name is None:
        return str(provider_id)
    learn_provider(provider_id, name)
    return name


# ---- cluster-wide gauges, read at scrape time --------------------------------------------------

class SharedGauges(Collector):
    """Queue depths (each queue and its dead-letter queue) and unmatched receipts. Every process
    with /metrics reports the same figures, so aggregate them with max(), not sum()."""

    def __init__(self, cache_seconds: float = 1.0):
        self.engine: Engine | None = None
        self.broker_url: str | None = None
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._cached: tuple[float, list[GaugeMetricFamily]] = (0.0, [])

    def watch(self, engine: Engine, broker_url: str) -> None:
        with self._lock:
            if (self.engine, self.broker_url) != (engine, broker_url):
                self.engine, self.broker_url = engine, broker_url
                self._cached = (0.0, [])

    def describe(self) -> list[GaugeMetricFamily]:
        return self._families()

    def collect(self) -> list[GaugeMetricFamily]:
        with self._lock:
            at, families = self._cached
            if self.engine is None or time.monotonic() - at < self.cache_seconds:
                return families
            try:
                families = self._read(self.engine, self.broker_url or "memory://")
            except Exception as exc:  # a scrape reports what it can; the error goes to the log
                log.warning("metrics: could not read queue depths: %s", exc)
                families = []
            self._cached = (time.monotonic(), families)
            return families

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [GaugeMetricFamily("engage_queue_depth", "Messages ready in a broker queue", labels=["queue"]),
                GaugeMetricFamily("engage_receipts_unmatched",
                                  "Stored receipts still waiting for their message (orphans not counted)")]

    def _read(self, engine: Engine, broker_url: str) -> list[GaugeMetricFamily]:
        from engage.engine.broker import connect, dead_letter_queue
        from engage.engine.dead_letters import known_queues
        from engage.engine.store.schema import Receipt

        depth, unmatched = self._families()
        with engine.connect() as conn:
            queues = known_queues(conn)
            unmatched.add_metric([], conn.execute(
                select(func.count()).select_from(Receipt).where(Receipt.matched == false(),
                                                                Receipt.orphaned == false())
            ).scalar() or 0)
        with connect(broker_url) as broker:
            for queue in queues:
                for name in (queue, dead_letter_queue(queue)):
                    depth.add_metric([name], broker.depth(name))
        return [depth, unmatched]


SHARED = SharedGauges()
REGISTRY.register(SHARED)


def watch(engine: Engine, broker_url: str) -> None:
    """Let this process report queue depths and unmatched receipts, and name providers by id."""
    if SHARED.engine is not engine:  # ids name other providers in another database
        with _names_lock:
            _names.clear()
    SHARED.watch(engine, broker_url)


def serve(port: int, addr: str = "0.0.0.0") -> ThreadingHTTPServer:
    """/metrics for a worker process on its own port; shutdown() the server returned to stop it."""
    from prometheus_client import start_http_server

    server, _thread = start_http_server(port, addr=addr)
    log.info("metrics at http://%s:%d/metrics", addr, server.server_port)
    return server
