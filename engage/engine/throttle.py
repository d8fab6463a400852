"""A token bucket: a provider's TPS limit, counted in parts (what the SMSC bills), not messages."""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    def __init__(self, rate: float, burst: float | None = None):
        self.rate = float(rate)
        self.capacity = float(burst if burst is not None else max(rate / 10, 1.0))
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    async def acquire(self, n: int = 1) -> None:
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= n or self.tokens >= self.capacity:
                    self.tokens -= n
                    return
                await asyncio.sleep((n - self.tokens) / self.rate)
