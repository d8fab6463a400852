"""A Kannel provider's health, read from Kannel's status page every few seconds, off the send path.

smsbox accepts messages whatever the state of the SMSC links behind bearerbox: with the link
down it answers 202 "3: Queued for later delivery" and keeps them until the link is back, so
only the status page tells that the provider cannot deliver. The provider is healthy while the
gateway is running and its SMSC link is online (the configured smsc, else any link): anything
else (re-connecting, connecting, disconnected, dead), a page that cannot be fetched or read, or
one that refuses the password, is down, and the router sends the provider's traffic elsewhere.

    <gateway><status>running, uptime ...</status><sms>...<sent>...<queued>3</queued></sent>...</sms>
      <smscs><smsc><id>sim</id><admin-id>sim</admin-id><status>online 5s</status>...</smsc></smscs></gateway>
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from engage.engine.providers.http_base import public_url

log = logging.getLogger(__name__)

MAX_PAGE = 4 * 1024 * 1024  # bytes: a status page of hundreds of links is far less
# A page that does not answer once (bearerbox busy) keeps the last reading; twice in a row is down.
MISSES_TOLERATED = 1


@dataclass(frozen=True)
class KannelHealth:
    healthy: bool
    link: str  # the SMSC link's state (online, re-connecting, dead...), or "unknown"
    queued: int | None = None  # messages bearerbox holds for an SMSC (sms/sent/queued)
    problem: str | None = None  # why the page could not tell


NOT_YET = KannelHealth(False, "unknown", problem="the status page was not read yet")


def read_page(xml: str, smsc: str | None) -> KannelHealth:
    """The health a status.xml shows for the link ``smsc`` (its id or admin-id), or any link."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        return KannelHealth(False, "unknown", problem=f"the status page is not Kannel's status.xml ({exc})")
    if root.tag != "gateway":
        return KannelHealth(False, "unknown", problem=f"the status page is not Kannel's status.xml (<{root.tag}>)")
    if (root.text or "").strip() == "Denied":
        return KannelHealth(False, "unknown", problem="Kannel's status page refused status_password")
    queued_text = root.findtext("sms/sent/queued")
    queued = int(queued_text) if queued_text and queued_text.strip().isdigit() else None
    gateway = (root.findtext("status") or "").split(",", 1)[0].strip()
    links = {}
    for node in root.iterfind("smscs/smsc"):
        state = (node.findtext("status") or "unknown").split(" ", 1)[0] or "unknown"
        for name in {node.findtext("id"), node.findtext("admin-id")} - {None, ""}:
            links.setdefault(name, []).append(state)
    if smsc is not None:
        states = links.get(smsc)
        if not states:
            return KannelHealth(False, "unknown", queued, f"Kannel has no SMSC link {smsc!r}")
    else:
        states = [s for group in links.values() for s in group]
        if not states:
            return KannelHealth(False, "unknown", queued, "Kannel has no SMSC link")
    link = "online" if "online" in states else states[0]
    if gateway != "running":
        return KannelHealth(False, link, queued, f"the gateway is {gateway or 'in no state'}")
    return KannelHealth(link == "online", link, queued)


class StatusWatch:
    """Fetches the status page every ``interval`` seconds on the provider's event loop; ``health``
    is the latest reading."""

    def __init__(self, url: str, password: str | None, smsc: str | None, interval: float, provider: str):
        separator = "&" if "?" in url else "?"
        self.url = f"{url}{separator}password={quote(password, safe='')}" if password else url
        self.shown = public_url(url)
        self.smsc, self.interval, self.provider = smsc, interval, provider
        self.health = NOT_YET
        self._misses = 0  # fetches in a row that got no page
        self._client = AsyncHTTPClient(force_instance=True, max_clients=1, max_body_size=MAX_PAGE)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Reads the page once (so the first batch is sent, or not, knowing), then keeps reading it."""
        await self.look()
        self._task = asyncio.ensure_future(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._client.close()

    async def look(self) -> KannelHealth:
        timeout = min(5.0, max(2.0, self.interval * 2))
        try:
            response = await self._client.fetch(HTTPRequest(self.url, connect_timeout=timeout, request_timeout=timeout,
                                                            follow_redirects=False), raise_error=False)
        except Exception as exc:  # refused, reset, timed out: bearerbox is not answering
            health = KannelHealth(False, "unknown", problem=f"status page {self.shown} unreachable: "
                                                            f"{type(exc).__name__}: {exc}"[:200])
        else:
            if response.code != 200:
                health = KannelHealth(False, "unknown", problem=f"status page {self.shown} answered {response.code}")
            else:
                health = read_page((response.body or b"").decode("utf-8", "replace"), self.smsc)
        self._misses = self._misses + 1 if health.link == "unknown" and health.problem else 0
        if 0 < self._misses <= MISSES_TOLERATED and self.health is not NOT_YET:
            log.info("provider %s: %s; keeping the last reading", self.provider, health.problem)
            return self.health
        if health != self.health and (health.healthy != self.health.healthy or health.problem != self.health.problem):
            say = log.info if health.healthy else log.warning
            say("provider %s: Kannel's SMSC link is %s%s", self.provider, health.link,
                f" ({health.problem})" if health.problem else "")
        self.health = health
        return health

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.look()
            except Exception as exc:  # never let the watch die: a provider without it would look healthy for ever
                log.exception("provider %s: reading Kannel's status page failed", self.provider)
                self.health = KannelHealth(False, "unknown", problem=f"reading the status page failed: {exc!r}"[:200])
