"""`engage demo`: the whole system in one process on the embedded default (SQLite file,
in-process broker, SMSC simulator on a free port), with sample subscribers and a campaign."""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, insert, select

from engage import config, demo_loyalty
from engage.demo_answers import seed_answers, text_back
from engage.demo_usage import recharges
from engage.engine import campaigns
from engage.engine import statuses as st
from engage.engine.providers.records import add_smpp
from engage.engine.routes import price_tables
from engage.engine.segments import store as segments
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade
from engage.engine.store.schema import InboundMessage, Message, OptOut
from engage.engine.subscribers_import import upsert
from engage.engine.templates import store as templates
from engage.engine.users import ensure_user, set_password
from engage.simulators.smsc import start_in_thread
from engage.workers import runner

FIRST_NAMES = {"en": ["Alex", "Sam", "Chris", "Jordan"], "ru": ["Анна", "Иван", "Ольга", "Дмитрий"],
               "uz": ["Aziz", "Dilnoza", "Jasur", "Malika"]}
CITIES = ["Tashkent", "Samarkand", "Bukhara", "Namangan", "Andijan"]
BODIES = {
    "en": "Hi {{ first_name | default('friend') }}, your balance is {{ balance }} UZS. Top up 20000 this week "
          "and get 500 bonus points!",
    "ru": "Здравствуйте, {{ first_name | default('друг') }}! Баланс: {{ balance }} сум. Пополните на 20000 "
          "и получите 500 бонусов!",
    "uz": "Salom {{ first_name | default('do`st') }}! Balansingiz {{ balance }} so'm. 20000 so'mga to'ldiring "
          "va 500 bonus ball oling!",
}
DEMO_ACTOR = "demo"
CONTROL_SHARE = 0.15  # held back and sent nothing, so that the Analytics page measures what the message changed
# Uzbekistan's mobile networks: (prefix after +998, name, price per part in USD), for the price table
NETWORKS = (("90", "Beeline", "0.0120"), ("91", "Beeline", "0.0120"), ("93", "Ucell", "0.0105"),
            ("94", "Ucell", "0.0105"), ("97", "Mobiuz", "0.0098"), ("99", "Uzmobile", "0.0090"))


def sample_subscribers(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        lang = rng.choices(["uz", "ru", "en"], weights=[6, 3, 1])[0]
        rows.append({
            "msisdn": f"+998{NETWORKS[i % len(NETWORKS)][0]}{1000000 + i:07d}",
            "first_name": rng.choice(FIRST_NAMES[lang]),
            "language": lang, "gender": rng.choice("MF"), "city": rng.choice(CITIES), "branch": "central",
            "birth_date": date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 45)),
            "timezone": "Asia/Tashkent", "balance": Decimal(rng.randrange(0, 200000)),
            "attributes": {"plan": rng.choice(["prepaid", "postpaid"])},
        })
    return rows


def seed(engine: Engine, recipients: int, smsc_port: int) -> int:
    """Subscribers on six networks, one opted out in fifty, a provider with its price table, a segment,
    a template, a campaign launched now."""
    rows = sample_subscribers(recipients)
    for i in range(0, len(rows), 500):
        upsert(engine, rows[i:i + 500])
    with engine.begin() as conn:
        opted = [{"msisdn": r["msisdn"], "channel": "sms", "source": "demo"} for r in rows[::50]]
        if opted:
            conn.execute(insert(OptOut.__table__), opted)
        provider_id = add_smpp(conn, name=f"simulator-{smsc_port}", host="127.0.0.1", port=smsc_port,
                               system_id="engage", password="secret", tps=2000, binds=2, window=64, actor=DEMO_ACTOR)
        since = datetime.now(UTC) - timedelta(days=1)
        price_tables.upsert(conn, [{"provider_id": provider_id, "prefix": f"998{prefix}", "mcc_mnc": "",
                                    "network": name, "price": Decimal(price), "currency": "USD", "valid_from": since}
                                   for prefix, name, price in NETWORKS])
        segment_id = segments.create(conn, f"Everyone {uuid.uuid4().hex[:6]}",
                                     {"and": [{"field": "msisdn", "op": "starts_with", "value": "+998"}]},
                                     actor=DEMO_ACTOR)
        template_id = templates.create(conn, f"Top-up bonus {uuid.uuid4().hex[:6]}", BODIES, default_language="en",
                                       actor=DEMO_ACTOR)
        campaign_id = campaigns.create(conn, name="Top-up bonus (demo)", segment_id=segment_id,
                                       template_id=template_id, sender_id="Beeline", actor=DEMO_ACTOR,
                                       control_share=CONTROL_SHARE)
    campaigns.launch(engine, campaign_id, actor=DEMO_ACTOR)
    return campaign_id


def _demo_database_url(fresh: bool) -> str:
    if "ENGAGE_DATABASE_URL" in os.environ:
        return config.load().database_url
    path = Path(os.environ.get("ENGAGE_HOME", ".engage")) / "demo.db"
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def run_demo(*, recipients: int, headless: bool, exit_when_done: bool, port: int, fresh: bool = True,
             timeout: float = 900.0) -> int:
    url = _demo_database_url(fresh)
    upgrade(url)
    engine = make_engine(url)
    broker_url = f"memory://demo-{uuid.uuid4().hex[:8]}"
    sim = start_in_thread(port=0)
    started = time.monotonic()
    campaign_id = seed(engine, recipients, sim.port)
    loyalty = demo_loyalty.seed_programme(engine)  # before the keywords that name it
    answers = {**seed_answers(engine), **loyalty}
    password = demo_users(engine)
    stop = threading.Event()
    runner.stop_on_signals(stop)
    threads = runner.start(["receipts", "send", "dispatch", "scheduler", "events", "loyalty"], engine, broker_url, stop)
    result: dict[str, Any] = {}
    mos: int | None = None  # texted back once the campaign is sent, so that its figures do not depend on when
    usage: dict[str, Any] | None = None  # and recharged afterwards: the effectiveness report's conversions
    fed: int | None = None  # those recharges, fed to the loyalty worker and scored into points

    def watch() -> None:
        nonlocal mos, usage, fed
        while not stop.is_set():
            with engine.connect() as conn:
                counts = campaigns.counts(conn, campaign_id)
                handled = conn.execute(select(func.count()).where(InboundMessage.handled.is_(True))).scalar_one()
                sent = not any(counts[s] for s in st.IN_FLIGHT)
                if sent and mos is None:
                    mos = text_back(sim, list(conn.execute(select(Message.msisdn).where(
                        Message.campaign_id == campaign_id).order_by(Message.id.desc()).limit(10)).scalars()))
            if sent and mos is not None and handled >= mos and usage is None:
                usage = recharges(engine, campaign_id)
                fed = demo_loyalty.feed_usage(engine, broker_url)
            if exit_when_done and usage is not None and fed is not None and demo_loyalty.scored(engine) >= fed:
                result.update(campaign_id=campaign_id, recipients=sum(counts.values()), counts=counts,
                              seconds=round(time.monotonic() - started, 2),
                              simulator_received=len(sim.received), inbound_handled=handled, **usage, **answers,
                              loyalty_scored=fed, loyalty_points=demo_loyalty.points_total(engine))
                stop.set()
            elif exit_when_done and time.monotonic() - started > timeout:
                result.update(error=f"not done after {timeout:.0f}s", counts=counts)
                stop.set()
            stop.wait(0.2)

    watcher = threading.Thread(target=watch, name="demo-watch", daemon=True)
    watcher.start()
    if not headless:
        _serve_until(engine, port, stop, password, answers)
    else:
        if not exit_when_done:
            print(f"demo running: campaign {campaign_id}, SMSC simulator on port {sim.port}; Ctrl-C stops",
                  flush=True)
            _print_answers(answers)
        stop.wait()
    if exit_when_done and not result:
        result["error"] = "stopped before the campaign was done (see the log above)"
    stop.set()
    for t in threads:
        t.join(timeout=30)
    sim.stop_thread()
    engine.dispose()
    if exit_when_done:
        print(json.dumps(result), flush=True)
        return 1 if "error" in result else 0
    return 0


DEMO_USERS = {"admin@example.com": "admin", "marketer@example.com": "marketer", "approver@example.com": "approver",
              "analyst@example.com": "analyst"}


def demo_users(engine: Engine) -> str:
    """An admin, a marketer, an approver and an analyst to sign in as, all with this run's password
    (ENGAGE_DEMO_PASSWORD, else a random one printed at start)."""
    password = os.environ.get("ENGAGE_DEMO_PASSWORD") or secrets.token_urlsafe(12)
    with engine.begin() as conn:
        for email, role in DEMO_USERS.items():
            ensure_user(conn, email, role, password, "demo")
            set_password(conn, email, password, actor="demo")  # a kept database gets this run's password
    return password


def _print_answers(answers: dict[str, Any], base: str = "") -> None:
    """Where the subscribers' side of the demo is: the USSD menu and its gateway, the keywords."""
    if answers.get("ussd_callback"):
        print(f"engage demo: the loyalty menu answers on {answers['ussd_code']} (Africa's Talking callback "
              f"{base}{answers['ussd_callback']}); subscribers' texts are on the Inbound page, keywords on "
              f"the Keywords page", flush=True)


def _serve_until(engine: Engine, port: int, stop: threading.Event, password: str,
                 answers: dict[str, Any]) -> None:
    from engage.web.app import make_app

    async def main() -> None:
        server = make_app(engine).listen(port, address="127.0.0.1")
        print(f"engage demo: open http://127.0.0.1:{port}/login and sign in as admin@example.com, "
              f"marketer@example.com, approver@example.com or analyst@example.com with password {password} "
              f"(Ctrl-C stops)", flush=True)
        _print_answers(answers, f"http://127.0.0.1:{port}")
        while not stop.is_set():
            await asyncio.sleep(0.2)
        server.stop()

    asyncio.run(main())
