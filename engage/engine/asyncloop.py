"""An asyncio loop in its own thread: SMPP lives there, while broker and database work,
which block, stay in ordinary threads."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str = "engage-asyncio"):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        return self.submit(coro).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=5)


class _Stoppable(Protocol):
    _thread: threading.Thread | None
    _loop: asyncio.AbstractEventLoop | None  # set by start(), on the loop it runs on

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


S = TypeVar("S", bound=_Stoppable)


def serve_in_thread(server: S, name: str) -> S:
    """Run an asyncio server (the simulators) on its own loop in a daemon thread; returns once
    it listens, or raises what its start() raised."""
    loop = asyncio.new_event_loop()
    started: Future[None] = Future()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
        except BaseException as exc:
            started.set_exception(exc)
            return
        started.set_result(None)
        loop.run_forever()

    server._thread = threading.Thread(target=run, name=name, daemon=True)
    server._thread.start()
    started.result(timeout=10)
    return server


def stop_served(server: _Stoppable) -> None:
    """Stop a server started with serve_in_thread, and join its thread."""
    loop, thread = server._loop, server._thread
    if loop is None or thread is None or not thread.is_alive():
        return
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(timeout=10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    loop.close()
