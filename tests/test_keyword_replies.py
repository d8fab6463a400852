"""Each keyword texts its confirmation back: a message of the keyword's reply campaign, from the
short code the MO was sent to, in the subscriber's language; the templates are the operator's to
edit, and the unknown-word answer is theirs to turn on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, update

from engage.engine import statuses as st
from engage.engine.broker import Broker, connect
from engage.engine.broker.memory import reset
from engage.engine.campaigns.completion import complete_finished
from engage.engine.campaigns.kinds import REPLY_KIND
from engage.engine.delivery.dispatch import Dispatcher
from engage.engine.keywords import builtins, replies
from engage.engine.keywords.actions import Inbound
from engage.engine.keywords.builtins import REPLIES
from engage.engine.keywords.handling import handle_pending
from engage.engine.providers.records import add_smpp
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade
from engage.engine.store.schema import (
    Campaign,
    Event,
    InboundMessage,
    Keyword,
    Message,
    Provider,
    Subscriber,
    Template,
    TemplateVariant,
)

NUMBER = "+998901234560"


@pytest.fixture
def memory_broker_with_provider(engine) -> Iterator[Broker]:  # noqa: ANN001
    """One provider, so that the dispatcher has a route; its queue in an in-process broker."""
    with engine.begin() as conn:
        add_smpp(conn, name="sim", host="127.0.0.1", port=2775, system_id="engage", password="secret", actor="t")
    name = f"test-{uuid.uuid4().hex}"
    broker = connect(f"memory://{name}")
    yield broker
    broker.close()
    reset(name)


def _mo(engine, text: str, source: str = NUMBER, destination: str = "1234") -> int:  # noqa: ANN001
    with engine.begin() as conn:
        return conn.execute(insert(InboundMessage.__table__).values(
            provider_id=1, source=source.lstrip("+"), destination=destination, text=text,
            handled=False)).inserted_primary_key[0]


def _replies(engine) -> list[tuple[str, str, str]]:  # noqa: ANN001
    """(number, short code, template name) of each reply message, in order."""
    with engine.connect() as conn:
        return [(r.msisdn, r.sender_id, r.name) for r in conn.execute(
            select(Message.msisdn, Campaign.sender_id, Campaign.name).join(Campaign, Campaign.id == Message.campaign_id)
            .where(Campaign.kind == REPLY_KIND).order_by(Message.id))]


def test_stop_queues_its_confirmation_from_the_short_code_texted(engine):
    _mo(engine, "STOP", destination="4455")
    handle_pending(engine)
    assert _replies(engine) == [(NUMBER, "4455", "Keyword reply: STOP from 4455")]


def test_start_and_help_each_confirm_with_their_own_template(engine):
    _mo(engine, "start")
    _mo(engine, "help")
    handle_pending(engine)
    assert [name for _, _, name in _replies(engine)] == ["Keyword reply: START from 1234",
                                                         "Keyword reply: HELP from 1234"]


def test_replies_to_one_short_code_share_one_running_reply_campaign(engine):
    _mo(engine, "HELP")
    _mo(engine, "HELP", source="+998901234561")
    handle_pending(engine)
    with engine.connect() as conn:
        campaigns = conn.execute(select(Campaign.id, Campaign.status).where(Campaign.kind == REPLY_KIND)).all()
    assert len(campaigns) == 1 and campaigns[0].status == st.CAMPAIGN_RUNNING
    assert len(_replies(engine)) == 2


def test_a_repeated_mo_is_confirmed_once(engine):
    _mo(engine, "STOP")
    _mo(engine, "STOP")
    handle_pending(engine)
    assert len(_replies(engine)) == 1


def test_an_unknown_word_gets_no_answer_until_the_unknown_word_reply_is_turned_on(engine):
    _mo(engine, "BALANCE")
    handle_pending(engine)
    assert _replies(engine) == []
    with engine.begin() as conn:
        conn.execute(update(Keyword).where(Keyword.word == "*").values(enabled=True))
    _mo(engine, "WHAT")
    handle_pending(engine)
    assert [name for _, _, name in _replies(engine)] == ["Keyword reply: unknown word from 1234"]


def test_a_reply_campaign_is_never_completed_while_idle(engine):
    _mo(engine, "HELP")
    handle_pending(engine)
    with engine.begin() as conn:
        conn.execute(update(Message).values(status=st.DELIVERED))
    complete_finished(engine)
    with engine.connect() as conn:
        assert conn.execute(select(Campaign.status).where(Campaign.kind == REPLY_KIND)).scalar_one() \
            == st.CAMPAIGN_RUNNING


def _dispatched_text(engine, broker) -> str:  # noqa: ANN001
    assert Dispatcher(engine, broker).run_once() == 1
    with engine.connect() as conn:
        row = conn.execute(select(Message.body, Message.status, Message.error).join(
            Campaign, Campaign.id == Message.campaign_id).where(Campaign.kind == REPLY_KIND)).one()
    assert row.status == st.QUEUED, row.error
    return row.body


def test_the_reply_is_rendered_in_the_subscribers_language(engine, memory_broker_with_provider):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__).values(msisdn=NUMBER, language="uz", attributes={}))
    _mo(engine, "STOP")
    handle_pending(engine)
    assert _dispatched_text(engine, memory_broker_with_provider) == REPLIES["STOP"][1]["uz"]


def test_a_number_that_is_no_subscriber_gets_the_reply_in_the_templates_default_language(
        engine, memory_broker_with_provider):
    _mo(engine, "HELP")
    handle_pending(engine)
    assert _dispatched_text(engine, memory_broker_with_provider) == REPLIES["HELP"][1]["en"]


def test_an_edited_reply_template_is_what_goes_out(engine, memory_broker_with_provider):
    _mo(engine, "HELP")
    handle_pending(engine)
    with engine.begin() as conn:
        template_id = conn.execute(select(Template.id).where(Template.name == "Keyword reply: HELP")).scalar_one()
        conn.execute(update(TemplateVariant).where(TemplateVariant.template_id == template_id,
                                                   TemplateVariant.language == "en")
                     .values(body="Call 0800 for help, {{ msisdn }}"))
    assert _dispatched_text(engine, memory_broker_with_provider) == f"Call 0800 for help, {NUMBER}"


def test_each_mo_event_names_the_reply_it_queued(engine):
    _mo(engine, "STOP")
    handle_pending(engine)
    with engine.connect() as conn:
        data = conn.execute(select(Event.data).where(Event.kind == "keyword")).scalar_one()
        campaign_id = conn.execute(select(Campaign.id).where(Campaign.kind == REPLY_KIND)).scalar_one()
    assert data["outcome"] == "done" and data["reply"] == campaign_id and data["opted_out"] is True


def _two_providers(engine) -> tuple[int, int]:  # noqa: ANN001
    """A second provider the router prefers (lower priority number) over the fixture's "sim"."""
    with engine.begin() as conn:
        preferred = add_smpp(conn, name="preferred", host="127.0.0.1", port=2776, system_id="engage",
                             password="secret", priority=1, actor="t")
        came_by = conn.execute(select(Provider.id).where(Provider.name == "sim")).scalar_one()
    return came_by, preferred


def _reply_provider(engine) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(Message.provider_id).join(Campaign, Campaign.id == Message.campaign_id)
                            .where(Campaign.kind == REPLY_KIND)).scalar_one()


def test_the_reply_goes_back_through_the_provider_the_mo_came_by(engine, memory_broker_with_provider):
    came_by, _ = _two_providers(engine)
    with engine.begin() as conn:
        conn.execute(insert(InboundMessage.__table__).values(provider_id=came_by, source=NUMBER.lstrip("+"),
                                                             destination="1234", text="HELP", handled=False))
    handle_pending(engine)
    Dispatcher(engine, memory_broker_with_provider).run_once()
    assert _reply_provider(engine) == came_by


def test_the_reply_takes_the_usual_route_when_the_provider_it_came_by_is_off(engine, memory_broker_with_provider):
    came_by, preferred = _two_providers(engine)
    with engine.begin() as conn:
        conn.execute(insert(InboundMessage.__table__).values(provider_id=came_by, source=NUMBER.lstrip("+"),
                                                             destination="1234", text="HELP", handled=False))
        conn.execute(update(Provider).where(Provider.id == came_by).values(enabled=False))
    handle_pending(engine)
    Dispatcher(engine, memory_broker_with_provider).run_once()
    assert _reply_provider(engine) == preferred


def test_two_handlers_replying_at_once_from_a_new_short_code_share_one_reply_campaign(postgres_url):
    """The first reply from a short code makes its campaign; a second handler asking in the same moment
    waits for the first's transaction and takes that campaign rather than making a twin."""
    upgrade(postgres_url)
    eng = make_engine(postgres_url)
    with eng.begin() as conn:
        builtins.ensure(conn)
        template = conn.execute(select(Template.id).where(Template.name == REPLIES["STOP"][0])).scalar_one()
        provider = add_smpp(conn, name="sim", host="127.0.0.1", port=2775, system_id="engage", password="secret",
                            actor="t")
    mo = Inbound(id=1, provider_id=provider, number=NUMBER, destination="7777", text="STOP",
                 received_at=datetime.now(UTC))
    first = eng.connect()
    first.begin()
    replies.queue(first, [(mo, template)])  # its campaign made, not yet committed
    with ThreadPoolExecutor(1) as pool:
        second = pool.submit(lambda: _queue_in_own_transaction(eng, mo, template))
        with pytest.raises(FutureTimeout):
            second.result(timeout=0.5)  # waiting on the first handler's lock
        first.commit()
        second.result(timeout=10)
    first.close()
    with eng.connect() as conn:
        made = conn.execute(select(Campaign.id).where(Campaign.kind == REPLY_KIND, Campaign.sender_id == "7777")).all()
        sent = conn.execute(select(Message.campaign_id).where(Message.msisdn == NUMBER)).scalars().all()
    eng.dispose()
    assert len(made) == 1 and sent == [made[0].id, made[0].id]


def _queue_in_own_transaction(eng, mo: Inbound, template: int) -> None:  # noqa: ANN001
    with eng.begin() as conn:
        replies.queue(conn, [(mo, template)])
