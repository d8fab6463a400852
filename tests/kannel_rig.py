"""engage's kannel kind against the real Kannel of tests/fixtures/kannel.py, with engage's own
parts: the provider stored as `engage provider add` stores it, its connection started and run on
an event loop of its own as the send worker runs it, what it sent recorded by the sender's code
(delivery.submits), and Kannel's delivery reports fetched from the web app's callback handler
into the database, where they settle the messages."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, insert, select

from engage.engine import sms_encoding
from engage.engine.asyncloop import LoopThread
from engage.engine.delivery.submits import record_outcomes
from engage.engine.providers.base import OutboundSms, SendOutcome
from engage.engine.providers.kannel import KannelProvider
from engage.engine.providers.records import add_provider
from engage.engine.store.schema import Campaign, Message, MessagePart, Provider, Receipt, Segment, Template
from tests.fixtures.callbacks import wait_until
from tests.fixtures.kannel import Kannel

SENDER = "ENGAGE"
_names = itertools.count(1)


@dataclass
class KannelRig:
    engine: Engine
    kannel: Kannel
    provider_id: int
    provider: KannelProvider
    loop: LoopThread
    campaign_id: int
    numbers: dict[int, str] = field(default_factory=dict)  # message id -> the number Kannel's SMSC sees

    def messages(self, *texts: str) -> list[OutboundSms]:
        """Messages of the rig's campaign, each to a number of its own, stored as a sender finds them."""
        out = []
        with self.engine.begin() as conn:
            for text in texts:
                number = self.kannel.new_number()
                info = sms_encoding.analyse(text)
                mid = conn.execute(insert(Message.__table__).values(
                    campaign_id=self.campaign_id, subscriber_id=1, msisdn=f"+{number}", status="sending", body=text,
                    encoding=info.encoding, parts=info.parts, provider_id=self.provider_id)).inserted_primary_key[0]
                self.numbers[mid] = number
                out.append(OutboundSms(mid, f"+{number}", SENDER, text, self.campaign_id))
        return out

    def send(self, *texts: str, valid_until: datetime | None = None) -> list[SendOutcome]:
        """Sent through the provider's connection and recorded as the send worker records them."""
        batch = [OutboundSms(m.id, m.to, m.sender, m.text, m.campaign_id, valid_until) for m in self.messages(*texts)]
        return self.send_messages(batch)

    def send_messages(self, batch: list[OutboundSms]) -> list[SendOutcome]:
        outcomes = self.loop.run(self.provider.send_batch(batch), timeout=120)
        record_outcomes(self.engine, self.provider_id, self.campaign_id, outcomes)
        return outcomes

    def status(self, message_id: int) -> str:
        with self.engine.connect() as conn:
            return conn.execute(select(Message.status).where(Message.id == message_id)).scalar_one()

    def wait_for_status(self, message_id: int, status: str, timeout: float = 20.0) -> None:
        wait_until(lambda: self.status(message_id) == status, timeout,
                   f"message {message_id} to be {status} (it is {self.status(message_id)})")

    def part_statuses(self, message_id: int) -> list[str]:
        with self.engine.connect() as conn:
            return list(conn.execute(select(MessagePart.status).where(MessagePart.message_id == message_id)
                                     .order_by(MessagePart.part_no)).scalars())

    def receipts(self, message_id: int) -> list[Any]:
        """The stored receipts of the message's parts, oldest first."""
        with self.engine.connect() as conn:
            ids = list(conn.execute(select(MessagePart.provider_message_id).where(
                MessagePart.message_id == message_id)).scalars())
            return list(conn.execute(select(Receipt.__table__).where(Receipt.provider_message_id.in_(ids))
                                     .order_by(Receipt.id)).all())

    def submits(self, message_id: int, count: int, timeout: float = 10.0) -> list[Any]:
        """The submit_sm PDUs Kannel sent for the message, once ``count`` of them have gone by."""
        number = self.numbers[message_id]
        return wait_until(lambda: len(subs := self.kannel.tap.submits(number)) >= count and subs, timeout,
                          f"{count} submit_sm to {number}")

    def delivered_texts(self, message_id: int) -> list[str]:
        """The messages the simulator reassembled for the message's number: what a handset shows."""
        number = self.numbers[message_id]
        return [m.text for m in self.kannel.simulator.messages() if m.destination == number]


def smpp_time(value: bytes | str) -> datetime:
    """An SMPP absolute time (YYMMDDhhmmss tnn +), as Kannel writes a validity: UTC."""
    text = value.decode() if isinstance(value, bytes) else value
    assert text.endswith("+") and text[13:15] == "00", f"not an absolute UTC time: {text!r}"
    return datetime.strptime(text[:12], "%y%m%d%H%M%S").replace(tzinfo=UTC)


def provider_config(kannel: Kannel, callback_base: str, **config: Any) -> dict[str, Any]:
    return {"url": kannel.sendsms_url, "username": kannel.username, "password": kannel.password,
            "callback_base": callback_base, "timeout": 5, **config}


@contextlib.contextmanager
def engage_on_kannel(engine: Engine, callback_base: str, kannel: Kannel, **config: Any) -> Iterator[KannelRig]:
    """A kannel provider sending to ``kannel``, its reports called back to ``callback_base``."""
    with engine.begin() as conn:
        provider_id = add_provider(conn, name=f"kannel-{next(_names)}", kind="kannel", tps=1000,
                                   config=provider_config(kannel, callback_base, **config), actor="test")
        row = conn.execute(select(Provider.__table__).where(Provider.id == provider_id)).one()
        campaign_id = _bare_campaign(conn, row.name)
    provider = KannelProvider(provider_id, row.name, dict(row.config), row.tps, None)
    loop = LoopThread()
    loop.run(provider.start(), timeout=30)
    try:
        yield KannelRig(engine, kannel, provider_id, provider, loop, campaign_id)
    finally:
        loop.run(provider.stop(), timeout=30)
        loop.stop()


def _bare_campaign(conn: Any, name: str) -> int:
    segment = conn.execute(insert(Segment.__table__).values(name=name, definition={})).inserted_primary_key[0]
    template = conn.execute(insert(Template.__table__).values(name=name, default_language="en")).inserted_primary_key[0]
    return conn.execute(insert(Campaign.__table__).values(name=name, segment_id=segment, template_id=template,
                                                          sender_id=SENDER, status="running",
                                                          set_aside={})).inserted_primary_key[0]
