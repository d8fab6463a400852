"""Delivery callbacks from HTTP providers: checked, turned into receipt dicts, and stored.

A callback is trusted only with the provider's own callback token (compared in constant
time). A malformed one is refused with a message naming what is wrong, so that whoever
configured the gateway can fix it; a status word nobody mapped is stored as UNKNOWN (not
final) and logged, never dropped. Stores are group-committed by one writer thread: a storm
of receipts costs one transaction per batch, and every caller is answered only after the
commit that holds its matching.
"""

from __future__ import annotations

import hmac
import json
import logging
import queue
import re
import threading
import time
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, select

from engage.engine.providers.http_json import STATS, dig
from engage.engine.receipts import matching
from engage.engine.receipts.provider_ids import id_problem
from engage.engine.smpp.receipts_text import parse_receipt_text
from engage.engine.store.failures import reason, transient
from engage.engine.store.schema import Provider

log = logging.getLogger(__name__)

# Kannel's dlr-mask bits, as the %d of a delivery report.
KANNEL_TYPES = {1: "DELIVRD", 2: "UNDELIV", 4: "ENROUTE", 8: "ACCEPTD", 16: "REJECTD"}
MAX_ID, MAX_ERR = 72, 16  # the receipts table's columns
_NACK = re.compile(r"^NACK/([^/]*)", re.IGNORECASE)


class MalformedCallback(ValueError):
    """The callback cannot be read; the message says which field and why."""


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


def _message_id(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).strip():
        raise MalformedCallback(f"{field}: missing; it must hold the message id")
    text = str(value).strip()
    if len(text) > MAX_ID:
        raise MalformedCallback(f"{field}: {len(text)} characters; a message id has at most {MAX_ID}")
    problem = id_problem(text)
    if problem:
        raise MalformedCallback(f"{field}: {problem}")
    return text


def _error_code(value: Any, field: str) -> str | None:
    """A gateway's error code, cut to the column; one the database cannot hold is the gateway's mistake."""
    if value in (None, ""):
        return None
    text = str(value)[:MAX_ERR]
    problem = id_problem(text)
    if problem:
        raise MalformedCallback(f"{field}: {problem}")
    return text


def _from_unix(value: Any) -> str | None:
    try:
        return datetime.fromtimestamp(float(value), UTC).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def kannel_receipts(args: Mapping[str, str]) -> list[dict[str, Any]]:
    """The query of a Kannel dlr-url call: id (ours), status (%d), ts (%T), smsc_reply (%A)."""
    our_id = _message_id(args.get("id"), "id")
    status = (args.get("status") or "").strip()
    if status.startswith("%"):
        raise MalformedCallback("status: got the unsubstituted escape %d; only Kannel should call this URL")
    if not status.isdigit() or int(status) not in KANNEL_TYPES:
        raise MalformedCallback(f"status: {status!r} is not a Kannel delivery report type "
                                f"({', '.join(map(str, KANNEL_TYPES))})")
    reply = args.get("smsc_reply") or ""
    nack = _NACK.match(reply)
    err = nack.group(1) if nack else parse_receipt_text(reply)["err"]
    return [{"id": our_id, "stat": KANNEL_TYPES[int(status)], "err": _error_code(err, "smsc_reply"),
             "done_at": _from_unix(args.get("ts"))}]


def _done_at(value: Any) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _from_unix(value)
    if isinstance(value, str) and value.strip():
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).isoformat()
        except ValueError:
            return _from_unix(value)
    return None


def json_receipts(mapping: Mapping[str, Any], payload: bytes) -> list[dict[str, Any]]:
    """One receipt, or a JSON list of them (or a list at ``items_path``), read with the
    provider's callback mapping (see engage.engine.providers.http_json.check_callback)."""
    try:
        data = json.loads(payload or b"")
    except ValueError as exc:
        raise MalformedCallback(f"body: not JSON ({exc})") from exc
    if mapping.get("items_path"):
        data = dig(data, mapping["items_path"])
        if not isinstance(data, list | dict):
            raise MalformedCallback(f"{mapping['items_path']}: missing; it must hold the receipts")
    items, many = (data, True) if isinstance(data, list) else ([data], False)
    status_map = {str(k).lower(): v for k, v in mapping["status_map"].items()}
    out = []
    for i, item in enumerate(items):
        where = f"receipt {i}: " if many else ""
        if not isinstance(item, dict):
            raise MalformedCallback(f"{where}a receipt must be a JSON object, not {type(item).__name__}")
        try:
            provider_id = _message_id(dig(item, mapping["id_field"]), mapping["id_field"])
        except MalformedCallback as exc:
            raise MalformedCallback(f"{where}{exc}") from None
        word = dig(item, mapping["status_field"])
        if isinstance(word, bool) or not isinstance(word, str | int) or not str(word).strip():
            raise MalformedCallback(f"{where}{mapping['status_field']}: missing; it must hold the status")
        word = str(word).strip()
        stat = status_map.get(word.lower()) or (word.upper() if word.upper() in STATS else None)
        if stat is None:
            log.warning("callback status %r is not in the provider's status_map; stored as UNKNOWN", word[:40])
            stat = "UNKNOWN"
        err = dig(item, mapping["error_field"]) if mapping.get("error_field") else None
        try:
            err = _error_code(err, mapping.get("error_field", ""))
        except MalformedCallback as exc:
            raise MalformedCallback(f"{where}{exc}") from None
        done = dig(item, mapping["done_at_field"]) if mapping.get("done_at_field") else None
        out.append({"id": provider_id, "stat": stat, "err": err, "done_at": _done_at(done)})
    return out


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
    items: list[dict[str, Any]]
    done: Future


class ReceiptWriter:
    """One thread storing receipts in batches (group commit) and matching them to parts."""

    def __init__(self, engine: Engine, max_batch: int = 2000):
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, provider_id: int, items: list[dict[str, Any]]) -> Future:
        """A future that resolves (to the number stored) once the receipts are committed."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="engage-callback-receipts", daemon=True)
                self._thread.start()
        done: Future = Future()
        self._queue.put(_Job(provider_id, items, done))
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
                matching.store(self.engine, provider_id, [r for job in group for r in job.items], [])
            except Exception as exc:
                log.error("could not store %d callback receipts of provider %s: %s", len(group), provider_id,
                          reason(exc))
                # the database away fails every caller at once (each is told to retry); anything else is
                # one caller's receipts at fault, found by storing them one by one
                split = len(group) > 1 and not transient(exc)
                stored += self._one_by_one(group) if split else self._failed(group, exc)
                continue
            stored += group
        if stored:
            try:
                matching.match_pending(self.engine)
            except Exception:  # they are stored: the receipts worker matches them later
                log.exception("matching callback receipts failed; left for the receipts worker")
        for job in stored:
            job.done.set_result(len(job.items))

    def _one_by_one(self, group: list[_Job]) -> list[_Job]:
        """After a group failed: each caller's receipts alone, so that only the one at fault is refused."""
        stored = []
        for job in group:
            try:
                matching.store(self.engine, job.provider_id, job.items, [])
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
