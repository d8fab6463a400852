"""Keyword webhooks: an operator's keyword can POST each MO it matched to a web service (a quiz, a
CRM). The call is made after the MO's handling is committed, on a small pool of threads, so a slow
or dead service never holds the keyword handler or the MOs behind it; each call's result is a
`keyword_webhook` event (status or error, and how long it took).

At most once: a call lost to a crash between the commit and the call is not made again (the MO's
`keyword` event says a webhook was due, for whoever reconciles).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import Engine

from engage.engine.events import record_one

log = logging.getLogger(__name__)

TIMEOUT = 5.0  # seconds per call
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


def _post(engine: Engine, url: str, payload: dict[str, Any]) -> None:
    result = post(url, payload)
    try:
        with engine.begin() as conn:
            record_one(conn, "keyword_webhook", payload.get("campaign_id"), url=url,
                       inbound_id=payload["inbound_id"], **result)
    except Exception:
        log.exception("keyword webhook %s for inbound message %s: could not record %s", url,
                      payload["inbound_id"], result)
