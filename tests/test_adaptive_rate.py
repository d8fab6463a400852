"""The adaptive rate that paces a provider (engine.providers.pacing): it finds the rate the
provider accepts from its answers, whatever TPS is configured. Read on a clock the test moves,
so every figure is exact."""

from __future__ import annotations

import pytest

from engage.engine.providers import pacing
from engage.engine.providers.pacing import AdaptiveRate


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def send(rate: AdaptiveRate, clock: Clock, seconds: float, step: float = 0.01) -> int:
    """A sender that always wants more: take every token there is, for ``seconds``."""
    taken = 0
    for _ in range(round(seconds / step)):
        clock.advance(step)
        while rate.try_acquire():
            taken += 1
    return taken


def test_a_complaint_cuts_the_rate_to_a_share_of_what_was_accepted_not_of_the_configured_tps() -> None:
    clock = Clock()
    rate = AdaptiveRate(1_000_000, clock=clock)
    for _ in range(150):  # doubling, far above what the SMSC takes: it accepts 1,500 a second
        send(rate, clock, 0.01)
        rate.accepted(15)
    accepted = rate.accepted_rate()
    assert rate.throttled(sent_at=clock.now)
    assert accepted == pytest.approx(1500, rel=0.05)
    assert (rate.rate, rate.cuts) == (pytest.approx(pacing.BACK_OFF * accepted), 1)


def test_the_cut_never_goes_below_a_floor_that_does_not_depend_on_the_configured_tps() -> None:
    clock = Clock()
    rate = AdaptiveRate(1_000_000, clock=clock)
    send(rate, clock, 1.0)
    rate.accepted(1)  # one part in the last second
    rate.throttled(sent_at=clock.now)
    assert rate.rate == pacing.FLOOR


def test_complaints_about_parts_sent_before_the_cut_change_nothing() -> None:
    clock = Clock()
    rate = AdaptiveRate(3000, clock=clock)
    send(rate, clock, 1.0)
    rate.accepted(1000)
    sent_before = clock.now
    clock.advance(0.01)
    rate.throttled(sent_at=clock.now)
    cut_to = rate.rate
    clock.advance(0.01)
    assert [rate.throttled(sent_at=sent_before) for _ in range(50)] == [False] * 50
    assert (rate.cuts, rate.pause_for, rate.rate) == (1, pacing.PAUSE, cut_to)


def test_a_complaint_pauses_every_sender_and_the_pause_ends_with_an_empty_bucket() -> None:
    clock = Clock()
    rate = AdaptiveRate(1000, clock=clock)
    rate.accepted(500)
    rate.throttled(sent_at=clock.now)
    assert rate.paused and not rate.try_acquire()
    clock.advance(pacing.PAUSE)
    assert not rate.paused and not rate.try_acquire()  # nothing was saved up during the pause
    clock.advance(0.01)
    assert rate.try_acquire()


def _cut_once_and_past_the_pause() -> tuple[Clock, AdaptiveRate, float]:
    """A rate cut by one complaint, its pause over: (the clock, the rate, the rate it was cut to)."""
    clock = Clock()
    rate = AdaptiveRate(3000, clock=clock)
    rate.accepted(1000)
    rate.throttled(sent_at=clock.now)
    cut_to = rate.rate
    clock.advance(pacing.PAUSE + 0.01)
    return clock, rate, cut_to


def test_a_complaint_soon_after_a_cut_with_nothing_accepted_since_doubles_the_pause_and_keeps_the_rate() -> None:
    clock, rate, cut_to = _cut_once_and_past_the_pause()
    assert rate.throttled(sent_at=clock.now)  # sent after the cut: the SMSC's second is still spent
    assert (rate.rate, rate.cuts, rate.pause_for) == (cut_to, 1, 2 * pacing.PAUSE)
    assert rate.paused


def test_a_complaint_soon_after_a_cut_with_parts_accepted_since_is_retried_without_a_pause() -> None:
    clock, rate, cut_to = _cut_once_and_past_the_pause()
    rate.accepted(10)
    assert rate.throttled(sent_at=clock.now)
    assert (rate.rate, rate.cuts, rate.paused) == (cut_to, 1, False)


def test_a_complaint_a_while_after_a_cut_is_a_new_cut() -> None:
    clock = Clock()
    rate = AdaptiveRate(3000, clock=clock)
    rate.accepted(1000)
    rate.throttled(sent_at=clock.now)
    clock.advance(pacing.SETTLE)
    rate.accepted(10)
    rate.throttled(sent_at=clock.now)
    assert (rate.cuts, rate.pause_for) == (2, pacing.PAUSE)


def test_while_the_smsc_takes_nothing_complaints_pause_longer_and_longer_and_leave_the_rate() -> None:
    clock = Clock()
    rate = AdaptiveRate(3000, clock=clock)
    rate.accepted(1000)
    rate.throttled(sent_at=clock.now)
    cut_to, pauses = rate.rate, []
    for _ in range(6):  # blocked for a few seconds: every part sent after a pause is refused
        clock.advance(rate.pause_for)
        rate.throttled(sent_at=clock.now)
        pauses.append(rate.pause_for)
    assert pauses == [min(pacing.PAUSE * 2 ** n, pacing.MAX_PAUSE) for n in range(1, 7)]
    assert (rate.rate, rate.cuts) == (cut_to, 1)


def test_a_pause_the_provider_asks_for_holds_every_sender_that_long() -> None:
    clock = Clock()
    rate = AdaptiveRate(1000, clock=clock)
    rate.pause(2.0)
    clock.advance(1.99)
    assert not rate.try_acquire()
    clock.advance(0.02)
    send(rate, clock, 0.05)
    assert not rate.paused


def test_without_a_configured_tps_the_rate_starts_low_and_doubles_while_senders_want_more() -> None:
    clock = Clock()
    rate = AdaptiveRate(None, clock=clock)
    assert rate.rate == pacing.START_RATE
    send(rate, clock, 4 * pacing.DOUBLING)
    assert rate.rate == pytest.approx(16 * pacing.START_RATE, rel=0.05)


def test_the_rate_starts_at_the_configured_tps_when_that_is_lower_and_never_exceeds_it() -> None:
    clock = Clock()
    rate = AdaptiveRate(50, clock=clock)
    assert rate.rate == 50
    assert send(rate, clock, 10.0) <= 50 * 10 + rate.capacity
    assert rate.rate == 50


def test_a_configured_tps_far_above_the_start_is_reached_by_doubling_not_at_once() -> None:
    clock = Clock()
    rate = AdaptiveRate(1_000_000, clock=clock)
    assert send(rate, clock, 0.1) < 100


def test_the_accepted_rate_is_measured_since_sending_began_not_over_the_idle_time_before() -> None:
    clock = Clock()
    rate = AdaptiveRate(None, clock=clock)
    clock.advance(60.0)  # a provider started a minute before its first campaign
    for _ in range(50):  # half a second, 50 parts accepted: a second's worth, as an SMSC counts its TPS
        send(rate, clock, 0.01)
        rate.accepted(1)
    assert rate.accepted_rate() == pytest.approx(50, rel=0.05)


def test_an_idle_provider_does_not_probe_upwards() -> None:
    clock = Clock()
    rate = AdaptiveRate(None, clock=clock)
    clock.advance(60.0)
    rate.try_acquire()
    assert rate.rate == pacing.START_RATE


def first_cut(clock: Clock, accepted: int) -> tuple[AdaptiveRate, float]:
    """A sender doubling from the start to 1,600 parts/s, cut by the first complaint; and that 1,600."""
    rate = AdaptiveRate(None, clock=clock)
    send(rate, clock, 3 * pacing.DOUBLING)
    before = rate.rate
    rate.accepted(accepted)
    rate.throttled(sent_at=clock.now)
    clock.advance(pacing.PAUSE)
    return rate, before


def test_after_the_first_cut_the_rate_doubles_back_to_half_of_what_it_was() -> None:
    clock = Clock()
    rate, before = first_cut(clock, accepted=300)  # what a second of climbing let through understates the SMSC
    assert rate.rate == pacing.BACK_OFF * 300
    send(rate, clock, 0.4)
    assert rate.rate == pytest.approx(pacing.BACK_OFF * before / 2, rel=0.03)


def test_after_the_first_cut_the_rate_probes_up_fast() -> None:
    clock = Clock()
    rate, _ = first_cut(clock, accepted=1000)
    cut_to = rate.rate
    send(rate, clock, 1.0)
    assert rate.rate == pytest.approx(cut_to * (1 + pacing.FAST_PROBE), rel=0.02)


def test_a_cut_that_more_than_halves_the_rate_doubles_back_to_half_of_the_rate_before() -> None:
    clock = Clock()
    rate, _ = first_cut(clock, accepted=1000)
    send(rate, clock, pacing.SETTLE + pacing.WINDOW)
    before = rate.rate
    rate.accepted(round(before / 4))  # the SMSC took a quarter of what it was sent
    rate.throttled(sent_at=clock.now)
    assert rate.rate < before / 2
    clock.advance(pacing.PAUSE)
    send(rate, clock, 0.5)
    assert rate.rate >= pacing.BACK_OFF * before / 2


def test_after_an_ordinary_cut_the_rate_probes_up_slowly() -> None:
    clock = Clock()
    rate, _ = first_cut(clock, accepted=1000)
    for _ in range(100):  # a second accepting what it sends
        rate.accepted(round(rate.rate / 100))
        send(rate, clock, 0.01)
    rate.throttled(sent_at=clock.now)
    cut_to = rate.rate
    clock.advance(pacing.PAUSE)
    send(rate, clock, 1.0)
    assert rate.rate == pytest.approx(cut_to * (1 + pacing.PROBE), rel=0.02)


def test_a_provider_needs_a_positive_tps_or_none() -> None:
    with pytest.raises(ValueError, match="TPS"):
        AdaptiveRate(0)
