"""What a sender sent is written to the database as soon as it is answered, not when its whole
broker batch is done, and the sender sends no more than its window ahead of what is written.

Why: after a sender is killed, the sweeper sends again every message of its claimed batches that
the database does not show as submitted (nobody can know what the SMSC took). Recorded a broker
batch (500 messages) at a time, four batches in hand, those were hundreds beyond the window: 656
duplicates after a kill -9 with a window of 256 (4 binds x 64). Here a provider's pool of senders
hands each outcome to the recorder, and the slot its message took is given back only once the
outcome is written (SendPool's ``settle``), so what is sent and not yet recorded is never more than
the pool's slots: binds x window for SMPP. Those are the only messages a crash can send twice.

Two threads per provider write whatever outcomes came in since their last write, in one
transaction per campaign (group commit): a hundred or more per write at full speed, one at a time
when sending is slow. The sender now waits on these writes, so a write that is all successes is
one statement on PostgreSQL (submits.SENT_AT_ONCE), on a connection each thread keeps in
autocommit. Outcomes are handed to the threads once per turn of the event loop, not one by one:
a lock and a wake-up per message were a tenth of the sender's CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Connection, Engine

from engage.engine.delivery.submits import record_outcomes
from engage.engine.providers.base import SendOutcome
from engage.engine.store.failures import reason, transient

log = logging.getLogger(__name__)

RECORD_RETRY = 1.0  # seconds between tries to record what was sent while the database is away
WRITERS = 2  # while one write commits, the next gathers and starts: a sender waits on about one write, not two


class OutcomeRecorder:
    """Records one provider's outcomes on a thread of its own; ``record`` is awaited on the
    provider's event loop and says whether the outcome is in the database."""

    def __init__(self, engine: Engine, provider_id: int, stop: threading.Event, *, give_up_after: float) -> None:
        self.engine, self.provider_id, self.stop = engine, provider_id, stop
        self.give_up_after = give_up_after
        self._pending: list[tuple[int, SendOutcome, asyncio.Future[bool]]] = []
        self._arriving: list[tuple[int, SendOutcome, asyncio.Future[bool]]] = []  # this turn's, on the loop
        self._ready = threading.Condition()
        self._closed = False
        self._threads = [threading.Thread(target=self._run, name=f"record-{provider_id}-{n}", daemon=True)
                         for n in range(WRITERS)]
        for thread in self._threads:
            thread.start()

    async def record(self, campaign_id: int, outcome: SendOutcome) -> bool:
        """True once the outcome is written; False if writing it was given up (the database away
        longer than the lease), when the sweeper will send its message again."""
        return await self.put(campaign_id, outcome)

    def put(self, campaign_id: int, outcome: SendOutcome) -> asyncio.Future[bool]:
        """``record`` as a future, for a caller that need not wait on it (SendPool)."""
        if self._closed:
            raise RuntimeError("the recorder is closed")
        loop = asyncio.get_running_loop()
        done = loop.create_future()
        self._arriving.append((campaign_id, outcome, done))
        if len(self._arriving) == 1:
            loop.call_soon(self._hand_over)
        return done

    def _hand_over(self) -> None:
        arrived, self._arriving = self._arriving, []
        with self._ready:
            if self._closed and not any(thread.is_alive() for thread in self._threads):
                _settle([done for *_, done in arrived], False)  # nobody left to write them
                return
            self._pending.extend(arrived)
            self._ready.notify()

    def close(self) -> None:
        """Write what is pending, then stop the thread."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        deadline = time.monotonic() + self.give_up_after + 5
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        writer = _Writer(self.engine)
        try:
            while True:
                with self._ready:
                    while not self._pending and not self._closed:
                        self._ready.wait()
                    if not self._pending:
                        return
                    pending, self._pending = self._pending, []
                by_campaign: dict[int, list[tuple[SendOutcome, asyncio.Future[bool]]]] = defaultdict(list)
                for campaign_id, outcome, done in pending:
                    by_campaign[campaign_id].append((outcome, done))
                for campaign_id, items in by_campaign.items():
                    ok = record_or_give_up(self.engine, self.provider_id, campaign_id, [o for o, _ in items],
                                           self.stop, give_up_after=self.give_up_after, writer=writer)
                    waiting = [done for _, done in items]
                    with contextlib.suppress(RuntimeError):  # the event loop is gone: nobody waits any more
                        waiting[0].get_loop().call_soon_threadsafe(_settle, waiting, ok)
        finally:
            writer.drop()


class _Writer:
    """A writer thread's own connection, in autocommit, kept between writes; dropped after a
    failure and opened again at the next write."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._conn: Connection | None = None

    def connection(self) -> Connection | None:
        """None where the one-statement write does not apply (not PostgreSQL)."""
        if self.engine.dialect.name != "postgresql":
            return None
        if self._conn is None:
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    def drop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.invalidate()
                self._conn.close()
            self._conn = None


def _settle(waiting: list[asyncio.Future[bool]], ok: bool) -> None:
    for done in waiting:
        if not done.done():  # cancelled: its sender stopped
            done.set_result(ok)


def record_or_give_up(engine: Engine, provider_id: int, campaign_id: int, outcomes: Sequence[SendOutcome],
                      stop: threading.Event, *, give_up_after: float, writer: _Writer | None = None) -> bool:
    """Whether what was sent is recorded. A database that is away is waited out, since unrecorded,
    the sweeper would send it all again once the claim's lease ran out; but only for give_up_after
    seconds (the lease), so that a sender never hangs on one batch, and not at all for a failure
    that trying again cannot mend."""
    deadline = time.monotonic() + give_up_after
    while True:
        try:
            record_outcomes(engine, provider_id, campaign_id, outcomes,
                            autocommit=writer.connection() if writer is not None else None)
            return True
        except Exception as exc:
            if writer is not None:
                writer.drop()
            if not transient(exc) or stop.is_set() or time.monotonic() >= deadline:
                log.exception("provider %s: could not record a batch's outcomes", provider_id)
                return False
            log.warning("provider %s: recording a batch's outcomes failed (%s); trying again",
                        provider_id, reason(exc))
            stop.wait(min(RECORD_RETRY, max(0.0, deadline - time.monotonic())))
