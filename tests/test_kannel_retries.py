"""Sending again after a failure, through a real Kannel: a connection reset once Kannel had the
request may have sent the message twice, and is counted where `engage provider status` and
/metrics show it; a refused connection sent nothing, and is retried without a count."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from prometheus_client import REGISTRY
from tornado.simple_httpclient import HTTPStreamClosedError, HTTPTimeoutError

from engage.engine.providers.base import OutboundSms
from engage.engine.providers.http_base import may_have_been_taken
from engage.engine.providers.status import Heartbeat, read_status
from tests.fixtures.callbacks import wait_until
from tests.fixtures.flaky_proxy import FlakyProxy
from tests.fixtures.kannel import Kannel
from tests.kannel_rig import KannelRig, engage_on_kannel


@pytest.fixture
def proxy(kannel: Kannel) -> Iterator[FlakyProxy]:
    flaky = FlakyProxy(urlsplit(kannel.sendsms_url).port)
    yield flaky
    flaky.close()


@pytest.mark.parametrize(("failure", "taken"), [
    (ConnectionRefusedError(111, "Connection refused"), False),
    (OSError(113, "No route to host"), False),
    (HTTPTimeoutError("Timeout while connecting"), False),
    (HTTPTimeoutError("Timeout in request queue"), False),
    (ConnectionResetError(104, "Connection reset by peer"), True),
    (HTTPStreamClosedError("Stream closed"), True),
    (HTTPTimeoutError("Timeout during request"), True),
])
def test_whether_a_failed_request_may_have_reached_the_gateway(failure, taken):
    assert may_have_been_taken(failure) is taken


def reported_duplicates(rig: KannelRig) -> int:
    Heartbeat(rig.engine, [rig.provider], loop=rig.loop).beat()
    with rig.engine.connect() as conn:
        return next(r for r in read_status(conn) if r["provider_id"] == rig.provider_id)["possible_duplicates"]


def test_a_resend_after_a_reset_once_kannel_had_the_request_is_counted_as_a_possible_duplicate(
        site, kannel: Kannel, proxy: FlakyProxy, caplog):
    engine, base = site
    proxy.open()
    proxy.reset_after_reply = 1
    with engage_on_kannel(engine, base, kannel, url=proxy.url("/cgi-bin/sendsms")) as rig:
        before = REGISTRY.get_sample_value("engage_possible_duplicates_total", {"provider": rig.provider.name}) or 0
        [outcome] = rig.send("sent twice, perhaps")
        assert outcome.ok and "got http:connection" in caplog.text  # reset, not timed out
        assert len(rig.submits(outcome.message_id, 2)) == 2  # Kannel took the first request too
        assert rig.provider.stats.possible_duplicates == 1
        assert reported_duplicates(rig) == 1
        after = REGISTRY.get_sample_value("engage_possible_duplicates_total", {"provider": rig.provider.name})
    assert after - before == 1


def test_a_refused_connection_is_retried_and_not_counted(site, kannel: Kannel, proxy: FlakyProxy):
    engine, base = site  # the proxy's port is bound but not listening yet: connections are refused
    with engage_on_kannel(engine, base, kannel, url=proxy.url("/cgi-bin/sendsms")) as rig:
        [sms] = rig.messages("sent once")
        sending = rig.loop.submit(rig.provider.send_batch([OutboundSms(sms.id, sms.to, sms.sender, sms.text)]))
        wait_until(lambda: rig.provider.stats.temporary_errors >= 1, 10, "a refused connection")
        proxy.open()
        [outcome] = sending.result(timeout=30)
        assert outcome.ok
        assert len(rig.submits(sms.id, 1)) == 1 and proxy.connections == 1  # one request reached Kannel
        assert rig.provider.stats.possible_duplicates == 0 and reported_duplicates(rig) == 0
