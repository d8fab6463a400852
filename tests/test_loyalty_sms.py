"""Loyalty by SMS: a keyword step joins the programme, another tells the balance; the subscriber's
loyalty_points and loyalty_tier follow the ledger (the first programme's), so the BAL reply, segments
and templates read the ledger's figures."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, update

from engage.engine.keywords import editing
from engage.engine.keywords.editing import KeywordError
from engage.engine.keywords.handling import handle_pending
from engage.engine.loyalty import ledger, members, programmes, redemption
from engage.engine.loyalty.ledger import Credit
from engage.engine.segments.audience import count
from engage.engine.store.schema import Event, InboundMessage, LoyaltyMember, Subscriber

NUMBER = "+998901234560"


@pytest.fixture
def club(engine):  # noqa: ANN001, ANN201
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__).values(msisdn=NUMBER, attributes={}, loyalty_points=999))
        return programmes.create(conn, "club", "Club")


def mo(engine, text: str) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(insert(InboundMessage.__table__).values(provider_id=1, source=NUMBER.lstrip("+"),
                                                             destination="4455", text=text, handled=False))
    handle_pending(engine)


def keyword(engine, word: str, kind: str) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        editing.save(conn, {"word": word, "short_code": "4455", "steps": [{"kind": kind, "programme": "club"}]},
                     actor="admin@x")


def profile(engine) -> tuple[int | None, str | None]:  # noqa: ANN001
    with engine.connect() as conn:
        return tuple(conn.execute(select(Subscriber.loyalty_points, Subscriber.loyalty_tier)).one())


def member_id(engine) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(LoyaltyMember.id)).scalar_one()


def earn(engine, points: int, key: str) -> None:  # noqa: ANN001
    member = member_id(engine)
    with engine.begin() as conn:
        ledger.credit(conn, [Credit(member, points, datetime.now(UTC), "rule", "usage", key)])


def test_texting_join_enrols_the_number(engine, club) -> None:  # noqa: ANN001
    keyword(engine, "join", "loyalty_join")
    mo(engine, "JOIN")
    with engine.connect() as conn:
        assert conn.execute(select(LoyaltyMember.enrolled_via)).scalar_one() == "keyword"


def test_texting_bal_records_the_balance_for_the_reply(engine, club) -> None:  # noqa: ANN001
    keyword(engine, "join", "loyalty_join")
    keyword(engine, "bal", "loyalty_balance")
    mo(engine, "JOIN")
    earn(engine, 120, "a")
    mo(engine, "BAL")
    with engine.connect() as conn:
        told = [e.data for e in conn.execute(select(Event).where(Event.kind == "keyword").order_by(Event.id))]
    assert told[-1]["points"] == 999 + 120  # the imported points became the opening balance on joining


def test_a_keyword_step_for_a_programme_that_does_not_exist_is_refused(engine, club) -> None:  # noqa: ANN001
    with pytest.raises(KeywordError), engine.begin() as conn:
        editing.save(conn, {"word": "bal", "short_code": "4455",
                            "steps": [{"kind": "loyalty_balance", "programme": "nope"}]}, actor="admin@x")


def test_the_profile_follows_the_ledger_through_earning_holding_and_releasing(engine, club) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        members.enrol(conn, club.id, [conn.execute(select(Subscriber.id)).scalar_one()], "api")
    earn(engine, 120, "a")
    assert profile(engine) == (999 + 120, None)  # the imported 999 opened the balance on joining
    held = redemption.hold(engine, member_id(engine), 100, source="ussd", idem_key="s1")
    assert profile(engine)[0] == 1019
    with engine.begin() as conn:
        redemption.release(conn, held.id)
    assert profile(engine)[0] == 1119


def test_a_segment_on_loyalty_points_counts_the_ledgers_figure(engine, club) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        members.enrol(conn, club.id, [conn.execute(select(Subscriber.id)).scalar_one()], "api")
        conn.execute(update(LoyaltyMember).values(level="gold"))
    earn(engine, 1500, "a")
    with engine.connect() as conn:
        assert count(conn, {"kind": "loyalty_points", "op": "ge", "value": 1000})["reachable"] == 1
        assert count(conn, {"kind": "loyalty_tier", "tiers": ["gold"]})["reachable"] == 1


def test_a_second_programme_leaves_the_profile_to_the_first(engine, club) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        other = programmes.create(conn, "business", "Business")
        members.enrol(conn, other.id, [conn.execute(select(Subscriber.id)).scalar_one()], "api")
        member = conn.execute(select(LoyaltyMember.id)).scalar_one()
        ledger.credit(conn, [Credit(member, 5, datetime.now(UTC), "rule", "usage", "b")])
    assert profile(engine)[0] == 999  # the imported value: no member of the first programme yet
