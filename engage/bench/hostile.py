"""`engage bench hostile`: the requests a careful attacker sent (issue 19's findings, and the review's
after it) thrown at a real `engage serve` on the configured database, one at a time, each while
another client keeps asking for the sign-in page. For each: the answer's status and time, the
slowest sign-in page meanwhile, and how much the web process grew (its peak RSS, reset before each
request through /proc/PID/clear_refs). The promise: every answer a 4xx within a second, sign-in
never held up, no request growing the process by 100 MB."""

from __future__ import annotations

import json
import os
import secrets
import select
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engage import config
from engage.engine.store.migrate import upgrade

MB = 1024 * 1024


def _preview(body: str) -> tuple[str, bytes]:
    return "/api/v1/templates/preview", json.dumps({"body": body, "language": "en"}).encode()


def _count(definition: Any) -> tuple[str, bytes]:
    return "/api/v1/segments/count", json.dumps({"definition": definition}).encode()


def payloads() -> dict[str, tuple[str, bytes]]:
    """name -> (path, JSON body), built before anything is measured."""
    nots: Any = {"kind": "all"}
    for _ in range(195):
        nots = {"not": nots}
    return {
        "template 'x'*10**9": _preview("{{ 'x'*10**9 }}"),
        "template 'x'*10**8": _preview("{{ 'x'*10**8 }}"),
        "template replace chain": _preview("{{ 'ab'|replace('a','a'*1000)|replace('a','a'*1000)"
                                           "|replace('a','a'*100) }}"),
        "template 7 nested range(10)": _preview("".join(f"{{% for i{n} in range(10) %}}" for n in range(7))
                                                + "x" + "{% endfor %}" * 7),
        "template 10**100000": _preview("{{ 10**100000 }}"),
        "template decimal scaleb": _preview("{{ balance.scaleb(999990)|int }}"),
        "template bytes %": _preview("{{ '%999999999s'.encode() % 'x'.encode() }}"),
        "template wordwrap x150": _preview("{% set x='x'*32700 %}" + "{{x|wordwrap(1)|length}}" * 150),
        "template 150 parentheses": _preview("{{ " + "(" * 150 + "1" + ")" * 150 + " }}"),
        "segment 100,000 prefixes": _count({"kind": "number_prefix",
                                            "prefixes": [f"+9989{n:05d}" for n in range(100_000)]}),
        "segment 5,000 attribute criteria": _count({"and": [{"kind": "attribute", "name": f"a{n}", "value": "x"}
                                                            for n in range(5_000)]}),
        "segment in list of 1,000,000": _count({"field": "city", "op": "in",
                                                "value": [f"c{n}" for n in range(1_000_000)]}),
        "segment 195 nots": _count(nots),
        "segment JSON 900 deep": ("/api/v1/segments/count",
                                  b'{"definition": ' + b'{"and": [' * 900 + b'{"kind": "all"}' + b"]}" * 900 + b"}"),
        "body of 200,000 lists": ("/api/v1/segments/count", b'{"x": [' + b"[]," * 200_000 + b"[]]}"),
    }


def run(only: list[str] | None = None) -> dict[str, Any]:
    url = config.load().database_url
    upgrade(url)
    token = "bench-" + secrets.token_urlsafe(16)
    chosen = {k: v for k, v in payloads().items() if not only or any(o in k for o in only)}
    results = []
    with _serving(token) as (base, pid):
        for name, (path, body) in chosen.items():
            results.append({"request": name, **_measure(base, pid, token, path, body)})
    worst = {"max_seconds": max(r["seconds"] for r in results),
             "max_sign_in_ms": max(r["sign_in_max_ms"] for r in results),
             "max_rss_growth_mb": max(r["rss_growth_mb"] for r in results),
             "statuses": sorted({r["status"] for r in results})}
    return {"database": url.split(":", 1)[0], **worst, "requests": results}


def _measure(base: str, pid: int, token: str, path: str, body: bytes) -> dict[str, Any]:
    Path(f"/proc/{pid}/clear_refs").write_text("5")  # the peak RSS starts again from the present
    before = _rss(pid, "VmRSS")
    slowest = [0.0]
    done = threading.Event()

    def sign_in_page() -> None:
        while not done.is_set():
            started = time.perf_counter()
            with urllib.request.urlopen(base + "/login", timeout=60) as answer:
                answer.read()
            slowest[0] = max(slowest[0], time.perf_counter() - started)
            done.wait(0.02)

    prober = threading.Thread(target=sign_in_page, daemon=True)
    prober.start()
    status, text, seconds = _post(base, path, body, token)
    done.set()
    prober.join(timeout=60)
    try:
        error = json.loads(text).get("error", "")
    except ValueError:
        error = text[:120].decode(errors="replace")
    return {"status": status, "seconds": round(seconds, 3), "sign_in_max_ms": round(slowest[0] * 1000, 1),
            "rss_growth_mb": round((_rss(pid, "VmHWM") - before) / MB, 1), "answer": str(error)[:160]}


def _post(base: str, path: str, body: bytes, token: str) -> tuple[int, bytes, float]:
    """POST as a careful client does: the headers first, and the body only if the server has not
    answered them already (a body over its limit is refused before it is read). The time is the
    answer's, from the body sent (or the headers, for an answer that came before it)."""
    host, port = base.rsplit("//", 1)[1].split(":")
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n")
    with socket.create_connection((host, int(port)), timeout=300) as sock:
        started = time.perf_counter()
        sock.sendall(head.encode())
        if not select.select([sock], [], [], 0.2)[0]:
            started = time.perf_counter()
            sock.sendall(body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
        seconds = time.perf_counter() - started
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2], seconds


def _rss(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} for process {pid}")


@contextmanager
def _serving(token: str) -> Iterator[tuple[str, int]]:
    """`engage serve` as its own process, as in production, with a deployment token for the bench."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "ENGAGE_API_TOKENS": token, "ENGAGE_LIVE_COUNTS": os.environ.get("ENGAGE_LIVE_COUNTS", "off")}
    server = subprocess.Popen([sys.executable, "-m", "engage.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/login", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("engage serve did not start") from None
                time.sleep(0.1)
        yield base, server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)
