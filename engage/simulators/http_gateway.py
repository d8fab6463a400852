"""An HTTP SMS gateway that lives in-process, so tests, the demo and benchmarks exercise the HTTP
provider kinds over real TCP: Kannel's sendsms (202 "0: Accepted for delivery", then the
dlr-url called back with its % escapes filled in) and a JSON API (answers
{"messages": [{"id": ...}]}, then POSTs JSON receipts to the callback_url it was given).

Faults are injected at random (seedable rates) or scripted (fail_next), and everything it
accepted is recorded with the receipt it gave, so a test can compare message by message.
``tps`` caps the requests accepted per one-second window, as a gateway enforcing an account's
rate does: beyond it, 429 with a Retry-After (``retry_after`` seconds, default 1); a throttle
fault carries ``retry_after`` too when it is given.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import itertools
import json
import logging
import random
import re
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, quote, unquote_to_bytes, urlsplit

import tornado.web
from tornado.httpclient import AsyncHTTPClient, HTTPRequest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from engage.engine import sms_encoding
from engage.engine.asyncloop import serve_in_thread, stop_served
from engage.engine.smpp.receipts_text import format_receipt_text

__all__ = ["HttpReceived", "HttpSmscSimulator", "main", "start_in_thread"]

log = logging.getLogger(__name__)

TICK = 0.01
FAULTS = ("throttle", "error", "reject", "slow")
KANNEL_PATH, JSON_PATH = "/cgi-bin/sendsms", "/api/messages"
JSON_WORDS = {"ACCEPTD": "accepted", "DELIVRD": "delivered", "UNDELIV": "undelivered", "REJECTD": "rejected"}
_ESCAPE = re.compile(r"%(.)")


@dataclass
class HttpReceived:
    api: str  # "kannel" | "json"
    message_id: str  # the simulator's own id (the JSON API answers with it; Kannel gives none)
    reference: str | None  # the sender's id: the dlr-url's id= (Kannel) or the body's "reference" (JSON)
    to: str
    sender: str
    text: str  # as a handset would show it: a GSM-7 message loses what GSM-7 cannot spell
    coding: int | None  # Kannel's coding parameter; None on the JSON API
    fields: dict[str, Any]  # everything else it was sent, credentials left out
    at: float
    stat: str | None = None  # the final receipt it gave: DELIVRD, UNDELIV or REJECTD; None if none


@dataclass(order=True)
class _DueCallback:
    due: float
    order: int
    api: str = field(compare=False)
    url: str = field(compare=False)
    payload: Any = field(compare=False)  # Kannel: the filled-in URL; JSON: the receipt object
    tries: int = field(default=0, compare=False)


def fill_dlr_url(url: str, values: dict[str, str]) -> str:
    """Kannel's escapes (%d, %T, %A, ...) replaced by their URL-encoded values; others kept."""
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code == "%":
            return "%"
        return quote(values[code], safe="") if code in values else match.group(0)
    return _ESCAPE.sub(one, url)


class HttpSmscSimulator:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, accounts: dict[str, str] | None = None,
                 api_key: str | None = "sim-key", receipt_delay: float = 0.05, throttle_rate: float = 0.0,
                 error_rate: float = 0.0, reject_rate: float = 0.0, undeliverable_rate: float = 0.0,
                 smsc_reject_rate: float = 0.0, seed: int | None = None, callback_batch: int = 1,
                 slow_delay: float = 1.0, retry_delay: float = 0.1, callback_retries: int = 50, tps: int = 0,
                 retry_after: float | None = None) -> None:
        """Rates are per request: throttle (429), error (500), reject (400), then for accepted
        messages undeliverable (UNDELIV receipt) and smsc_reject (REJECTD receipt)."""
        if isinstance(tps, bool) or not isinstance(tps, int) or tps < 0:
            raise ValueError(f"tps must be a whole number of requests per second (0: no limit), not {tps!r}")
        self.tps, self.retry_after, self._window = tps, retry_after, [0, 0]  # [second, requests taken in it]
        self.request_times: list[float] = []  # time.monotonic() of every request past authentication
        self.host, self.port = host, port
        self.accounts = dict(accounts) if accounts is not None else {"engage": "secret"}
        self.api_key = api_key
        self.receipt_delay, self.slow_delay, self.retry_delay = receipt_delay, slow_delay, retry_delay
        self.throttle_rate, self.error_rate, self.reject_rate = throttle_rate, error_rate, reject_rate
        self.undeliverable_rate, self.smsc_reject_rate = undeliverable_rate, smsc_reject_rate
        self.callback_batch, self.callback_retries = max(1, callback_batch), callback_retries
        self.received: list[HttpReceived] = []
        self._rng = random.Random(seed)
        self._scripted: deque[str] = deque()
        self._counts: Counter[str] = Counter()
        self._due: list[_DueCallback] = []
        self._order = itertools.count()
        self._server: HTTPServer | None = None
        self._client: AsyncHTTPClient | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def kannel_url(self) -> str:
        return f"http://{self.host}:{self.port}{KANNEL_PATH}"

    @property
    def json_url(self) -> str:
        return f"http://{self.host}:{self.port}{JSON_PATH}"

    def fail_next(self, *faults: str) -> None:
        """Answer the next requests with these faults, in order, before any random draw."""
        for fault in faults:
            if fault not in FAULTS:
                raise ValueError(f"fault {fault!r}: expected one of {', '.join(FAULTS)}")
        self._scripted.extend(faults)

    def stats(self) -> dict[str, int]:
        """Counters, read on the simulator's own loop so they are never caught mid-update."""
        loop = self._loop
        if loop is None or not loop.is_running() or threading.current_thread() is self._thread:
            return dict(self._counts)

        async def read() -> dict[str, int]:
            return dict(self._counts)

        return asyncio.run_coroutine_threadsafe(read(), loop).result(timeout=10)

    def by_reference(self) -> dict[str, HttpReceived]:
        return {r.reference: r for r in list(self.received) if r.reference}

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        app = tornado.web.Application([(KANNEL_PATH, _KannelSendsms, {"sim": self}),
                                       (JSON_PATH, _JsonMessages, {"sim": self})], log_function=_log_request)
        sockets = bind_sockets(self.port, self.host)
        self.port = sockets[0].getsockname()[1]
        self._server = HTTPServer(app)
        self._server.add_sockets(sockets)
        self._client = AsyncHTTPClient(force_instance=True, max_clients=20)
        self._ticker = asyncio.create_task(self._tick())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        if self._server is not None:
            self._server.stop()
            await self._server.close_all_connections()
        if self._client is not None:
            self._client.close()
        self._server, self._client, self._ticker = None, None, None

    def stop_thread(self) -> None:
        stop_served(self)

    # -- what the handlers call -------------------------------------------------------------

    def draw_fault(self) -> str | None:
        self._counts["requests"] += 1
        now = time.monotonic()
        self.request_times.append(now)
        if self.tps:
            second = int(now)
            if self._window[0] != second:
                self._window = [second, 0]
            if self._window[1] >= self.tps:
                return "over_tps"
            self._window[1] += 1
        if self._scripted:
            return self._scripted.popleft()
        draw = self._rng.random()
        for fault, rate in (("throttle", self.throttle_rate), ("error", self.error_rate),
                            ("reject", self.reject_rate)):
            if draw < rate:
                return fault
            draw -= rate
        return None

    def count(self, name: str) -> None:
        self._counts[name] += 1

    def accept(self, received: HttpReceived, wants: int, callback_url: str | None) -> None:
        """Record the message and plan its receipts: ``wants`` is a Kannel dlr-mask."""
        self._counts["accepted"] += 1
        self.received.append(received)
        draw = self._rng.random()
        final, kannel_type = ("REJECTD", 16) if draw < self.smsc_reject_rate else (
            ("UNDELIV", 2) if draw < self.smsc_reject_rate + self.undeliverable_rate else ("DELIVRD", 1))
        if not callback_url:
            return
        if wants & 8:
            self._plan(received, callback_url, "ACCEPTD", 8, self.receipt_delay / 2)
        if wants & kannel_type:
            received.stat = final
            self._plan(received, callback_url, final, kannel_type, self.receipt_delay)

    def new_id(self) -> str:
        return format(self._rng.getrandbits(64), "016X")  # upper case: receipts must match whatever the case

    def _plan(self, r: HttpReceived, url: str, stat: str, kannel_type: int, delay: float) -> None:
        now = time.time()
        if r.api == "kannel":
            reply = ("ACK/" if kannel_type == 8 else "NACK/0x0000000b/Invalid Destination Address"
                     if kannel_type == 16 else format_receipt_text(
                         r.message_id, stat, err="000" if stat == "DELIVRD" else "001",
                         submit_date=datetime.fromtimestamp(r.at), done_date=datetime.fromtimestamp(now),
                         text=r.text))
            values = {"d": str(kannel_type), "T": str(int(now)), "A": reply, "p": r.to, "P": r.sender,
                      "t": datetime.fromtimestamp(now).strftime("%Y-%m-%d %H:%M:%S"), "i": "sim", "n": "sim"}
            payload: Any = fill_dlr_url(url, values)
        else:
            payload = {"id": r.message_id, "reference": r.reference, "status": JSON_WORDS[stat],
                       "error_code": None if stat in ("ACCEPTD", "DELIVRD") else "001",
                       "done_at": datetime.fromtimestamp(now, UTC).isoformat()}
        heapq.heappush(self._due, _DueCallback(time.monotonic() + delay, next(self._order), r.api, url, payload))

    # -- receipts going out -----------------------------------------------------------------

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK)
            now, ready = time.monotonic(), []
            while self._due and self._due[0].due <= now:
                ready.append(heapq.heappop(self._due))
            json_by_url: dict[str, list[_DueCallback]] = {}
            for cb in ready:
                if cb.api == "kannel":
                    asyncio.create_task(self._call([cb], HTTPRequest(cb.payload, method="GET")))
                else:
                    json_by_url.setdefault(cb.url, []).append(cb)
            for url, cbs in json_by_url.items():
                for i in range(0, len(cbs), self.callback_batch):
                    chunk = cbs[i:i + self.callback_batch]
                    body = [c.payload for c in chunk] if self.callback_batch > 1 else chunk[0].payload
                    request = HTTPRequest(url, method="POST", body=json.dumps(body),
                                          headers={"Content-Type": "application/json"})
                    asyncio.create_task(self._call(chunk, request))

    async def _call(self, callbacks: list[_DueCallback], request: HTTPRequest) -> None:
        assert self._client is not None
        try:
            response = await self._client.fetch(request, raise_error=False)
            ok = 200 <= response.code < 300
        except Exception as exc:  # the receiver is down: retried below, like a real gateway would
            log.debug("callback to %s failed: %r", urlsplit(request.url).path, exc)
            ok = False
        self._counts["callbacks_sent" if ok else "callbacks_failed"] += len(callbacks)
        if ok:
            return
        for cb in callbacks:
            if cb.tries < self.callback_retries:
                cb.tries += 1
                cb.due, cb.order = time.monotonic() + self.retry_delay, next(self._order)
                heapq.heappush(self._due, cb)


def _log_request(handler: tornado.web.RequestHandler) -> None:
    """The path only: a sendsms query string carries the account's password."""
    log.debug("%d %s %s", handler.get_status(), handler.request.method, handler.request.path)


class _Handler(tornado.web.RequestHandler):
    def initialize(self, sim: HttpSmscSimulator) -> None:
        self.sim = sim

    async def _fault(self) -> bool:
        """Answer with the drawn fault, if any; True when the request is done."""
        fault = self.sim.draw_fault()
        if fault is None:
            return False
        self.sim.count({"throttle": "throttled", "over_tps": "throttled", "error": "errors", "reject": "rejected",
                        "slow": "slow"}[fault])
        if fault == "slow":
            await asyncio.sleep(self.sim.slow_delay)
        status = {"throttle": 429, "over_tps": 429, "error": 500, "reject": 400, "slow": 500}[fault]
        retry_after = 1 if fault == "over_tps" and self.sim.retry_after is None else self.sim.retry_after
        if status == 429 and retry_after is not None:
            self.set_header("Retry-After", f"{retry_after:g}")
        self.set_status(status)
        self.finish(f"simulated {fault}")
        return True


class _KannelSendsms(_Handler):
    """GET (or a form POST) with the parameters in the query, or Kannel's own POST: the text as the
    body, the parameters in X-Kannel-* headers. A ``udh`` is taken as Kannel takes it: the part
    goes out as it is, one SMS (the header's octets are in ``fields["udh"]``, as hex)."""

    def _params(self) -> tuple[dict[str, bytes], bytes | None, str | None]:
        """(parameters as raw octets, the POSTed text, the charset its Content-Type names)."""
        params = {name: values[-1] for name, values in self.request.arguments.items()}
        kind, _, options = self.request.headers.get("Content-Type", "").partition(";")
        if self.request.method != "POST" or kind.strip().lower() not in ("text/plain", "application/octet-stream"):
            return params, None, None
        for header, value in self.request.headers.get_all():
            if header.lower().startswith("x-kannel-"):
                params[header[len("x-kannel-"):].lower()] = unquote_to_bytes(value) if header.lower().endswith(
                    "-udh") else value.encode("latin-1", "replace")
        charset = next((o.split("=", 1)[1].strip() for o in options.split(";") if o.strip().startswith("charset=")),
                       None)
        return params, self.request.body, charset

    async def get(self) -> None:
        sim = self.sim
        params, body, body_charset = self._params()

        def arg(*names: str) -> str | None:
            value = next((params[n] for n in names if n in params), None)
            return None if value is None else value.decode("utf-8", "replace")

        user, password = arg("username", "user"), arg("password", "pass")
        if user not in sim.accounts or sim.accounts[user] != password:
            sim.count("unauthorized")
            self.set_status(403)
            self.finish("Authorization failed for sendsms")
            return
        if not arg("to"):
            self.set_status(400)
            self.finish("Missing receiver number")
            return
        if await self._fault():
            return
        coding = int(arg("coding") or 0)
        charset = (body_charset if body is not None else arg("charset")) or ("UTF-16BE" if coding == 2 else "UTF-8")
        raw = body if body is not None else params.get("text", b"")
        text = raw.decode(charset, errors="replace")
        if coding == 0:  # what a handset shows of a 7-bit message: GSM 03.38 only
            text = "".join(ch if sms_encoding.is_gsm7(ch) else "?" for ch in text)
        dlr_url = arg("dlr-url") or ""
        reference = (parse_qs(urlsplit(dlr_url).query).get("id") or [None])[0]
        fields = {k: (v.hex() if k == "udh" else v.decode("utf-8", "replace")) for k, v in params.items()
                  if k not in ("username", "user", "password", "pass", "text", "to", "from")}
        received = HttpReceived("kannel", sim.new_id(), reference, arg("to") or "", arg("from") or "",
                                text, coding, fields, time.time())
        sim.accept(received, int(arg("dlr-mask") or 0), dlr_url or None)
        self.set_status(202)
        self.finish("0: Accepted for delivery")

    post = get


class _JsonMessages(_Handler):
    def _refuse(self, status: int, error: str) -> None:
        self.set_status(status)
        self.finish({"error": error})

    async def post(self) -> None:
        sim = self.sim
        if sim.api_key and self.request.headers.get("Authorization") != f"Bearer {sim.api_key}":
            sim.count("unauthorized")
            self._refuse(401, "missing or wrong bearer token")
            return
        try:
            body = json.loads(self.request.body)
        except ValueError:
            self._refuse(400, "body is not JSON")
            return
        if not isinstance(body, dict) or not body.get("to") or not isinstance(body.get("text"), str):
            self._refuse(400, "to and text are required")
            return
        if await self._fault():
            return
        received = HttpReceived("json", sim.new_id(), body.get("reference"), str(body["to"]),
                                str(body.get("from", "")), body["text"], None,
                                {k: v for k, v in body.items() if k not in ("to", "from", "text")}, time.time())
        sim.accept(received, 31, body.get("callback_url"))
        self.finish({"messages": [{"id": received.message_id, "status": "accepted"}]})


def start_in_thread(**kwargs: Any) -> HttpSmscSimulator:
    """Run a simulator on its own event loop in a daemon thread; returns once it is listening."""
    return serve_in_thread(HttpSmscSimulator(**kwargs), "http-smsc-simulator")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engage.simulators.http_gateway",
                                     description="Run the HTTP SMS gateway simulator (Kannel sendsms + JSON).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=13013)
    parser.add_argument("--username", default="engage")
    parser.add_argument("--password", default="secret")
    parser.add_argument("--api-key", default="sim-key")
    for name in ("receipt_delay", "throttle_rate", "error_rate", "reject_rate", "undeliverable_rate"):
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, default=0.05 if name == "receipt_delay" else 0)
    parser.add_argument("--tps", type=int, default=0, help="requests accepted per second (default 0: no limit)")
    parser.add_argument("--retry-after", type=float, default=None,
                        help="Retry-After seconds of a 429 (default: 1 beyond --tps, none on a random throttle)")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s http-sim %(message)s")
    sim = start_in_thread(host=args.host, port=args.port, accounts={args.username: args.password},
                          api_key=args.api_key, seed=args.seed, receipt_delay=args.receipt_delay,
                          throttle_rate=args.throttle_rate, error_rate=args.error_rate,
                          reject_rate=args.reject_rate, undeliverable_rate=args.undeliverable_rate,
                          tps=args.tps, retry_after=args.retry_after)
    log.info("Kannel sendsms at %s, JSON API at %s", sim.kannel_url, sim.json_url)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        sim.stop_thread()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
