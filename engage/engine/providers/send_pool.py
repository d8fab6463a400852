"""A fixed set of sender coroutines shared by every batch a provider is given.

Sending a batch as one asyncio Task per message costs a Task, its scheduling and its
bookkeeping for every SMS, and with a few batches in flight thousands of tasks queue up
on a window of a few dozen slots. Here a provider keeps at most ``size`` workers (one per
window slot it has): a batch joins a queue, each worker takes the next message from it,
sends it with the provider's own ``send`` (pacing, retries and all), and the batch's one
future resolves when its last outcome is in. Messages keep their order within a batch, and
batches are served first come, first served.

A batch may come with ``settle``, given each outcome (the sender records it). What was sent and
not yet settled is never more than ``size``: a worker takes a message only with one of ``size``
slots, given back when its outcome is settled. A settle that returns an asyncio future (the
recorder's) is not awaited: the worker goes on to its next message, if a slot is free, and the
future's callback gives the slot back. That spares a task switch per message. Any other awaitable
is awaited by the worker, holding its slot.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from engage.engine.providers.base import OutboundSms, SendOutcome

__all__ = ["SendPool", "Settle"]

Settle = Callable[[SendOutcome], Awaitable[object]]

log = logging.getLogger(__name__)


class _Batch:
    __slots__ = ("done", "items", "next", "outcomes", "remaining", "settle")

    def __init__(self, items: list[OutboundSms], done: asyncio.Future[list[SendOutcome]],
                 settle: Settle | None) -> None:
        self.items = items
        self.settle = settle
        self.outcomes: list[SendOutcome] = [None] * len(items)  # type: ignore[list-item]
        self.next = 0  # index of the next message a worker takes
        self.remaining = len(items)  # outcomes still to come
        self.done = done


class SendPool:
    def __init__(self, send: Callable[[OutboundSms], Awaitable[SendOutcome]], size: int) -> None:
        self._send = send
        self.size = max(1, size)
        self._queue: deque[_Batch] = deque()  # batches with messages no worker has taken yet
        self._open: set[_Batch] = set()  # batches whose caller still waits
        self._workers: set[asyncio.Task[None]] = set()
        self._idle = 0
        self._work = asyncio.Event()
        self._slots = self.size  # messages that may still be sent before their outcomes are settled
        self._slot_waiters: deque[asyncio.Future[None]] = deque()  # workers waiting for a slot, first come first

    async def send(self, items: list[OutboundSms], settle: Settle | None = None) -> list[SendOutcome]:
        """Every message's outcome, in order, each settled first; raises what ``send`` or ``settle``
        raised for any of them."""
        if not items:
            return []
        batch = _Batch(items, asyncio.get_running_loop().create_future(), settle)
        self._queue.append(batch)
        self._open.add(batch)
        self._grow(len(items))
        self._work.set()
        try:
            return await batch.done
        finally:
            self._open.discard(batch)
            if batch.next < len(batch.items) and batch in self._queue:  # cancelled, or failed early
                self._queue.remove(batch)

    def _grow(self, wanted: int) -> None:
        """Start workers for what the idle ones cannot take, up to ``size``: a provider that only
        ever sends one message at a time never holds more than a few."""
        missing = min(wanted - self._idle, self.size - len(self._workers))
        for _ in range(missing):
            task = asyncio.create_task(self._work_loop())
            self._workers.add(task)
            task.add_done_callback(self._workers.discard)

    async def _work_loop(self) -> None:
        queue, send = self._queue, self._send
        while True:
            if not queue:
                self._idle += 1
                try:
                    while not queue:
                        self._work.clear()
                        await self._work.wait()
                finally:
                    self._idle -= 1
            if self._slots > 0:
                self._slots -= 1
            else:  # the slot is handed over by _free_slot, to one worker at a time
                waiting = asyncio.get_running_loop().create_future()
                self._slot_waiters.append(waiting)
                try:
                    await waiting
                except BaseException:
                    if waiting.done() and not waiting.cancelled():
                        self._free_slot()  # handed over as this worker was stopped: pass it on
                    raise
            if not queue:  # another worker took the last message while this one waited for a slot
                self._free_slot()
                continue
            batch = queue[0]
            index = batch.next
            batch.next = index + 1
            if batch.next == len(batch.items):
                queue.popleft()
            try:
                outcome = await send(batch.items[index])
                settling = batch.settle(outcome) if batch.settle is not None else None
                if isinstance(settling, asyncio.Future):
                    settling.add_done_callback(lambda done, b=batch, i=index, o=outcome: self._settled(b, i, o, done))
                    continue
                if settling is not None:
                    await settling  # this worker's slot stays taken until then
            except Exception as exc:  # a bug in send(): the whole batch fails, as asyncio.gather would
                self._free_slot()
                if not batch.done.done():
                    batch.done.set_exception(exc)
                continue
            self._free_slot()
            _outcome(batch, index, outcome)

    def _settled(self, batch: _Batch, index: int, outcome: SendOutcome, done: asyncio.Future[object]) -> None:
        self._free_slot()
        failure = asyncio.CancelledError() if done.cancelled() else done.exception()
        if failure is not None:
            if not batch.done.done():
                batch.done.set_exception(failure)
            return
        _outcome(batch, index, outcome)

    def _free_slot(self) -> None:
        while self._slot_waiters:
            waiting = self._slot_waiters.popleft()
            if not waiting.done():  # not cancelled
                waiting.set_result(None)
                return
        self._slots += 1

    async def close(self, timeout: float) -> None:
        """Let the workers finish what was queued (for up to ``timeout`` seconds), then stop them;
        a batch still unfinished then fails with ``ConnectionError``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while (self._queue or self._idle < len(self._workers) or self._slots < self.size) and loop.time() < deadline:
            await asyncio.sleep(0.01)
        workers = list(self._workers)
        for task in workers:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*workers, return_exceptions=True)
        for batch in self._open:
            if not batch.done.done():
                batch.done.set_exception(ConnectionError("the provider stopped before this batch was sent"))
        self._queue.clear()


def _outcome(batch: _Batch, index: int, outcome: SendOutcome) -> None:
    batch.outcomes[index] = outcome
    batch.remaining -= 1
    if batch.remaining == 0 and not batch.done.done():
        batch.done.set_result(batch.outcomes)
