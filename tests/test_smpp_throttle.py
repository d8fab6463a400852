"""An SMPP sender held to the rate its SMSC accepts, whatever TPS is configured for it (the SMSC's
own, a contract rate far above it, or none): over real TCP against the simulator, which enforces
a TPS per system-id and answers ESME_RTHROTTLED or ESME_RMSGQFUL beyond it. The bounds are
generous; the figures belong to `engage bench send --smsc-tps`."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from engage.engine.providers.base import SendOutcome
from engage.engine.providers.smpp import SmppProvider
from engage.simulators.smsc import SmscSimulator
from tests.smpp_helpers import provider_settings, run, running, send_all

Factory = Callable[..., SmscSimulator]
SMSC_TPS = 400
MESSAGES = 1600  # four seconds' worth at the SMSC's rate
BOUND = 0.05  # share of submits refused as too many; a run of a minute does far better (the bench)


def send_run(sim: SmscSimulator, tps: int | None) -> tuple[list[SendOutcome], SmppProvider]:
    async def scenario() -> tuple[list[SendOutcome], SmppProvider]:
        # A response late by seconds on a loaded machine would be resent (at least once, as SMPP is):
        # these tests are about throttling, so they wait long enough never to see a timeout.
        settings = provider_settings(sim.port, binds=2, window=32, response_timeout=15.0)
        async with running(settings, tps=tps) as provider:
            return await send_all(provider, MESSAGES), provider

    return run(scenario())


def refused_share(sim: SmscSimulator) -> float:
    stats = sim.stats()
    return (stats["throttled"] + stats["queue_full"]) / stats["submits"]


@pytest.mark.parametrize("configured", [SMSC_TPS, 8 * SMSC_TPS, 1_000_000],
                         ids=["the-smscs-own", "a-contract-rate-above-it", "a-million"])
def test_a_sender_configured_at_or_far_above_the_smsc_tps_sends_everything_with_few_throttled(
        smsc_factory: Factory, configured: int) -> None:
    sim = smsc_factory(tps=SMSC_TPS)
    outcomes, _ = send_run(sim, configured)
    assert all(o.ok for o in outcomes)
    assert (sim.stats()["accepted"], sim.stats()["duplicate_submits"]) == (MESSAGES, 0)
    assert refused_share(sim) < BOUND


def test_a_sender_with_no_configured_tps_sends_everything_with_few_throttled(smsc_factory: Factory) -> None:
    sim = smsc_factory(tps=SMSC_TPS)
    outcomes, _ = send_run(sim, None)
    assert all(o.ok for o in outcomes)
    assert sim.stats()["accepted"] == MESSAGES
    assert refused_share(sim) < BOUND


def test_the_rate_a_sender_settles_on_is_the_smscs_not_a_share_of_the_configured_one(
        smsc_factory: Factory) -> None:
    sim = smsc_factory(tps=SMSC_TPS)
    _, provider = send_run(sim, 1_000_000)
    assert provider.pace.cuts >= 1
    assert SMSC_TPS / 2 < provider.pace.rate < 2 * SMSC_TPS


def test_queue_full_beyond_the_tps_is_treated_as_throttling(smsc_factory: Factory) -> None:
    sim = smsc_factory(tps=SMSC_TPS, throttle_answer="msgqful")
    outcomes, provider = send_run(sim, 1_000_000)
    assert all(o.ok for o in outcomes)
    assert provider.stats.throttled == sim.stats()["queue_full"] > 0 and provider.pace.cuts >= 1
    assert provider.stats.temporary_errors == provider.stats.permanent_errors == 0
    assert refused_share(sim) < BOUND
