"""The kannel and http_json provider kinds against the HTTP gateway simulator, over real TCP."""

from __future__ import annotations

import asyncio
import socket
import time
from typing import Any

import pytest

from engage.engine.providers import KINDS
from engage.engine.providers.base import OutboundSms, ProviderConnection, SendOutcome
from engage.engine.providers.http_json import HttpJsonProvider
from engage.engine.providers.kannel import KannelProvider
from engage.simulators.http_gateway import HttpSmscSimulator

CALLBACK_BASE = "http://127.0.0.1:9"  # never called in these tests: receipts are tested in test_http_callbacks
JSON_BODY = {"to": "{to}", "from": "{sender}", "text": "{text}", "reference": "{id}",
             "callback_url": "{callback_url}", "parts": "{parts}", "priority": "high"}
CALLBACK = {"id_field": "id", "status_field": "status", "error_field": "error_code",
            "status_map": {"delivered": "DELIVRD", "undelivered": "UNDELIV", "accepted": "ACCEPTD"}}




def kannel(sim: HttpSmscSimulator, tps: int = 1000, **overrides: Any) -> KannelProvider:
    config = {"url": sim.kannel_url, "username": "engage", "password": "secret", "callback_base": CALLBACK_BASE,
              "timeout": 2, **overrides}
    return KannelProvider(7, "kannel-test", KannelProvider.validate_config(config), tps, None)


def http_json(sim: HttpSmscSimulator, **overrides: Any) -> HttpJsonProvider:
    config = {"url": sim.json_url, "headers": {"Authorization": "Bearer sim-key"}, "body": JSON_BODY,
              "response_id_path": "messages.0.id", "callback": CALLBACK, "callback_base": CALLBACK_BASE,
              "timeout": 2, **overrides}
    return HttpJsonProvider(8, "json-test", HttpJsonProvider.validate_config(config), 1000, None)


def send(provider: ProviderConnection, *texts: str) -> list[SendOutcome]:
    async def run() -> list[SendOutcome]:
        await provider.start()
        try:
            return list(await asyncio.gather(*(provider.send(OutboundSms(100 + i, "+998901234567", "Engage", t))
                                               for i, t in enumerate(texts))))
        finally:
            await provider.stop()

    return asyncio.run(run())


def test_both_kinds_are_registered():
    assert KINDS["kannel"] is KannelProvider and KINDS["http_json"] is HttpJsonProvider


def test_kannel_accepts_a_message_and_our_id_is_the_part_id_the_dlr_url_carries(http_sim):
    sim = http_sim()
    provider = kannel(sim)
    [outcome] = send(provider, "Hello there")
    assert outcome.ok and len(outcome.part_ids) == 1
    [got] = sim.received
    assert (got.to, got.sender, got.text, got.coding) == ("+998901234567", "Engage", "Hello there", 0)
    assert got.reference == outcome.part_ids[0] and got.reference.startswith("100-")
    assert got.fields["dlr-mask"] == "19" and "status=%d&ts=%T&smsc_reply=%A" in got.fields["dlr-url"]
    assert provider.stats.submitted_parts == 1


def test_kannel_sends_ucs2_text_intact_with_coding_2(http_sim):
    sim = http_sim()
    text = "Привет, Алия! 🎉 Баллы ×2"
    [outcome] = send(kannel(sim), text)
    assert outcome.ok
    assert (sim.received[0].text, sim.received[0].coding) == (text, 0 + 2)


def test_kannel_keeps_gsm_extension_characters_and_plus_signs_in_7_bit(http_sim):
    sim = http_sim()
    text = "Top up 20 000+ & get {2x} points [€5] ~now~ a+b=c 100%"
    [outcome] = send(kannel(sim, method="POST"), text)
    assert outcome.ok
    assert (sim.received[0].text, sim.received[0].coding) == (text, 0)


def test_throttled_answers_slow_down_and_retry_until_accepted(http_sim):
    sim = http_sim()
    sim.fail_next("throttle", "throttle")
    provider = kannel(sim)
    [outcome] = send(provider, "hi")
    assert outcome.ok
    assert provider.stats.throttled == 2 and provider.stats.temporary_errors == 0
    assert sim.stats()["throttled"] == 2 and len(sim.received) == 1


def test_server_errors_are_temporary_and_retried(http_sim):
    sim = http_sim()
    sim.fail_next("error", "error")
    provider = kannel(sim)
    [outcome] = send(provider, "hi")
    assert outcome.ok
    assert provider.stats.temporary_errors == 2 and provider.stats.permanent_errors == 0


def test_a_timeout_is_temporary_and_retried(http_sim):
    sim = http_sim(slow_delay=0.5)
    sim.fail_next("slow")
    provider = kannel(sim, timeout=0.2)
    [outcome] = send(provider, "hi")
    assert outcome.ok
    assert provider.stats.temporary_errors == 1 and len(sim.received) == 1


def test_retries_are_bounded_and_the_last_error_is_the_message_error(http_sim):
    sim = http_sim()
    sim.fail_next("error", "error", "error")
    provider = kannel(sim, max_attempts=3)
    [outcome] = send(provider, "hi")
    assert outcome.error == "http:500"
    assert provider.stats.temporary_errors == 3 and provider.stats.permanent_errors == 1


def test_an_unreachable_gateway_fails_with_a_connection_error_after_its_attempts():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    config = KannelProvider.validate_config({"url": f"http://127.0.0.1:{port}/cgi-bin/sendsms", "username": "u",
                                             "password": "p", "callback_base": CALLBACK_BASE, "max_attempts": 3})
    provider = KannelProvider(7, "down", config, 100, None)
    [outcome] = send(provider, "hi")
    assert outcome.error == "http:connection"
    assert provider.stats.temporary_errors == 3
    assert provider.status()["healthy"] is False


def test_a_rejected_request_fails_at_once_with_the_http_code(http_sim):
    sim = http_sim()
    sim.fail_next("reject")
    provider = kannel(sim)
    [outcome] = send(provider, "hi")
    assert outcome.error == "http:400" and outcome.part_ids == []
    assert provider.stats.permanent_errors == 1 and sim.stats()["requests"] == 1


def test_a_wrong_kannel_password_is_a_permanent_403(http_sim):
    sim = http_sim()
    [outcome] = send(kannel(sim, password="wrong"), "hi")
    assert outcome.error == "http:403"


def test_the_token_bucket_is_charged_parts_not_messages(http_sim):
    sim = http_sim()
    provider = kannel(sim, tps=20)
    three_parts = "x" * 400
    started = time.monotonic()
    outcomes = send(provider, *[three_parts] * 5)
    elapsed = time.monotonic() - started
    assert all(o.ok for o in outcomes)
    assert provider.stats.submitted_parts == 15
    assert elapsed >= 0.55, f"15 parts at 20 parts/s took only {elapsed:.2f}s"


def test_http_json_sends_the_mapped_body_and_keeps_the_providers_id(http_sim):
    sim = http_sim()
    provider = http_json(sim)
    [outcome] = send(provider, "Привет 👋")
    [got] = sim.received
    assert outcome.part_ids == [got.message_id]
    assert (got.to, got.sender, got.text) == ("+998901234567", "Engage", "Привет 👋")
    assert got.fields["priority"] == "high" and got.fields["parts"] == 1
    assert got.fields["callback_url"].startswith(f"{CALLBACK_BASE}/callbacks/http/8?token=")
    assert got.reference.startswith("100-")


def test_http_json_without_a_response_id_path_uses_our_own_id(http_sim):
    sim = http_sim()
    [outcome] = send(http_json(sim, response_id_path=None), "hi")
    assert outcome.part_ids == [sim.received[0].reference]


def test_http_json_fails_an_accepted_answer_without_the_id_it_was_told_to_expect(http_sim):
    sim = http_sim()
    [outcome] = send(http_json(sim, response_id_path="data.id"), "hi")
    assert outcome.error == "http_json:no-id"


def test_http_json_retries_throttling_and_fails_a_bad_api_key_permanently(http_sim):
    sim = http_sim()
    sim.fail_next("throttle")
    provider = http_json(sim)
    [ok] = send(provider, "hi")
    assert ok.ok and provider.stats.throttled == 1
    [refused] = send(http_json(sim, headers={"Authorization": "Bearer wrong"}), "hi")
    assert refused.error == "http:401"


def test_status_shows_no_credentials(http_sim):
    sim = http_sim()
    json_status = http_json(sim, headers={"Authorization": "Bearer sim-key", "X-Api-Key": "k1", "X-Trace": "on"})
    shown = str(json_status.status()) + str(kannel(sim, url=sim.kannel_url + "?password=secret").status())
    assert "sim-key" not in shown and "k1" not in shown and "secret" not in shown
    assert json_status.status()["headers"] == {"Authorization": "***", "X-Api-Key": "***", "X-Trace": "on"}


def test_validate_config_generates_a_callback_token_and_keeps_a_given_one():
    base = {"url": "http://kannel:13013/cgi-bin/sendsms", "username": "u", "password": "p",
            "callback_base": "http://engage:8888/"}
    generated = KannelProvider.validate_config(base)
    assert len(generated["callback_token"]) >= 16 and generated["callback_base"] == "http://engage:8888"
    assert generated["dlr_mask"] == 19
    given = KannelProvider.validate_config({**base, "callback_token": "t" * 20})
    assert given["callback_token"] == "t" * 20


@pytest.mark.parametrize(("change", "field"), [
    ({"url": "kannel:13013"}, "url"),
    ({"username": ""}, "username"),
    ({"password": None}, "password"),
    ({"dlr_mask": 99}, "dlr_mask"),
    ({"callback_base": None}, "callback_base"),
    ({"callback_base": "http://engage/x?y=1"}, "callback_base"),
    ({"callback_token": "short"}, "callback_token"),
    ({"timeout": 0}, "timeout"),
    ({"max_connections": "many"}, "max_connections"),
    ({"method": "DELETE"}, "method"),
    ({"passwrd": "typo"}, "passwrd"),
    ({"validity": 0}, "validity"),
    ({"priority": 4}, "priority"),
    ({"mclass": "1"}, "mclass"),
    ({"alt_dcs": 1}, "alt_dcs"),
    ({"binfo": "{campaign}"}, "binfo"),
    ({"meta_data": "engage"}, "meta_data"),
    ({"meta_data": {"smpp": {"a b": "x"}}}, "meta_data.smpp.a b"),
    ({"meta_data": {"smpp": {"tag": "{nope}"}}}, "meta_data.smpp.tag"),
    ({"status_url": "ftp://kannel/status.xml"}, "status_url"),
    ({"status_url": "http://kannel:13000/status.xml?password=x"}, "status_url"),
    ({"status_password": "p"}, "status_password"),
    ({"status_url": "http://kannel:13000/status.xml", "status_interval": 0}, "status_interval"),
])
def test_kannel_config_errors_name_the_field(change, field):
    config = {"url": "http://kannel:13013/cgi-bin/sendsms", "username": "u", "password": "p",
              "callback_base": "http://engage:8888", **change}
    with pytest.raises(ValueError, match=rf"^{field}:"):
        KannelProvider.validate_config({k: v for k, v in config.items() if v is not None})


@pytest.mark.parametrize(("change", "field"), [
    ({"body": None}, "body"),
    ({"body": {"text": "{txt}"}}, "body.text"),
    ({"body": {"meta": {"who": "{text.__class__}"}}}, "body.meta.who"),
    ({"body": {"text": "{text"}}, "body.text"),
    ({"headers": {"Authorization": 5}}, "headers"),
    ({"method": "GET"}, "method"),
    ({"response_id_path": "messages..id"}, "response_id_path"),
    ({"callback": None}, "callback"),
    ({"callback": {**CALLBACK, "id_field": ""}}, "callback.id_field"),
    ({"callback": {**CALLBACK, "status_map": {}}}, "callback.status_map"),
    ({"callback": {**CALLBACK, "status_map": {"ok": "DELIVERED_OK"}}}, "callback.status_map.ok"),
    ({"callback": {**CALLBACK, "id_feld": "x"}}, "callback.id_feld"),
])
def test_http_json_config_errors_name_the_key(change, field):
    config = {"url": "https://api.example.com/sms", "body": JSON_BODY, "callback": CALLBACK,
              "callback_base": "https://engage.example.com", **change}
    with pytest.raises(ValueError, match=rf"^{field}:"):
        HttpJsonProvider.validate_config({k: v for k, v in config.items() if v is not None})


def test_a_stored_config_without_a_callback_token_refuses_to_start(http_sim):
    sim = http_sim()
    config = {"url": sim.kannel_url, "username": "engage", "password": "secret", "callback_base": CALLBACK_BASE}
    with pytest.raises(ValueError, match="callback_token"):
        asyncio.run(KannelProvider(7, "k", config, 100, None).start())
