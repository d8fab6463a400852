"""Callbacks from HTTP providers, whatever their kind: who may call, and storing what they say
(delivery receipts, and subscribers' own messages, MOs).

A callback is trusted only with the provider's own callback token (compared in constant
time). Reading the receipts or MOs out of a callback is the provider kind's own job (its
parse_callback and parse_inbound, in engage.engine.providers). Stores are group-committed by one
writer thread: a storm of receipts or MOs costs one transaction per batch, and every caller is
answered only after the commit that holds its receipts' matching, or its MOs, which are then
handled by their keywords (the same path as the MOs of SMPP binds) before the caller is answered.
A handling that fails leaves them stored and unhandled: the receipts worker handles them on its
next look.
"""

from __future__ import annotations

import hmac
import logging
import queue
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, select

from engage.engine.keywords import handling as keywords
from engage.engine.receipts import matching
from engage.engine.store.failures import reason, transient
from engage.engine.store.schema import Provider

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallbackProvider:
    id: int
    kind: str
    config: dict[str, Any]


def token_ok(config: Mapping[str, Any], token: str | None) -> bool:
    expected = config.get("callback_token")
    if not isinstance(expected, str) or not expected or not token:
        return False
    return hmac.compare_digest(expected.encode(), token.encode())


class ProviderDirectory:
    """Providers' kinds and callback configs, cached for a few seconds: a receipt storm must not
    cost a query per receipt, and a changed token still takes effect quickly."""

    def __init__(self, engine: Engine, ttl: float = 5.0):
        self.engine = engine
        self.ttl = ttl
        self._cache: dict[int, tuple[float, CallbackProvider]] = {}

    def cached(self, provider_id: int) -> CallbackProvider | None:
        hit = self._cache.get(provider_id)
        return hit[1] if hit and hit[0] > time.monotonic() else None

    def load(self, provider_id: int) -> CallbackProvider | None:
        """Blocking (a query): run it off the event loop."""
        with self.engine.connect() as conn:
            row = conn.execute(select(Provider.kind, Provider.config).where(Provider.id == provider_id)).first()
        if row is None:
            return None
        provider = CallbackProvider(provider_id, row.kind, dict(row.config or {}))
        self._cache[provider_id] = (time.monotonic() + self.ttl, provider)
        return provider


@dataclass
class _Job:
    provider_id: int
    items: list[dict[str, Any]]  # receipts
    done: Future
    inbound: list[dict[str, Any]] = field(default_factory=list)  # MOs: {"source", "destination", "text"}


class ReceiptWriter:
    """One thread storing receipts and MOs in batches (group commit), matching the receipts to
    parts and handing the MOs to the keyword handler."""

    def __init__(self, engine: Engine, max_batch: int = 2000):
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, provider_id: int, items: list[dict[str, Any]],
               inbound: list[dict[str, Any]] | None = None) -> Future:
        """A future that resolves (to the number stored) once the receipts and MOs are committed."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="engage-callback-receipts", daemon=True)
                self._thread.start()
        done: Future = Future()
        self._queue.put(_Job(provider_id, items, done, list(inbound or [])))
        return done

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while (first := self._queue.get()) is not None:
            jobs, stopping = [first], False
            while len(jobs) < self.max_batch:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                jobs.append(job)
            self._write(jobs)
            if stopping:
                return

    def _write(self, jobs: list[_Job]) -> None:
        by_provider: dict[int, list[_Job]] = defaultdict(list)
        for job in jobs:
            by_provider[job.provider_id].append(job)
        stored = []
        for provider_id, group in by_provider.items():
            try:
                matching.store(self.engine, provider_id, [r for job in group for r in job.items],
                               [m for job in group for m in job.inbound])
            except Exception as exc:
                log.error("could not store %d callbacks of provider %s: %s", len(group), provider_id, reason(exc))
                # the database away fails every caller at once (each is told to retry); anything else is
                # one caller's receipts at fault, found by storing them one by one
                split = len(group) > 1 and not transient(exc)
                stored += self._one_by_one(group) if split else self._failed(group, exc)
                continue
            stored += group
        if any(job.items for job in stored):
            try:
                matching.match_pending(self.engine)
            except Exception:  # they are stored: the receipts worker matches them later
                log.exception("matching callback receipts failed; left for the receipts worker")
        if any(job.inbound for job in stored):
            self._handle_inbound()
        for job in stored:
            job.done.set_result(len(job.items) + len(job.inbound))

    def _handle_inbound(self) -> None:
        """The stored MOs (these and any other waiting) through the keywords, batch after batch."""
        try:
            while keywords.handle_pending(self.engine) == keywords.BATCH:
                pass
        except Exception:  # they are stored: the receipts worker handles them on its next look
            log.exception("handling callback MOs failed; left for the receipts worker")

    def _one_by_one(self, group: list[_Job]) -> list[_Job]:
        """After a group failed: each caller's callback alone, so that only the one at fault is refused."""
        stored = []
        for job in group:
            try:
                matching.store(self.engine, job.provider_id, job.items, job.inbound)
            except Exception as exc:
                self._failed([job], exc)
            else:
                stored.append(job)
        return stored

    @staticmethod
    def _failed(jobs: list[_Job], exc: Exception) -> list[_Job]:
        for job in jobs:
            job.done.set_exception(exc)
        return []
