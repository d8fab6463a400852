"""How a reward is fulfilled: a registry of small adapters, one per kind, so that a new way (a
partner's API, an e-shop) is one function here:

    none      nothing to call (a reward handed over in a shop, a discount the billing reads)
    voucher   a partner's code from the reward's stock of codes (loyalty_voucher_codes), in the
              transaction that confirms the redemption
    http      POST to the operator's provisioning system: {"redemption", "msisdn", "reward", "points"}
              with an Idempotency-Key (the redemption's id), so a retry never provisions twice;
              2xx fulfils (its JSON kept), 4xx refuses (the points go back), a timeout or 5xx is
              tried again later (redeeming.py's sweeper)

An external adapter (http) runs outside any database transaction; the others inside the one that
confirms or releases the points.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, select, update

from engage.engine.store.schema import LoyaltyVoucherCode


@dataclass(frozen=True)
class Request:
    hold_id: int
    member_id: int
    msisdn: str | None
    reward_id: int
    reward_code: str
    points: int
    config: dict[str, Any]


@dataclass(frozen=True)
class Result:
    ok: bool
    detail: dict[str, Any] = field(default_factory=dict)  # what the member is told (a voucher code)
    retry: bool = False  # not decided: ask again later


Run = Callable[[Connection | None, Request], Result]
Check = Callable[[dict[str, Any]], str | None]


@dataclass(frozen=True)
class Adapter:
    name: str
    run: Run
    check: Check
    external: bool


FULFILMENTS: dict[str, Adapter] = {}


def adapter(name: str, *, check: Check, external: bool = False) -> Callable[[Run], Run]:
    def register(fn: Run) -> Run:
        FULFILMENTS[name] = Adapter(name, fn, check, external)
        return fn
    return register


def _no_config(config: dict[str, Any]) -> str | None:
    return f"{name!r} is not a setting of this fulfilment" if (name := next(iter(config), None)) else None


@adapter("none", check=_no_config)
def nothing(conn: Connection | None, request: Request) -> Result:
    return Result(True)


@adapter("voucher", check=_no_config)
def voucher(conn: Connection | None, request: Request) -> Result:
    """The lowest free code; two redemptions at once take two codes (the UPDATE re-checks hold_id)."""
    assert conn is not None
    for _ in range(3):
        code_id = conn.execute(select(LoyaltyVoucherCode.id).where(
            LoyaltyVoucherCode.reward_id == request.reward_id, LoyaltyVoucherCode.hold_id.is_(None))
            .order_by(LoyaltyVoucherCode.id).limit(1)).scalar()
        if code_id is None:
            return Result(False, {"error": "no voucher codes left"})
        taken = conn.execute(update(LoyaltyVoucherCode).where(
            LoyaltyVoucherCode.id == code_id, LoyaltyVoucherCode.hold_id.is_(None)).values(hold_id=request.hold_id)
            .returning(LoyaltyVoucherCode.code)).scalar()
        if taken is not None:
            return Result(True, {"voucher": taken})
    return Result(False, {"error": "voucher codes are being taken; try again"}, retry=True)


def _check_http(config: dict[str, Any]) -> str | None:
    url = config.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        return "url: the provisioning system's http(s) address"
    timeout = config.get("timeout", 5)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or not 0 < timeout <= 30:
        return "timeout: seconds, above 0 and at most 30"
    extra = sorted(set(config) - {"url", "timeout"})
    return f"{extra[0]!r} is not a setting of http fulfilment" if extra else None


@adapter("http", check=_check_http, external=True)
def http(conn: Connection | None, request: Request) -> Result:
    body = json.dumps({"redemption": request.hold_id, "msisdn": request.msisdn, "reward": request.reward_code,
                       "points": request.points}).encode()
    call = urllib.request.Request(request.config["url"], data=body, method="POST", headers={
        "Content-Type": "application/json", "Idempotency-Key": f"engage-redemption-{request.hold_id}"})
    try:
        with urllib.request.urlopen(call, timeout=float(request.config.get("timeout", 5))) as answer:
            raw = answer.read(65_536)
    except urllib.error.HTTPError as exc:
        if 400 <= exc.code < 500 and exc.code not in (408, 429):
            return Result(False, {"error": f"the provisioning system refused it (HTTP {exc.code})"})
        return Result(False, {"error": f"HTTP {exc.code}"}, retry=True)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return Result(False, {"error": f"not reached: {getattr(exc, 'reason', exc)}"[:200]}, retry=True)
    try:
        answered = json.loads(raw) if raw.strip() else {}
    except ValueError:
        answered = {}
    return Result(True, answered if isinstance(answered, dict) else {})
