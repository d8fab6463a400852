"""An HTTP provider told to slow down (429 with Retry-After) waits as long as it was told, every
sender of it, and finds the rate a gateway that enforces a TPS accepts: over real TCP against the
HTTP gateway simulator."""

from __future__ import annotations

import asyncio
from typing import Any

from engage.engine.providers.base import OutboundSms, SendOutcome
from engage.engine.providers.http_json import HttpJsonProvider
from engage.simulators.http_gateway import HttpSmscSimulator


def send(sim: HttpSmscSimulator, count: int, tps: int | None = 1000,
         **config: Any) -> tuple[list[SendOutcome], HttpJsonProvider]:
    """``count`` messages through a generic JSON provider, all at once; no receipts are asked for."""
    settings = {"url": sim.json_url, "headers": {"Authorization": "Bearer sim-key"},
                "body": {"to": "{to}", "from": "{sender}", "text": "{text}", "reference": "{id}"},
                "response_id_path": "messages.0.id", "callback_base": "http://127.0.0.1:9", "timeout": 5,
                "callback": {"id_field": "id", "status_field": "status", "status_map": {"delivered": "DELIVRD"}},
                **config}
    provider = HttpJsonProvider(8, "json-test", HttpJsonProvider.validate_config(settings), tps, None)

    async def run() -> list[SendOutcome]:
        await provider.start()
        try:
            return list(await asyncio.gather(*(provider.send(OutboundSms(100 + i, "+998901234567", "Engage", "hi"))
                                               for i in range(count))))
        finally:
            await provider.stop()

    return asyncio.run(asyncio.wait_for(run(), timeout=60)), provider


def test_a_429_with_retry_after_delays_the_next_request_by_at_least_that_long(http_sim) -> None:
    sim = http_sim(retry_after=1)
    sim.fail_next("throttle")
    [outcome], provider = send(sim, 1)
    assert outcome.ok and provider.stats.throttled == 1
    first, second = sim.request_times
    assert second - first >= 1.0


def test_a_429_holds_every_sender_of_the_provider_not_only_the_one_told(http_sim) -> None:
    sim = http_sim(retry_after=1)
    sim.fail_next("throttle")
    outcomes, _ = send(sim, 5, max_connections=1)
    assert all(o.ok for o in outcomes)
    first, *others = sim.request_times
    assert len(others) == 5 and min(others) - first >= 1.0


def test_a_sender_with_no_configured_tps_finds_a_gateways_rate_with_few_429s(http_sim) -> None:
    sim = http_sim(tps=50)
    outcomes, provider = send(sim, 250, tps=None, max_connections=5)
    assert all(o.ok for o in outcomes)
    assert len(sim.received) == 250
    assert provider.stats.throttled == sim.stats()["throttled"] < 0.15 * sim.stats()["requests"]
