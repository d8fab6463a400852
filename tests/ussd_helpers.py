"""What the USSD specs share: a menu put on a code, a phone walking it through dialog.step (the
door every gateway uses), and the events and session rows a hop leaves behind."""

from __future__ import annotations

import itertools
import textwrap
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select, update

from engage.engine.store.schema import Event, Subscriber
from engage.engine.store.schema_ussd import UssdGateway, UssdSession
from engage.engine.ussd import menus
from engage.engine.ussd.dialog import Hop, Screen, step
from engage.engine.ussd.gateways.records import add_gateway

_keys = itertools.count(1)
PHONE_GATEWAY = "spec-phone"


def put_menu(engine: Engine, source: str, code: str = "*123#", name: str | None = None) -> int:
    """The menu saved on the code; named by the document, else "Test menu"."""
    source = textwrap.dedent(source)
    if name is None and "\nname:" not in source:
        name = "Test menu"
    with engine.begin() as conn:
        return menus.save(conn, source, code=code, name=name, actor="test")


def add_subscriber(engine: Engine, msisdn: str, **fields: Any) -> None:
    with engine.begin() as conn:
        conn.execute(Subscriber.__table__.insert().values(msisdn=msisdn, attributes={}, **fields))


def phone_gateway(engine: Engine) -> int:
    """An Africa's Talking gateway the specs' phones dial through, as subscribers' phones do."""
    with engine.begin() as conn:
        found = conn.execute(select(UssdGateway.id).where(UssdGateway.name == PHONE_GATEWAY)).scalar()
        return found if found is not None else add_gateway(conn, "africastalking", PHONE_GATEWAY, {}, actor="test")[0]


class Phone:
    """One subscriber's session, hop by hop, as a gateway would send them (``gateway``: its id; the
    specs' Africa's Talking one unless told)."""

    def __init__(self, engine: Engine, msisdn: str = "+998901234567", code: str = "*123#", max_chars: int = 182,
                 gateway: int | None = None):
        self.engine, self.msisdn, self.code, self.max_chars = engine, msisdn, code, max_chars
        self.gateway = gateway if gateway is not None else phone_gateway(engine)
        self.key = f"session-{next(_keys)}"

    def dial(self, replay_key: str | None = None) -> Screen:
        return step(self.engine, Hop(self.gateway, self.key, self.msisdn, self.code, None, replay_key, self.max_chars))

    def send(self, answer: str, replay_key: str | None = None) -> Screen:
        return step(self.engine, Hop(self.gateway, self.key, self.msisdn, self.code, answer, replay_key,
                                     self.max_chars))

    def walk(self, *answers: str) -> Screen:
        screen = self.dial()
        for answer in answers:
            screen = self.send(answer)
        return screen

    def session(self) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(select(UssdSession).where(UssdSession.session_key == self.key)).mappings().one()

    def idle_for(self, seconds: float) -> None:
        """The session's last hop moved `seconds` into the past, as if the phone had been silent."""
        with self.engine.begin() as conn:
            last = conn.execute(select(UssdSession.updated_at).where(UssdSession.session_key == self.key)).scalar_one()
            conn.execute(update(UssdSession).where(UssdSession.session_key == self.key)
                         .values(updated_at=last - timedelta(seconds=seconds)))


def steps(engine: Engine) -> list[dict[str, Any]]:
    """The data of every ussd_step event, in order."""
    with engine.connect() as conn:
        return list(conn.execute(select(Event.data).where(Event.kind == "ussd_step").order_by(Event.id)).scalars())


def events_of(engine: Engine, kind: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return list(conn.execute(select(Event.data).where(Event.kind == kind).order_by(Event.id)).scalars())
