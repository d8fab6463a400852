"""`engage bench ussd`: USSD sessions through the Africa's Talking endpoint of a real `engage serve`
on the configured database, over real HTTP, measured per hop (the time from the request written to
its answer read).

``sessions`` subscribers dial the bench's built-in menu on BENCH_CODE at once; each then answers
``hops - 1`` times, as a phone would: top up an amount, confirm it, and at its last hop (when back
on the first screen) quit, which ends the session. Between two hops a subscriber thinks ``think``
seconds (drawn from 0.5 to 1.5 times it; 0: none, a saturation test) and the sessions start spread
over one such pause, as people do not dial in lockstep (a few sessions first warm the new web process
up, not counted). Each session keeps one HTTP/1.1 connection
(an aggregator reuses its connections). An error is a hop that is not a 200 "CON"/"END" answer, or
a session that ends before its last hop.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select

from engage import config
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade
from engage.engine.store.schema import UssdGateway, UssdSession
from engage.engine.ussd import menus
from engage.engine.ussd.gateways.records import add_gateway

BENCH_CODE = "*7357#"
GATEWAY = "engage-bench"
PREFIX = "+99895"  # bench subscribers dial from +99895 and a 7-digit index (other benches use 94, 97, 99)
MENU = """\
name: engage-bench
language: en
start: home
screens:
  home:
    type: menu
    text: "Bench wallet"
    options:
      - {label: Top up, next: amount}
      - {label: Balance, next: balance}
      - {label: Quit, next: bye}
  amount:
    type: input
    text: Enter an amount
    validate: {kind: digits}
    save: amount
    next: confirm
  confirm:
    type: menu
    text: "Top up {{ amount }}?"
    options:
      - {label: Yes, next: home}
      - {label: No, next: home}
  balance:
    type: text
    text: Your balance is 120.
    next: home
  bye:
    type: end
    text: Goodbye
"""
WARM_UP = 10  # sessions walked before the measured ones, not counted: a fresh process's first hops
# pay for its pool's connections and its menu cache, which a running web process has long paid
# what a subscriber answers on each screen (its first line): the path home -> amount -> confirm -> home
ANSWERS = {"Bench wallet": "1", "Enter an amount": "250", "Top up 250?": "1"}


@dataclass
class UssdOptions:
    sessions: int = 200
    hops: int = 5
    think: float = 1.0  # seconds between a session's hops, on average


@dataclass
class _Tally:
    latencies: list[list[float]]  # by hop index
    errors: int = 0
    samples: list[str] = field(default_factory=list)
    ended: int = 0

    def error(self, what: str) -> None:
        self.errors += 1
        if len(self.samples) < 5:
            self.samples.append(what[:200])


def run(options: UssdOptions) -> dict[str, Any]:
    if options.sessions < 1 or options.hops < 1 or options.think < 0:
        raise ValueError("--sessions and --hops must be at least 1, --think at least 0")
    url = config.load().database_url
    upgrade(url)
    engine = make_engine(url)
    token = _prepare(engine)
    tally = _Tally([[] for _ in range(options.hops)])
    with _serving() as (host, port):
        warm = UssdOptions(sessions=min(options.sessions, WARM_UP), hops=options.hops, think=0.0)
        asyncio.run(_sessions(host, port, token, warm, _Tally([[] for _ in range(options.hops)])))
        started = time.perf_counter()
        asyncio.run(_sessions(host, port, token, options, tally))
        seconds = time.perf_counter() - started
    engine.dispose()
    everything = sorted(x for hop in tally.latencies for x in hop)
    return {"sessions": options.sessions, "hops": options.hops, "think_s": options.think,
            "requests": len(everything) + tally.errors, "errors": tally.errors, "error_samples": tally.samples,
            "sessions_ended": tally.ended, "seconds": round(seconds, 2),
            "hops_per_s": round(len(everything) / seconds, 1) if seconds else None,
            **_figures(everything),
            "by_hop": [{"hop": n + 1, **_figures(sorted(hop))} for n, hop in enumerate(tally.latencies)],
            "database": engine.dialect.name, "web": "engage serve, one process"}


def _figures(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}

    def at(share: float) -> float:
        return round(values[min(len(values) - 1, int(share * len(values)))] * 1000, 2)

    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": round(values[-1] * 1000, 2)}


def _prepare(engine: Any) -> str:
    """The bench menu on BENCH_CODE and a fresh Africa's Talking gateway (the last run's and its
    sessions removed); the gateway's token."""
    with engine.begin() as conn:
        old = conn.execute(select(UssdGateway.id).where(UssdGateway.name == GATEWAY)).scalar()
        if old is not None:
            conn.execute(delete(UssdSession).where(UssdSession.gateway_id == old))
            conn.execute(delete(UssdGateway).where(UssdGateway.id == old))
        menus.save(conn, MENU, code=BENCH_CODE, actor="bench")
        _, token = add_gateway(conn, "africastalking", GATEWAY, {}, actor="bench")
    return token


async def _sessions(host: str, port: int, token: str, options: UssdOptions, tally: _Tally) -> None:
    rng = random.Random(7)
    path = f"/ussd/{GATEWAY}?token={token}"
    run_id = secrets.token_hex(4)
    await asyncio.gather(*(_session(host, port, path, f"bench-{run_id}-{n}", f"{PREFIX}{n:07d}", options,
                                    rng.uniform(0, options.think), random.Random(n), tally)
                           for n in range(options.sessions)))


async def _session(host: str, port: int, path: str, session_id: str, msisdn: str, options: UssdOptions,
                   delay: float, rng: random.Random, tally: _Tally) -> None:
    await asyncio.sleep(delay)
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        tally.error(f"connect: {exc}")
        return
    answers: list[str] = []
    try:
        for hop in range(options.hops):
            if hop:
                await asyncio.sleep(options.think * rng.uniform(0.5, 1.5))
            form = urllib.parse.urlencode({"sessionId": session_id, "serviceCode": BENCH_CODE, "phoneNumber": msisdn,
                                           "networkCode": "99999", "text": "*".join(answers)}).encode()
            started = time.perf_counter()
            status, body = await _post(reader, writer, host, path, form)
            took = time.perf_counter() - started
            text = body.decode("utf-8", "replace")
            if status != 200 or text[:4] not in ("CON ", "END "):
                tally.error(f"hop {hop + 1}: {status} {text[:120]!r}")
                return
            tally.latencies[hop].append(took)
            if text.startswith("END "):
                if hop == options.hops - 1:
                    tally.ended += 1
                else:
                    tally.error(f"hop {hop + 1}: the session ended early: {text[:80]!r}")
                return
            screen = text[4:].split("\n", 1)[0]
            last = hop + 1 == options.hops - 1
            answers.append("3" if last and screen == "Bench wallet" else ANSWERS.get(screen, "1"))
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        tally.error(f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, path: str,
                form: bytes) -> tuple[int, bytes]:
    """One keep-alive POST on the session's connection: (status, body)."""
    writer.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                 b"Content-Length: %d\r\n\r\n%s" % (path.encode(), host.encode(), len(form), form))
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next((int(line.split(":", 1)[1]) for line in lines[1:] if line.lower().startswith("content-length:")), 0)
    return status, await reader.readexactly(length)


@contextmanager
def _serving() -> Iterator[tuple[str, int]]:
    """`engage serve` as its own process, as in production; (host, port) once it answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "ENGAGE_LIVE_COUNTS": os.environ.get("ENGAGE_LIVE_COUNTS", "off")}
    with tempfile.TemporaryFile() as log:  # a file, not a pipe: a pipe nobody reads would stall the server
        server = subprocess.Popen([sys.executable, "-m", "engage.cli", "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise RuntimeError("engage serve did not start: " + log.read().decode()[-500:]) from None
                    time.sleep(0.1)
            yield "127.0.0.1", port
        finally:
            server.terminate()
            server.wait(timeout=30)
