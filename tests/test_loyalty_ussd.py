"""Loyalty on *123#, through a USSD gateway adapter (Africa's Talking over real HTTP) and the
example menu: a member sees their points and what expires soon; a subscriber who is not one joins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from engage.engine.loyalty import ledger, members, programmes, rewards
from engage.engine.loyalty.ledger import Credit
from engage.engine.store.schema import LoyaltyMember, Subscriber
from engage.engine.ussd import menus
from tests.ussd_gateway_setup import CODE, gateway, post_form

MENU = Path(__file__).resolve().parent.parent / "examples" / "ussd" / "loyalty.yaml"
MEMBER, STRANGER = "+998900000001", "+998900000002"


@pytest.fixture
def dial(site):  # noqa: ANN001, ANN201
    """A function walking *123# as `number` with answers; the last screen's text."""
    engine, base = site
    with engine.begin() as conn:
        menus.save(conn, MENU.read_text(), code=CODE, actor="test")
    _, token = gateway(engine, "africastalking", "at")

    def walk(number: str, *answers: str) -> str:
        text = ""
        answer = post_form(base, f"/ussd/at?token={token}", {"sessionId": f"S-{number}-{len(answers)}",
                                                              "serviceCode": CODE, "phoneNumber": number,
                                                              "text": text})
        for a in answers:
            text = f"{text}*{a}" if text else a
            answer = post_form(base, f"/ussd/at?token={token}", {"sessionId": f"S-{number}-{len(answers)}",
                                                                  "serviceCode": CODE, "phoneNumber": number,
                                                                  "text": text})
        return answer.text

    return engine, walk


@pytest.fixture
def club(dial):  # noqa: ANN001, ANN201
    engine, walk = dial
    soon = datetime.now(UTC) + timedelta(days=10)
    with engine.begin() as conn:
        conn.execute(insert(Subscriber), [{"msisdn": MEMBER, "language": "en"}, {"msisdn": STRANGER, "language": "en"}])
        club = programmes.create(conn, "club", "Club")
        sid = conn.execute(select(Subscriber.id).where(Subscriber.msisdn == MEMBER)).scalar_one()
        members.enrol(conn, club.id, [sid], "api")
        member = conn.execute(select(LoyaltyMember.id)).scalar_one()
        ledger.credit(conn, [Credit(member, 40, datetime.now(UTC), "rule", "usage", "a", expires_at=soon),
                             Credit(member, 80, datetime.now(UTC), "rule", "usage", "b")])
    return engine, walk, soon


def test_a_member_sees_their_points_and_what_expires_soon(club) -> None:  # noqa: ANN001
    _, walk, soon = club
    assert walk(MEMBER, "3") == (f"CON You have 120 points. 40 of them expire on {soon.date().isoformat()}.\n"
                                 "1. Rewards\n2. Give points\n3. Exit")


def test_a_member_redeems_a_reward_after_confirming_it(club) -> None:  # noqa: ANN001
    engine, walk, _ = club
    with engine.begin() as conn:
        club_id = programmes.get(conn, "club").id
        rewards.add(conn, club_id, {"code": "cinema", "names": {"en": "Cinema ticket"}, "points": 100})
        made = rewards.add(conn, club_id, {"code": "coffee", "names": {"en": "Coffee"}, "points": 30,
                                           "fulfilment": "voucher"})
        rewards.add_codes(conn, made.id, ["CAFE-1"])
    assert walk(MEMBER, "3", "1") == "CON 1. Coffee: 30\n2. Cinema ticket: 100\nReply with the reward's number"
    assert walk(MEMBER, "3", "1", "1") == "CON Coffee for 30 points?\n1. Yes, redeem\n2. No"
    assert walk(MEMBER, "3", "1", "1", "1") == "END Done: Coffee is yours. Your code: CAFE-1. 90 points left."
    assert walk(MEMBER, "3", "1", "2", "1") == "END You do not have enough points for Cinema ticket yet."


def test_a_member_gives_points_to_another_member_after_confirming(club) -> None:  # noqa: ANN001
    engine, walk, _ = club
    walk(STRANGER, "3", "1")  # joins
    assert walk(MEMBER, "3", "2") == "CON Whose number gets your points?"
    assert walk(MEMBER, "3", "2", "900000002", "50") == "CON Give 50 points to +998900000002?\n1. Yes, give\n2. No"
    assert walk(MEMBER, "3", "2", "900000002", "50", "1") == (
        "END Done: 50 points went to +998900000002. 70 points left.")
    assert walk(STRANGER, "3").startswith("CON You have 50 points.")


def test_points_cannot_be_given_to_a_number_outside_the_club(club) -> None:  # noqa: ANN001
    _, walk, _ = club
    assert walk(MEMBER, "3", "2", "+998900000002", "50", "1") == (
        "END +998900000002 is not in the club: they can join on *123#.")


def test_a_member_cannot_give_more_points_than_they_have(club) -> None:  # noqa: ANN001
    _, walk, _ = club
    walk(STRANGER, "3", "1")
    assert walk(MEMBER, "3", "2", "+998900000002", "500", "1") == "END You do not have 500 points to give."


def test_a_subscriber_who_is_no_member_joins_from_the_menu(club) -> None:  # noqa: ANN001
    engine, walk, _ = club
    assert walk(STRANGER, "3").startswith("CON You are not in the club yet.")
    assert walk(STRANGER, "3", "1").startswith("END Welcome to the club!")
    assert walk(STRANGER, "3").startswith("CON You have 0 points.")
    with engine.connect() as conn:
        assert conn.execute(select(LoyaltyMember.enrolled_via).join(
            Subscriber, Subscriber.id == LoyaltyMember.subscriber_id).where(Subscriber.msisdn == STRANGER)
        ).scalar_one() == "ussd"


def test_without_a_programme_the_menu_says_rewards_are_coming(dial) -> None:  # noqa: ANN001
    _, walk = dial
    assert walk(MEMBER, "3").startswith("END Rewards open with our loyalty programme")
