"""The adaptive token bucket that paces a provider: cut on complaints, recovering gradually."""

from __future__ import annotations

import time

import pytest

from engage.engine.delivery.throttle import TokenBucket


def test_a_complaint_halves_the_rate_once_per_burst_and_empties_the_bucket() -> None:
    bucket = TokenBucket(1000, cut_interval=10.0)
    assert [bucket.slow_down(), bucket.slow_down(), bucket.slow_down()] == [True, False, False]
    assert (bucket.rate, bucket.cuts, bucket.tokens < 1) == (500, 1, True)
    assert not bucket.try_acquire()


def test_the_rate_recovers_gradually_to_the_limit_and_never_beyond() -> None:
    bucket = TokenBucket(1000, recovery=0.4, cut_interval=0.01)
    bucket.slow_down(0.1)
    time.sleep(0.05)
    bucket.try_acquire()
    assert 100 < bucket.rate < 1000
    time.sleep(0.45)
    bucket.try_acquire()
    assert bucket.rate == 1000


def test_the_rate_never_drops_below_its_floor() -> None:
    bucket = TokenBucket(100, cut_interval=0.0)
    for _ in range(20):
        bucket.slow_down()
    assert bucket.rate == 1.0


def test_a_bucket_needs_a_positive_rate() -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0)
