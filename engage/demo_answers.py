"""The demo's other half: subscribers answering. The loyalty menu of examples/ussd on *123# behind an
Africa's Talking gateway (walk it from the browser's phone emulator, or with curl at the printed
callback), keywords of the demo's own on 4455 (JOIN: a tag, the loyalty club and a reply; BAL: the
club balance), and a few subscribers texting STOP, JOIN, HELP, BAL and a word nobody defined while
the campaign sends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from engage.engine.keywords import definitions, editing
from engage.engine.store.schema import Keyword, LoyaltyProgramme, Template
from engage.engine.templates import store as templates
from engage.engine.ussd import menus
from engage.engine.ussd.gateways.records import add_gateway, callback_path
from engage.simulators.smsc import SmscSimulator

DEMO_ACTOR = "demo"
SHORT_CODE = "4455"
USSD_CODE = "*123#"
JOIN_TEMPLATE = "Keyword reply: JOIN (demo)"
JOIN_REPLIES = {
    "en": "Welcome to the club{% if first_name %}, {{ first_name }}{% endif %}! Dial *123# for your points. Text STOP "
          "to leave.",
    "ru": "Добро пожаловать в клуб{% if first_name %}, {{ first_name }}{% endif %}! Баллы: *123#. Отказ: СТОП.",
    "uz": "Klubga xush kelibsiz{% if first_name %}, {{ first_name }}{% endif %}! Ballar: *123#. Chiqish: STOP.",
}
BAL_TEMPLATE = "Keyword reply: BAL (demo)"
BAL_REPLIES = {
    "en": "You have {{ loyalty_points | default(0) }} points in the club. Dial *123# for more.",
    "ru": "У вас {{ loyalty_points | default(0) }} баллов в клубе. Подробнее: *123#.",
    "uz": "Klubdagi ballaringiz: {{ loyalty_points | default(0) }}. Batafsil: *123#.",
}
LOYALTY = "club"  # demo_loyalty.py's programme: its keywords are added once it exists
MENU = Path(__file__).resolve().parent.parent / "examples" / "ussd" / "loyalty.yaml"


def seed_answers(engine: Engine) -> dict[str, Any]:
    """The menu, its gateway and the JOIN keyword; what was set up (the gateway's callback path)."""
    out: dict[str, Any] = {}
    with engine.begin() as conn:
        definitions.load(conn)  # STOP, START, HELP and their replies
        club = conn.execute(select(LoyaltyProgramme.id).where(LoyaltyProgramme.code == LOYALTY)).first() is not None
        if conn.execute(select(Keyword.id).where(Keyword.word == "JOIN", Keyword.short_code == SHORT_CODE)).first() \
                is None:
            welcome = conn.execute(select(Template.id).where(Template.name == JOIN_TEMPLATE)).scalar() \
                or templates.create(conn, JOIN_TEMPLATE, JOIN_REPLIES, default_language="en", actor=DEMO_ACTOR)
            editing.save(conn, {"word": "JOIN", "short_code": SHORT_CODE, "aliases": ["CLUB"],
                                "steps": [{"kind": "tag", "tag": "club"}]
                                + ([{"kind": "loyalty_join", "programme": LOYALTY}] if club else []),
                                "reply_template_id": welcome}, actor=DEMO_ACTOR)
        if club and conn.execute(select(Keyword.id).where(Keyword.word == "BAL",
                                                          Keyword.short_code == SHORT_CODE)).first() is None:
            told = conn.execute(select(Template.id).where(Template.name == BAL_TEMPLATE)).scalar() \
                or templates.create(conn, BAL_TEMPLATE, BAL_REPLIES, default_language="en", actor=DEMO_ACTOR)
            editing.save(conn, {"word": "BAL", "short_code": SHORT_CODE, "aliases": ["BALANCE", "POINTS"],
                                "steps": [{"kind": "loyalty_balance", "programme": LOYALTY}],
                                "reply_template_id": told}, actor=DEMO_ACTOR)
        if MENU.exists() and menus.for_code(conn, USSD_CODE) is None:
            menus.save(conn, MENU.read_text(encoding="utf-8"), code=USSD_CODE, actor=DEMO_ACTOR)
            _, token = add_gateway(conn, "africastalking", "demo-africastalking", {}, actor=DEMO_ACTOR)
            out["ussd_callback"] = callback_path("demo-africastalking", token)
    out["ussd_code"] = USSD_CODE if MENU.exists() else None
    return out


def text_back(sim: SmscSimulator, numbers: list[str]) -> int:
    """A few of the audience answer the campaign from their phones; returns how many MOs."""
    words = ["STOP", "join", "Help", "What is this?", "Stop!", "BAL"]
    mos = [(number.lstrip("+"), SHORT_CODE, words[i % len(words)]) for i, number in enumerate(numbers[:10])]
    sim.deliver_mos(mos)
    return len(mos)
