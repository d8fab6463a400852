"""A token bucket: a provider's TPS limit, counted in parts (what the SMSC bills), not messages.

It adapts. When the provider answers "throttled" or "queue full", :meth:`TokenBucket.slow_down`
cuts the rate for the whole provider (every bind, every sender coroutine) and empties the
bucket, so the burst that provoked it stops at once; the rate then climbs back linearly to
the configured limit over ``recovery`` seconds as long as no new complaint arrives. One
burst of complaints (a window's worth of throttled responses arriving together) counts as
one cut: cuts closer together than ``cut_interval`` are merged.
"""

from __future__ import annotations

import asyncio
import time

__all__ = ["TokenBucket"]


class TokenBucket:
    def __init__(self, rate: float, burst: float | None = None, *, min_rate: float | None = None,
                 recovery: float = 5.0, cut_interval: float = 1.0):
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate!r}")
        self.limit = float(rate)  # what the provider is configured for
        self.rate = self.limit  # what it gets now: the limit, or less after a complaint
        self.capacity = float(burst if burst is not None else max(rate / 10, 1.0))
        self.min_rate = float(min_rate if min_rate is not None else max(self.limit / 100, 1.0))
        self.recovery = recovery
        self.cut_interval = cut_interval
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self.last_cut = float("-inf")
        self.cuts = 0
        self._lock = asyncio.Lock()

    def _refill(self, now: float) -> None:
        elapsed = now - self.updated
        if elapsed <= 0:
            return
        self.updated = now
        if self.rate < self.limit and now - self.last_cut > self.cut_interval:
            self.rate = min(self.limit, self.rate + self.limit * elapsed / self.recovery)
        tokens = self.tokens + elapsed * self.rate
        self.tokens = tokens if tokens < self.capacity else self.capacity

    def try_acquire(self, n: int = 1) -> bool:
        """Take ``n`` tokens now if they are there and nobody is queued; never waits."""
        if self._lock.locked():
            return False
        self._refill(time.monotonic())
        if self.tokens >= n:
            self.tokens -= n
            return True
        return False

    async def acquire(self, n: int = 1) -> None:
        """Wait for ``n`` tokens; waiters are served in arrival order. A request larger than the
        bucket is let through once the bucket is full (and leaves it in debt)."""
        if self.try_acquire(n):
            return
        async with self._lock:
            while True:
                self._refill(time.monotonic())
                if self.tokens >= n or self.tokens >= self.capacity:
                    self.tokens -= n
                    return
                await asyncio.sleep(max((min(n, self.capacity) - self.tokens) / self.rate, 0.001))

    def slow_down(self, factor: float = 0.5) -> bool:
        """The provider complained: cut the rate by ``factor`` and drop the tokens saved up.
        ``False`` when this complaint belongs to a burst already answered by a cut."""
        now = time.monotonic()
        self._refill(now)
        if now - self.last_cut < self.cut_interval:
            return False
        self.last_cut = now
        self.cuts += 1
        self.rate = max(self.min_rate, self.rate * factor)
        self.tokens = min(self.tokens, 0.0)
        return True
