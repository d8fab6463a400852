"""What the HTTP provider kinds share: config checks, a paced and bounded HTTP client, and the
retry rules. 429/503 mean "slow down": the provider's adaptive rate is cut and the whole provider
pauses (for the answer's Retry-After when it gives one), then retries. Other 5xx, 408,
timeouts and dropped connections are retried with back-off, a bounded number of times. Any
other 4xx fails the message at once with the provider's code ("http:403"), since resending the
same request cannot change the answer.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import secrets
import time
from abc import abstractmethod
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest, HTTPResponse

from engage.engine import sms_encoding
from engage.engine.providers.base import OutboundSms, ProviderConnection, SendOutcome
from engage.engine.providers.pacing import AdaptiveRate
from engage.engine.sms_encoding import TextInfo

log = logging.getLogger(__name__)

THROTTLED = frozenset({429, 503})
FIRST_BACKOFF, MAX_BACKOFF, MAX_PAUSE = 0.05, 5.0, 30.0
UNHEALTHY_AFTER, UNHEALTHY_FOR = 3, 30.0  # consecutive failures; seconds before the router tries it again
COMMON_DEFAULTS: dict[str, Any] = {"timeout": 10.0, "max_connections": 20, "max_attempts": 8}
# A token travels inside a Kannel dlr-url, where "%" starts an escape: only URL-safe characters.
_TOKEN = re.compile(r"^[A-Za-z0-9_\-.~]{16,128}$")
_SECRET_WORDS = ("auth", "key", "token", "secret", "password", "pass", "signature")


def is_secret_name(name: str) -> bool:
    """Header and field names whose values are credentials, to mask wherever they are shown."""
    lowered = name.lower()
    return any(word in lowered for word in _SECRET_WORDS)


def public_url(url: str) -> str:
    """The URL without user info or query string, which may carry credentials: safe to log."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check_http_url(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{field}: required, an http:// or https:// URL")
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{field}: {public_url(value)!r} is not an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"{field}: bad port in {public_url(value)!r}") from exc
    return value.strip()


def check_unknown_keys(config: dict[str, Any], allowed: set[str], kind: str) -> None:
    unknown = sorted(set(config) - allowed)
    if unknown:
        raise ValueError(f"{unknown[0]}: not a {kind} provider setting (known: {', '.join(sorted(allowed))})")


def _number(config: dict[str, Any], key: str, cast: type, low: float, high: float) -> Any:
    value = config.get(key, COMMON_DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise ValueError(f"{key}: must be a number from {low:g} to {high:g}, not {value!r}")
    if cast is int and value != int(value):
        raise ValueError(f"{key}: must be a whole number, not {value!r}")
    return cast(value)


def common_config(config: dict[str, Any]) -> dict[str, Any]:
    """Checks the settings every HTTP kind has; fills defaults and a callback token if absent."""
    if not isinstance(config, dict):
        raise ValueError("config: must be a JSON object")
    out = dict(config)
    out["url"] = check_http_url(config.get("url"), "url")
    base = check_http_url(config.get("callback_base"), "callback_base").rstrip("/")
    if urlsplit(base).query or urlsplit(base).fragment or "%" in base:
        raise ValueError("callback_base: engage's public base URL, without query, fragment or '%'")
    out["callback_base"] = base
    token = config.get("callback_token")
    if token is None:
        token = secrets.token_urlsafe(24)
    if not isinstance(token, str) or not _TOKEN.match(token):
        raise ValueError("callback_token: 16 to 128 characters of A-Z a-z 0-9 - _ . ~")
    out["callback_token"] = token
    out["timeout"] = _number(config, "timeout", float, 0.05, 300)
    out["max_connections"] = _number(config, "max_connections", int, 1, 1000)
    out["max_attempts"] = _number(config, "max_attempts", int, 1, 50)
    return out


def retry_after(response: HTTPResponse, default: float) -> float:
    """The provider's Retry-After (seconds) when it gives one, bounded so a typo cannot stall us."""
    value = response.headers.get("Retry-After", "") if response.headers else ""
    try:
        return min(max(float(value), 0.0), MAX_PAUSE)
    except ValueError:
        return default


def may_have_been_taken(exc: BaseException) -> bool:
    """Whether a request that failed with ``exc`` may have reached the gateway, so that sending it
    again may send the message twice. A refused or unreachable connection, a connect timeout or a
    wait for a free connection sent nothing; a connection reset or closed, or a timeout once
    connected, may have come after the gateway took the request (Kannel takes it 50 ms in)."""
    if isinstance(exc, ConnectionResetError | ConnectionAbortedError | BrokenPipeError | TimeoutError):
        return True
    if isinstance(exc, OSError):  # refused, unreachable, no such host: nothing was sent
        return False
    message = str(exc).lower()
    return not ("while connecting" in message or "in request queue" in message)


class HttpProvider(ProviderConnection):
    """One message = one HTTP request (the gateway splits long texts); the adaptive rate is
    charged the message's parts on every attempt, since that is what the gateway bills."""

    async def start(self) -> None:
        if not self.config.get("callback_token"):  # a token made up here would refuse every receipt
            raise ValueError(f"provider {self.name}: callback_token: missing from the stored config; "
                             "save the provider through validate_config so that one is generated")
        self.config = type(self).validate_config(self.config)
        self.pace = AdaptiveRate(self.tps)
        self.max_attempts = int(self.config["max_attempts"])
        self._slots = asyncio.Semaphore(int(self.config["max_connections"]))
        self.client = AsyncHTTPClient(force_instance=True, max_clients=int(self.config["max_connections"]))
        self._in_flight = 0
        self._failing = 0  # consecutive transport failures or 5xx: the provider looks down
        self._failed_at = 0.0

    async def stop(self) -> None:
        self.client.close()

    def status(self) -> dict[str, Any]:
        # HTTP has no bind to watch: a provider that kept failing is unhealthy for a while, then
        # presumed back, so the router sends it traffic again and finds out.
        healthy = (getattr(self, "_failing", 0) < UNHEALTHY_AFTER
                   or time.monotonic() - getattr(self, "_failed_at", 0.0) > UNHEALTHY_FOR)
        return {"binds_up": int(healthy), "binds": 1, "in_flight": getattr(self, "_in_flight", 0),
                "window": int(self.config.get("max_connections", COMMON_DEFAULTS["max_connections"])),
                "healthy": healthy, "paused": hasattr(self, "pace") and self.pace.paused,
                "endpoint": public_url(str(self.config.get("url", "")))}

    @abstractmethod
    def build_request(self, sms: OutboundSms, our_id: str, info: TextInfo) -> HTTPRequest:
        """The request that submits ``sms``; ``our_id`` is what receipts will quote if the
        provider gives no id of its own."""

    @abstractmethod
    def read_answer(self, response: HTTPResponse, our_id: str) -> tuple[str | None, str | None]:
        """(provider message id, None) for an accepted 2xx answer, or (None, error code)."""

    def callback_url(self, route: str, **query: str) -> str:
        args = "&".join(f"{k}={v}" for k, v in {"token": self.config["callback_token"], **query}.items())
        return f"{self.config['callback_base']}/callbacks/{route}/{self.provider_id}?{args}"

    async def send(self, sms: OutboundSms) -> SendOutcome:
        info = sms_encoding.analyse(sms.text)
        # One id per send() (kept across its retries, so a receipt for an attempt that timed out
        # but went through still matches); the suffix keeps a later resend of the message distinct.
        our_id = f"{sms.id}-{secrets.token_hex(4)}"
        outcome = SendOutcome(sms.id)
        response, error = await self._submit(self.build_request(sms, our_id, info), info.parts, sms.id)
        if response is not None:
            part_id, error = self.read_answer(response, our_id)
            if part_id is not None:
                self.stats.submitted_parts += info.parts
                outcome.part_ids.append(part_id)
                return outcome
        self.stats.permanent_errors += 1
        outcome.error = error
        log.info("provider %s: message %s failed: %s", self.name, sms.id, error)
        return outcome

    async def _submit(self, request: HTTPRequest, parts: int,
                      message_id: int) -> tuple[HTTPResponse | None, str | None]:
        delay, error = FIRST_BACKOFF, "http:unknown"
        unsure = False  # the last attempt failed where the gateway may have taken the request
        for _attempt in range(self.max_attempts):
            if unsure:
                self._possible_duplicate(message_id, error)
            unsure = False
            try:
                async with self._slots:  # the pace after the slot: a pause begun meanwhile holds this one too
                    await self.pace.acquire(parts)
                    sent_at = time.monotonic()
                    self._in_flight += 1
                    try:
                        response = await self.client.fetch(request, raise_error=False)
                    finally:
                        self._in_flight -= 1
            except (HTTPClientError, OSError, TimeoutError) as exc:  # timeouts, refused or dropped connections
                timed_out = isinstance(exc, TimeoutError) or "timeout" in str(exc).lower()
                error = "http:timeout" if timed_out else "http:connection"
                unsure = may_have_been_taken(exc)
                self._temporary(message_id, error)
            else:
                code = response.code
                if 200 <= code < 300:
                    self._failing = 0
                    self.pace.accepted(parts)
                    return response, None
                error = f"http:{code}"
                if code in THROTTLED:
                    self.stats.throttled += 1
                    self.pace.throttled(sent_at)
                    self.pace.pause(retry_after(response, delay))  # every sender of the provider waits
                    delay = min(delay * 2, MAX_BACKOFF)
                    continue
                if code >= 500 or code == 408:
                    self._temporary(message_id, error)
                else:
                    return None, error
            await asyncio.sleep(delay * random.uniform(0.75, 1.25))
            delay = min(delay * 2, MAX_BACKOFF)
        return None, error

    def _possible_duplicate(self, message_id: int, error: str) -> None:
        self.stats.possible_duplicates += 1
        log.warning("provider %s: message %s sent again after %s, which may have come after the gateway took it: "
                    "a possible duplicate", self.name, message_id, error)

    def _temporary(self, message_id: int, error: str) -> None:
        self.stats.temporary_errors += 1
        self._failing += 1
        self._failed_at = time.monotonic()
        log.warning("provider %s: message %s got %s from %s; retrying", self.name, message_id, error,
                    public_url(self.config["url"]))
