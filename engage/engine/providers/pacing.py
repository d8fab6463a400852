"""How fast one provider is sent to: a token bucket counted in parts (what an SMSC bills), whose
rate is set by what the provider accepts, not by the TPS configured for it.

The configured TPS is often not what the SMSC enforces: a contract rate above the link's, a
guess, or none at all. Trusting it, a sender either hammers an SMSC that then bars it, or
crawls. So the rate is found and held, per provider (every bind, every sender coroutine):

* It starts at ``START_RATE`` (or the configured TPS, if lower) and doubles every ``DOUBLING``
  seconds until the first complaint or the configured TPS. Starting at a contract rate of a
  million would send thousands of parts before the first "throttled" could come back.
* A complaint (ESME_RTHROTTLED, ESME_RMSGQFUL, HTTP 429/503) about a part sent after the last
  complaint, with parts accepted since that one and ``SETTLE`` seconds or more after the last
  cut, is a cut: the rate becomes ``BACK_OFF`` times what the provider *accepted* over the last
  second (the rate it has shown it takes, whatever was configured, never below ``FLOOR``), and
  every sender pauses ``PAUSE`` seconds. Sooner after a cut, the refused part is simply retried.
  With nothing accepted since the last complaint, the SMSC's second is spent or it is blocked:
  the rate is not to blame and stays, but the pause doubles, up to ``MAX_PAUSE``, for as long as
  that lasts. A complaint about a part that left before the last complaint was answered by it.
* While the bucket is what holds the senders back, the rate probes upwards by ``PROBE`` of
  itself per second, never beyond the configured TPS; an idle provider does not drift up.
* Some cuts measure badly: the one that ends the first doubling (what was accepted over a
  second in which the rate was still climbing understates the SMSC's rate) and one that more
  than halves the rate (the SMSC refused much of what it was sent, whatever the rate). After
  those, as TCP after a loss, the rate doubles back to half of ``BACK_OFF`` times the rate
  before, then probes by ``FAST_PROBE`` until the next cut. An SMSC that keeps refusing a share
  of everything, whatever the rate, brings the rate down to ``FLOOR``: it is not to be pressed.

An SMSC's answer can also name a pause (HTTP's Retry-After): :meth:`AdaptiveRate.pause`.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

__all__ = ["AdaptiveRate"]

START_RATE = 200.0  # parts/s to begin with
DOUBLING = 0.25  # seconds per doubling of the rate until the first complaint
FLOOR = 5.0  # parts/s: the least a complaint cuts to, whatever the configured TPS
BACK_OFF = 0.95  # share of the accepted rate a complaint cuts to
PROBE = 0.03  # share of itself the rate grows by per second while the senders want more
FAST_PROBE = 0.15  # the same, between the cut that ends the first doubling and the next one
PAUSE, MAX_PAUSE = 0.05, 1.0  # seconds every sender waits after a cut; doubled while nothing is accepted
SETTLE = 1.0  # seconds after a cut before a complaint cuts again
WINDOW = 1.0  # seconds of accepted parts a cut measures
BURST = 0.1  # seconds of the rate the bucket holds
MAX_RATE = 10_000_000.0


class AdaptiveRate:
    def __init__(self, limit: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        """``limit``: the provider's configured TPS, or None when none is known. ``clock`` is what
        ``sent_at`` is read from: time.monotonic."""
        if limit is not None and not limit > 0:
            raise ValueError(f"a provider's TPS must be positive or none, not {limit!r}")
        self.limit = float(limit) if limit is not None else None
        self.rate = min(START_RATE, self.limit) if self.limit is not None else START_RATE
        self.threshold = MAX_RATE  # below it the rate doubles, above it it probes
        self.probe = FAST_PROBE  # what the rate grows by per second once the doubling is over
        self.tokens = self.capacity
        self._clock = clock
        self.updated = clock()
        self.resume_at = 0.0  # no sender goes before this (a complaint's pause, a Retry-After)
        self.last_complaint = self.last_cut = float("-inf")
        self._accepted_at_complaint = 0
        self.pause_for = PAUSE
        self.cuts = 0
        self.accepted_parts = 0
        self._samples: deque[tuple[float, int]] = deque([(self.updated, 0)], maxlen=32)
        self._wanted_at = float("-inf")  # when a sender last found the bucket empty
        self._lock = asyncio.Lock()

    @property
    def capacity(self) -> float:
        return max(self.rate * BURST, 1.0)

    @property
    def paused(self) -> bool:
        return self._clock() < self.resume_at

    def accepted(self, parts: int = 1) -> None:
        """The provider took ``parts``: what a cut measures."""
        self.accepted_parts += parts

    def accepted_rate(self, now: float | None = None) -> float:
        """Parts accepted per second over the last ``WINDOW``. Sending that began (again) less than
        ``WINDOW`` ago counts as a whole one: an SMSC that counts its TPS per second may well have
        taken a second's worth in a fraction of it, and a rate that is too high costs refusals,
        where one too low is soon probed back up."""
        now = self._clock() if now is None else now
        self._sample(now)
        base_at, base = self._samples[0]
        for at, count in self._samples:
            if at > now - WINDOW:
                break
            base_at, base = at, count
        return (self.accepted_parts - base) / max(now - base_at, WINDOW)

    def _sample(self, now: float) -> None:
        """Sampled as the senders take tokens, every twentieth of ``WINDOW`` at most. A sample after
        a longer silence that was no pause starts afresh: the rate of an idle provider is not its
        rate while sending."""
        last_at = self._samples[-1][0]
        quiet = now - last_at
        if quiet >= WINDOW and self.resume_at <= last_at:
            self._samples.clear()
        if quiet >= WINDOW / 20:
            self._samples.append((now, self.accepted_parts))

    def _refill(self, now: float) -> None:
        elapsed = now - self.updated
        if elapsed <= 0:
            return
        self.updated = now
        self._sample(now)
        if now < self.resume_at:
            return  # nothing saved up during a pause: it ends with an empty bucket, not a burst
        elapsed = min(elapsed, now - self.resume_at)
        if now - self._wanted_at < WINDOW:  # the senders want more than the rate: probe upwards
            if self.rate < self.threshold:
                grown = min(self.rate * 2 ** (elapsed / DOUBLING), self.threshold)
            else:
                grown = self.rate * (1 + self.probe * elapsed)
            self.rate = min(grown, self.limit if self.limit is not None else MAX_RATE)
        tokens = self.tokens + elapsed * self.rate
        capacity = self.capacity
        self.tokens = tokens if tokens < capacity else capacity

    def try_acquire(self, n: int = 1) -> bool:
        """Take ``n`` tokens now if they are there and nobody is queued; never waits."""
        if self._lock.locked():
            return False
        now = self._clock()
        self._refill(now)
        if now >= self.resume_at:
            if self.tokens >= n:
                self.tokens -= n
                return True
            self._wanted_at = now
        return False

    async def acquire(self, n: int = 1) -> None:
        """Wait for ``n`` tokens, and for any pause to end; waiters are served in arrival order. A
        request larger than the bucket is let through once the bucket is full (and leaves it in debt)."""
        if self.try_acquire(n):
            return
        async with self._lock:
            while True:
                now = self._clock()
                self._refill(now)
                if now < self.resume_at:
                    await asyncio.sleep(self.resume_at - now)
                    continue
                if self.tokens >= n or self.tokens >= self.capacity:
                    self.tokens -= n
                    return
                self._wanted_at = now
                await asyncio.sleep(max((min(n, self.capacity) - self.tokens) / self.rate, 0.001))

    def throttled(self, sent_at: float) -> bool:
        """The provider refused a part sent at ``sent_at`` (time.monotonic()) as too many: cut or
        pause as the module says. ``False`` when an earlier complaint already answered it."""
        now = self._clock()
        self._refill(now)
        if sent_at < self.last_complaint:
            return False
        blocked = self.accepted_parts == self._accepted_at_complaint  # nothing taken since the last complaint
        self.last_complaint, self._accepted_at_complaint = now, self.accepted_parts
        if blocked:
            self.pause_for = min(self.pause_for * 2, MAX_PAUSE)
        elif now - self.last_cut >= SETTLE:
            self._cut(now)
        else:
            return True
        self.pause(self.pause_for)
        return True

    def _cut(self, now: float) -> None:
        before = self.rate
        self.rate = max(FLOOR, min(before, BACK_OFF * self.accepted_rate(now)))
        # The accepted rate is a rough guide after the first doubling and when the SMSC took next to
        # nothing: the rate doubles back to half the rate before, then probes fast.
        rough = self.cuts == 0 or self.rate < before / 2
        self.threshold = max(self.rate, BACK_OFF * before / 2) if rough else self.rate
        self.probe = FAST_PROBE if rough else PROBE
        self.pause_for = PAUSE
        self.cuts += 1
        self.last_cut = now

    def pause(self, seconds: float) -> None:
        """No sender goes for ``seconds`` (or longer, if a pause already runs), and what the bucket
        saved up is dropped, so the burst that provoked the pause stops at once."""
        now = self._clock()
        self._refill(now)
        self.resume_at = max(self.resume_at, now + seconds)
        self.tokens = min(self.tokens, 0.0)
