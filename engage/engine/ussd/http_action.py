"""The action that asks an outside HTTP service (a billing system, a CRM) during a hop:

    check_bill:
      type: action
      action: call_http
      params: {url: "https://billing.example.com/ussd/bill", timeout: 2, send: [account]}
      on: {ok: show_bill, failed: billing_down}      # failed: an error, a timeout, an answer not JSON

It POSTs JSON {msisdn, menu, session, values} (values: those named in `send`, else every value the
session has but PINs) and expects a JSON object back; its fields join the session's values ({{ amount_due }})
and its "outcome" field, when the screen routes on that name, is the outcome (else "ok").

A subscriber waits on the phone while this runs, and the gateway gives up after a few seconds: the
whole call (connecting, sending, every read) stops at its timeout (default 3 s, at most 10), and
then the outcome is "failed", for the menu to route to its fallback screen."""

from __future__ import annotations

import http.client
import json
import logging
import time
from typing import Any
from urllib.parse import urlsplit

from engage.engine.ussd.actions import ActionCall, Outcome, clean_results, ussd_action

log = logging.getLogger(__name__)
DEFAULT_TIMEOUT = 3.0
MAX_TIMEOUT = 10.0
MAX_ANSWER = 64 * 1024  # bytes of the service's answer


def _check(params: dict[str, Any]) -> str | None:
    url = params.get("url")
    if not isinstance(url, str) or "{" not in url and urlsplit(url).scheme not in ("http", "https"):
        return "url: an http:// or https:// address"
    if "{" not in url and not urlsplit(url).hostname:
        return "url: an address with a host"
    if params.get("method", "POST") not in ("GET", "POST"):
        return "method: GET or POST"
    timeout = params.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT:
        return f"timeout: seconds, more than 0 and at most {MAX_TIMEOUT:g}"
    send = params.get("send")
    if send is not None and not (isinstance(send, list) and all(isinstance(s, str) for s in send)):
        return "send: a list of value names"
    headers = params.get("headers")
    if headers is not None and not (isinstance(headers, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items())):
        return "headers: a mapping of header name -> text"
    return None


@ussd_action("call_http", outcomes=("ok", "failed"), params=("url", "method", "timeout", "send", "headers"),
             required=("url",), check=_check, open_outcomes=True)
def call_http(call: ActionCall) -> Outcome:
    params = call.params
    send = params.get("send")
    values = {k: v for k, v in call.values.items() if k in send} if send is not None else \
        {k: v for k, v in call.values.items() if k not in call.secrets}
    body = {"msisdn": call.msisdn, "menu": call.menu, "session": call.session_id, "values": values}
    try:
        status, raw = fetch(str(params["url"]), params.get("method", "POST"), body, params.get("headers") or {},
                            float(params.get("timeout", DEFAULT_TIMEOUT)))
    except (OSError, http.client.HTTPException, ValueError) as exc:
        log.warning("USSD call_http %s: %s", params["url"], exc)
        return Outcome("failed", {"http_error": str(exc)[:200] or type(exc).__name__})
    if not 200 <= status < 300:
        return Outcome("failed", {"http_error": f"HTTP {status}"})
    try:
        answer = json.loads(raw) if raw.strip() else {}
    except ValueError:
        return Outcome("failed", {"http_error": "the answer is not JSON"})
    if not isinstance(answer, dict):
        return Outcome("failed", {"http_error": "the answer is not a JSON object"})
    outcome = answer.pop("outcome", "ok")
    return Outcome(outcome if isinstance(outcome, str) and outcome else "ok", clean_results(answer))


def fetch(url: str, method: str, body: dict[str, Any], headers: dict[str, str], timeout: float) -> tuple[int, bytes]:
    """(status, body) of one request, all of it within `timeout` seconds; raises TimeoutError past it."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) address: {url[:100]}")
    deadline = time.monotonic() + timeout
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = kind(parts.hostname, parts.port, timeout=timeout)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    data = json.dumps(body, default=str).encode() if method == "POST" else None
    sent = {"Content-Type": "application/json", "Accept": "application/json", **headers}
    try:
        conn.request(method, path, body=data, headers=sent)
        _left(conn, deadline)
        response = conn.getresponse()
        chunks, size = [], 0
        while True:
            _left(conn, deadline)
            chunk = response.read1(16384)
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_ANSWER:
                raise ValueError(f"the answer is over {MAX_ANSWER // 1024} KiB")
            chunks.append(chunk)
        return response.status, b"".join(chunks)
    finally:
        conn.close()


def _left(conn: http.client.HTTPConnection, deadline: float) -> None:
    """The socket's next wait is at most what remains of the call's time."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the service did not answer in time")
    if conn.sock is not None:
        conn.sock.settimeout(remaining)
