"""Keyword webhooks: an operator's keyword can POST each MO it matched to a web service (a quiz, a
CRM). The call is made after the MO's handling is committed, on a small pool of threads, so a slow
or dead service never holds the keyword handler or the MOs behind it; each try's result is a
`keyword_webhook` event (status or error, how long it took, which try).

A try that fails for a reason that may pass (no answer, a connection refused, HTTP 429 or 5xx) is
made again RETRY_AFTER later, up to len(RETRY_AFTER) more times; a 4xx is the service saying no,
and is not. The body carries the MO's inbound_id, so a service that got a call whose answer was
lost sees the repeat for what it is. Calls waiting for their next try live in this process: a call
lost to a crash is not made again (the MO's `keyword` event says a webhook was due, for whoever
reconciles). The URL is recorded and logged without its query or credentials, which often hold a
service's key.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine

from engage.engine.events import record_one

log = logging.getLogger(__name__)

TIMEOUT = 5.0  # seconds per try
RETRY_AFTER = (2.0, 15.0, 60.0)  # seconds before each further try of a call that failed for a passing reason
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="keyword-webhook")


def call(engine: Engine, calls: list[tuple[str, dict[str, Any]]]) -> None:
    for url, payload in calls:
        _pool.submit(_post, engine, url, payload)


def post(url: str, payload: dict[str, Any], timeout: float = TIMEOUT) -> dict[str, Any]:
    """One POST of the MO as JSON; what happened, never raising."""
    started = time.monotonic()
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "engage-keywords"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310 (checked http/https on save)
            result: dict[str, Any] = {"status": answer.status}
    except urllib.error.HTTPError as exc:
        result = {"status": exc.code, "error": f"HTTP {exc.code}"}
    except (urllib.error.URLError, OSError, ValueError) as exc:
        result = {"status": None, "error": str(getattr(exc, "reason", exc))[:200]}
    result["ms"] = round((time.monotonic() - started) * 1000)
    return result


def shown(url: str) -> str:
    """The URL as events and logs show it: no credentials, no query (where services put their keys)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, "…" if parts.query else "", ""))


def passing(result: dict[str, Any]) -> bool:
    """Whether a failed try may succeed later: no answer, or the service busy or broken for now."""
    status = result.get("status")
    return status is None or status == 429 or status >= 500


def _post(engine: Engine, url: str, payload: dict[str, Any], attempt: int = 1) -> None:
    result = post(url, payload)
    again = RETRY_AFTER[attempt - 1] if passing(result) and attempt <= len(RETRY_AFTER) else None
    result["attempt"] = attempt
    if again is not None:
        result["retry_in_s"] = again
        timer = threading.Timer(again, lambda: _pool.submit(_post, engine, url, payload, attempt + 1))
        timer.daemon = True
        timer.start()
    try:
        with engine.begin() as conn:
            record_one(conn, "keyword_webhook", payload.get("campaign_id"), url=shown(url),
                       inbound_id=payload["inbound_id"], **result)
    except Exception:
        log.exception("keyword webhook %s for inbound message %s: could not record %s", shown(url),
                      payload["inbound_id"], result)
