"""Numbers that opted out while their messages were already with a sender.

STOP sets aside every message to the number that no sender has claimed yet (keywords/actions.py).
One in a batch a sender has claimed is on its way, and at a paced rate its turn may be seconds
away. So each sender looks, right before each submit, at the numbers that opted out lately
(ProviderConnection.hold): every REFRESH seconds it reads the opt-outs made since its last look,
one indexed query for the whole process whatever its providers, and keeps those of the last KEEP
seconds, longer than a claimed batch waits. The look reaches back OVERLAP seconds further, because
an opt-out's created_at is when its transaction began, not when others could see it.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from engage.engine import statuses as st
from engage.engine.providers.base import OutboundSms
from engage.engine.store.database import aware
from engage.engine.store.failures import reason
from engage.engine.store.schema import OptOut

log = logging.getLogger(__name__)

REFRESH = 0.5  # seconds between looks: with the keyword handler's own, STOP stops a sender within 2 s
KEEP = timedelta(hours=1)
OVERLAP = timedelta(seconds=30)
_shared: dict[int, RecentOptOuts] = {}
_shared_lock = threading.Lock()


class RecentOptOuts:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._seen: dict[str, datetime] = {}
        self._numbers: frozenset[str] = frozenset()  # replaced whole: read from the senders' event loop
        self._newest: datetime | None = None
        self._next = 0.0
        self._lock = threading.Lock()

    def hold(self, sms: OutboundSms) -> str | None:
        """The outcome for a message not to send (st.OPTED_OUT), or None. STOP's own confirmation
        (``always``) goes to the number that just opted out."""
        return st.OPTED_OUT if sms.to in self._numbers and not sms.always else None

    def refresh_if_due(self) -> None:
        """A look if REFRESH has passed since the last one; never waits for another thread's."""
        if time.monotonic() < self._next or not self._lock.acquire(blocking=False):
            return
        try:
            self._next = time.monotonic() + REFRESH
            self._refresh()
        except Exception as exc:  # the database away: the claims still keep what was set aside
            log.warning("could not read recent opt-outs (%s); trying again", reason(exc))
        finally:
            self._lock.release()

    def _refresh(self) -> None:
        with self.engine.connect() as conn:
            since = self._newest
            if since is None:
                since = aware(conn.execute(select(func.now())).scalar_one()) - KEEP
            rows = conn.execute(select(OptOut.msisdn, OptOut.created_at).where(
                OptOut.channel == "sms", OptOut.created_at >= since - OVERLAP)).all()
        self._newest = since
        for number, created_at in rows:
            at = aware(created_at)
            self._seen[number] = at
            if at > self._newest:
                self._newest = at
        gone = self._newest - KEEP
        self._seen = {number: at for number, at in self._seen.items() if at >= gone}
        self._numbers = frozenset(self._seen)


def for_engine(engine: Engine) -> RecentOptOuts:
    """One per process and database, whatever the number of providers sending."""
    with _shared_lock:
        found = _shared.get(id(engine))
        if found is None or found.engine is not engine:
            found = _shared[id(engine)] = RecentOptOuts(engine)
        return found
