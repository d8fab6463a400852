"""The "points will expire" SMS: a member whose points expire within the programme's notice window
is texted once per expiry day, with the points and the date in their language, from the programme's
sender, through the reply campaigns' road to the SMSC; nobody opted out or closed is texted."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from engage.engine import statuses as st
from engage.engine.analytics import periodic
from engage.engine.broker import connect
from engage.engine.broker.memory import reset
from engage.engine.delivery.dispatch import Dispatcher
from engage.engine.loyalty import expiry_notices, jobs, ledger, members, programmes
from engage.engine.loyalty.ledger import Credit
from engage.engine.providers.records import add_smpp
from engage.engine.store.schema import (
    Campaign,
    LoyaltyExpiryNotice,
    LoyaltyMember,
    LoyaltyProgramme,
    Message,
    OptOut,
    Subscriber,
)
from tests.fixtures.backends import running_workers

NOW = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
NUMBER = "+998901234567"


@pytest.fixture
def club(engine):  # noqa: ANN001, ANN201
    """A programme texting from "ClubUZ", and a member (English) with nothing yet."""
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__).values(id=1, msisdn=NUMBER, language="en", attributes={}))
        club = programmes.create(conn, "club", "Club")
        conn.execute(update(LoyaltyProgramme).values(settings={"sms_sender": "ClubUZ"}))
        members.enrol(conn, club.id, [1], "api")
    return club


def member(engine, subscriber_id: int = 1) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(LoyaltyMember.id).where(LoyaltyMember.subscriber_id == subscriber_id)).scalar_one()


def earn(engine, points: int, expires_in: timedelta, key: str, subscriber_id: int = 1) -> None:  # noqa: ANN001
    member_id = member(engine, subscriber_id)
    with engine.begin() as conn:
        ledger.credit(conn, [Credit(member_id, points, NOW - timedelta(days=300), "rule", "usage", key,
                                    expires_at=NOW + expires_in)])


def texts(engine) -> list[tuple[str, str, str, str]]:  # noqa: ANN001
    """(number, sender, campaign kind, body) of every message queued, in order."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            select(Message.msisdn, Campaign.sender_id, Campaign.kind, Message.body)
            .join(Campaign, Campaign.id == Message.campaign_id).order_by(Message.id))]


def test_a_member_whose_points_expire_in_5_days_is_texted_the_points_and_the_date(engine, club) -> None:  # noqa: ANN001
    earn(engine, 1200, timedelta(days=5), "a")
    told = expiry_notices.send_due(engine, NOW)
    assert told["club"]["notices"] == 1 and told["club"]["points"] == 1200
    assert texts(engine) == [(NUMBER, "ClubUZ", "reply",
                              "1,200 of your loyalty points expire on March 6, 2027. Use them before then.")]


def test_running_the_job_twice_texts_once(engine, club) -> None:  # noqa: ANN001
    earn(engine, 100, timedelta(days=5), "a")
    jobs.tell_expiring(engine, NOW)
    again = jobs.tell_expiring(engine, NOW + timedelta(hours=1))
    assert again["club"]["notices"] == 0 and len(texts(engine)) == 1
    with engine.connect() as conn:
        notice = conn.execute(select(LoyaltyExpiryNotice)).one()
    assert (str(notice.expires_on), notice.points, notice.message_id is not None) == ("2027-03-06", 100, True)


def test_points_expiring_in_30_days_are_not_told_yet(engine, club) -> None:  # noqa: ANN001
    earn(engine, 100, timedelta(days=30), "a")
    expiry_notices.send_due(engine, NOW)
    assert texts(engine) == []


def test_the_lots_of_one_day_are_told_together_and_another_day_apart(engine, club) -> None:  # noqa: ANN001
    earn(engine, 100, timedelta(days=2), "a")
    earn(engine, 50, timedelta(days=2, hours=10), "b")
    earn(engine, 7, timedelta(days=4), "c")
    expiry_notices.send_due(engine, NOW)
    assert [body.split(" of ")[0] for *_, body in texts(engine)] == ["150", "7"]


def test_an_opted_out_member_is_not_told(engine, club) -> None:  # noqa: ANN001
    earn(engine, 100, timedelta(days=5), "a")
    with engine.begin() as conn:
        conn.execute(insert(OptOut.__table__).values(msisdn=NUMBER, channel="sms", source="test"))
    expiry_notices.send_due(engine, NOW)
    assert texts(engine) == []


def test_a_closed_member_is_not_told(engine, club) -> None:  # noqa: ANN001
    earn(engine, 100, timedelta(days=5), "a")
    member_id = member(engine)
    with engine.begin() as conn:
        members.set_status(conn, member_id, "closed")
    expiry_notices.send_due(engine, NOW)
    assert texts(engine) == []


def test_the_text_is_in_the_members_language(engine, club) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(update(Subscriber).values(language="ru"))
    earn(engine, 1200, timedelta(days=5), "a")
    expiry_notices.send_due(engine, NOW)
    assert texts(engine)[0][3] == "1 200 ваших бонусных баллов сгорят 6 марта 2027 г., успейте их потратить."


def test_the_template_is_an_ordinary_one_whose_edits_are_sent(engine, club) -> None:  # noqa: ANN001
    from engage.engine.templates import store

    with engine.begin() as conn:
        template_id = expiry_notices.template_id(conn)
        store.update(conn, template_id, {"en": "Hi {{ msisdn }}: {points} points go on {date}."}, actor="admin@x")
    earn(engine, 10, timedelta(days=1), "a")
    expiry_notices.send_due(engine, NOW)
    assert texts(engine)[0][3] == f"Hi {NUMBER}: 10 points go on March 2, 2027."


def test_a_programme_with_notices_off_texts_nobody(engine, club) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(update(LoyaltyProgramme).values(settings={"expiry_notice_days": 0}))
    earn(engine, 100, timedelta(days=1), "a")
    assert expiry_notices.send_due(engine, NOW) == {"club": "off"}
    assert texts(engine) == []


def test_a_wrong_notice_setting_is_named_and_texts_nobody(engine, club) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(update(LoyaltyProgramme).values(settings={"expiry_notice_days": "7"}))
    earn(engine, 100, timedelta(days=1), "a")
    assert "expiry_notice_days: '7'" in expiry_notices.send_due(engine, NOW)["club"]["error"]
    assert texts(engine) == []


def test_members_are_told_a_batch_at_a_time_with_no_day_split(engine, club) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [{"id": i, "msisdn": f"+99890123456{i}", "attributes": {}}
                                                    for i in (2, 3, 4)])
        members.enrol(conn, club.id, [2, 3, 4], "api")
    for i in (1, 2, 3, 4):
        earn(engine, 10 * i, timedelta(days=3), f"a{i}", subscriber_id=i)
        earn(engine, 1, timedelta(days=3, hours=1), f"b{i}", subscriber_id=i)
    told = expiry_notices.send_due(engine, NOW, batch=3)
    assert (told["club"]["notices"], told["club"]["points"]) == (4, 104)
    assert sorted(body.split(" of ")[0] for *_, body in texts(engine)) == ["11", "21", "31", "41"]


def test_the_job_runs_with_the_events_workers_periodic_jobs(engine, club) -> None:  # noqa: ANN001
    earn(engine, 100, timedelta(days=5), "a")
    done = periodic.run_due(engine, NOW)
    assert done["loyalty_expiry_notices"]["club"]["notices"] == 1


def _zone_at(hour: int) -> str:
    """A fixed-offset zone whose local hour is `hour` now."""
    offset = (hour - datetime.now(UTC).hour + 12) % 24 - 12  # -12..11: an Etc/GMT zone exists for each
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"


@pytest.fixture
def broker(engine):  # noqa: ANN001, ANN201
    with engine.begin() as conn:
        add_smpp(conn, name="sim", host="127.0.0.1", port=2775, system_id="engage", password="secret", actor="t")
    name = f"test-{uuid.uuid4().hex}"
    made = connect(f"memory://{name}")
    yield made
    made.close()
    reset(name)


def test_a_notice_due_in_the_members_night_is_held_until_morning(engine, club, broker) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(update(Subscriber).values(timezone=_zone_at(3)))
    earn(engine, 100, timedelta(days=5), "a")
    expiry_notices.send_due(engine, NOW)
    Dispatcher(engine, broker).run_once()
    with engine.connect() as conn:
        assert conn.execute(select(Message.status)).scalar_one() == st.HELD


def test_the_notice_reaches_the_smsc_from_the_programmes_sender(engine, club, smsc) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(update(Subscriber).values(timezone=_zone_at(13)))
        add_smpp(conn, name="sim", host="127.0.0.1", port=smsc.port, system_id="engage", password="secret",
                 actor="t")
    earn(engine, 100, timedelta(days=5), "a")
    expiry_notices.send_due(engine, NOW)
    broker_url = f"memory://notices-{uuid.uuid4().hex[:8]}"
    with running_workers(engine, broker_url):
        deadline = time.monotonic() + 60
        while not smsc.messages():
            assert time.monotonic() < deadline, "the notice did not reach the SMSC"
            time.sleep(0.05)
    [sent] = smsc.messages()
    assert (sent.destination.lstrip("+"), sent.source) == (NUMBER.lstrip("+"), "ClubUZ")
    assert sent.text == "100 of your loyalty points expire on March 6, 2027. Use them before then."
