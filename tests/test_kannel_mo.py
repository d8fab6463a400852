"""Subscribers' messages through a real Kannel (Debian's bearerbox + smsbox, tests/fixtures/kannel.py):
the SMSC simulator delivers an MO over SMPP, smsbox's sms-service fetches engage's MO callback as
the README tells an operator to configure it, and engage stores it, handles it (STOP opts the number
out, as over an SMPP bind) and answers so that smsbox sends the subscriber nothing back."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select

from engage.engine.store.schema import Event, InboundMessage, OptOut
from tests.database_refusals import allow, refuse
from tests.fixtures.callbacks import wait_until
from tests.fixtures.kannel import SYSTEM_ID, SYSTEM_PASSWORD, Kannel, running_kannel
from tests.fixtures.smsc import start_in_thread
from tests.test_http_callbacks import TOKEN, add_provider

SHORT_CODE = "1234"
# The README's sms-service, pointed at the test's web app and provider
ESCAPES = "from=%p&to=%P&text=%b&coding=%c&charset=%C&smsc=%i&id=%I&time=%T"
MO_SERVICE = """\
group = sms-service
keyword = default
max-messages = 0
get-url = "{base}/callbacks/kannel/{provider_id}/mo?token={token}&{escapes}"
"""
RETRIES = "http-request-retry = 3\nhttp-queue-delay = 1"  # an MO engage answered 503 is fetched again


@dataclass
class MoRig:
    kannel: Kannel
    provider_id: int

    def text(self, number: str, text: str) -> None:
        """The subscriber at ``number`` texts the short code: a deliver_sm from the SMSC to Kannel."""
        self.kannel.simulator.deliver_mo(number, SHORT_CODE, text)


@contextlib.contextmanager
def kannel_relaying_mos(engine, base: str) -> Iterator[MoRig]:  # noqa: ANN001
    """A kannel provider in engage, and a Kannel of its own whose sms-service calls engage back."""
    provider = add_provider(engine, "kannel", base)
    simulator = start_in_thread(accounts={SYSTEM_ID: SYSTEM_PASSWORD}, seed=1)
    service = MO_SERVICE.format(base=base, provider_id=provider["id"], token=TOKEN, escapes=ESCAPES)
    try:
        with running_kannel(simulator, sms_service=service, smsbox_extra=RETRIES) as kannel:
            yield MoRig(kannel, provider["id"])
    finally:
        simulator.stop_thread()


def _opt_out(engine, number: str):  # noqa: ANN001, ANN202
    with engine.connect() as conn:
        return conn.execute(select(OptOut.__table__).where(OptOut.msisdn == number)).first()


def _inbound(engine) -> list:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(InboundMessage.__table__).order_by(InboundMessage.id)).all()


def test_stop_texted_through_kannel_opts_the_number_out_as_over_smpp(site):
    engine, base = site
    with kannel_relaying_mos(engine, base) as rig:
        rig.text("998901234567", "Stop")
        opt_out = wait_until(lambda: _opt_out(engine, "+998901234567"), 20, "the number to be opted out")
    assert (opt_out.channel, opt_out.source) == ("sms", "keyword STOP")
    [mo] = _inbound(engine)
    assert (mo.provider_id, mo.destination, mo.text, mo.keyword, mo.handled) == (
        rig.provider_id, SHORT_CODE, "Stop", "STOP", True)
    with engine.connect() as conn:
        [told] = conn.execute(select(Event.data).where(Event.kind == "keyword")).scalars().all()
    assert told["inbound_id"] == mo.id and told["outcome"] == "done"


def test_kannel_sends_the_subscriber_nothing_back_for_an_mo(site):
    engine, base = site
    with kannel_relaying_mos(engine, base) as rig:
        rig.text("998901234568", "Hello")
        wait_until(lambda: "No reply sent" in rig.kannel.log("smsbox"), 20, "smsbox to take engage's answer")
        assert [m.text for m in _inbound(engine)] == ["Hello"]
        assert not [r for r in rig.kannel.simulator.received if r.destination.lstrip("+") == "998901234568"]
        [fetched] = [line for line in rig.kannel.log("smsbox-access").splitlines() if "HTTP-request" in line]
    assert "reply: 200" in fetched


def test_a_ucs2_mo_through_kannel_is_stored_in_its_own_letters(site):
    engine, base = site
    with kannel_relaying_mos(engine, base) as rig:
        rig.text("998901234569", "СТОП")
        wait_until(lambda: _opt_out(engine, "+998901234569"), 20, "the number to be opted out")
    assert [m.text for m in _inbound(engine)] == ["СТОП"]


def test_an_mo_engage_could_not_store_is_fetched_again_by_smsbox_and_stored(site, caplog):
    """engage answers 503 while its database refuses the MO; smsbox, configured with
    http-request-retry, fetches the get-url again a second later, once the fault is over."""
    engine, base = site
    refuse(engine, "inbound_messages", "text", "Hello again")
    with kannel_relaying_mos(engine, base) as rig:
        rig.text("998901234571", "Hello again")
        wait_until(lambda: "could not store" in caplog.text, 20, "engage to fail to store the MO")
        assert _inbound(engine) == []
        allow(engine, "inbound_messages")
        wait_until(lambda: _inbound(engine), 20, "smsbox's next try to be stored")
    assert [(m.source, m.text) for m in _inbound(engine)] == [("+998901234571", "Hello again")]
