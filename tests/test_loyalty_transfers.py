"""Points given by one member to another: taken from the giver oldest lots first and credited to the
receiver in a lot that keeps the earliest expiry of what was taken, once per key, never more than
the giver has, only between active members of the programme; a gift is no earning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from engage.engine.loyalty import ledger, members, programmes, transfers
from engage.engine.loyalty.ledger import Credit, InsufficientPoints
from engage.engine.store.schema import LoyaltyEntry, LoyaltyLot, LoyaltyMember, Subscriber

SOON = datetime(2027, 3, 1, tzinfo=UTC)
LATER = SOON + timedelta(days=200)


@pytest.fixture
def club(engine):  # noqa: ANN001, ANN201
    """(programme, giver, receiver): the giver has 100 points expiring SOON and 200 expiring LATER."""
    with engine.begin() as conn:
        conn.execute(insert(Subscriber), [{"msisdn": f"+99890000000{i}"} for i in (1, 2, 3)])
        club = programmes.create(conn, "club", "Club")
        members.enrol(conn, club.id, list(conn.execute(select(Subscriber.id).order_by(Subscriber.id)).scalars()),
                      "api")
        giver, receiver, third = conn.execute(select(LoyaltyMember.id).order_by(LoyaltyMember.id)).scalars().all()
        ledger.credit(conn, [Credit(giver, 100, datetime.now(UTC), "rule", "usage", "a", expires_at=SOON),
                             Credit(giver, 200, datetime.now(UTC), "rule", "usage", "b", expires_at=LATER)])
    return club, giver, receiver, third


def give(engine, club, points: int, key: str = "k1", **kw):  # noqa: ANN001, ANN003, ANN201
    programme, giver, receiver, _ = club
    with engine.begin() as conn:
        return transfers.transfer(conn, programme.id, kw.get("giver", giver), kw.get("receiver", receiver), points,
                                  source="ussd", idem_key=key)


def balances(engine, *member_ids: int) -> list[int]:  # noqa: ANN001
    with engine.connect() as conn:
        return [ledger.balance(conn, m).available for m in member_ids]


def test_points_move_from_the_giver_to_the_receiver(engine, club) -> None:  # noqa: ANN001
    _, giver, receiver, _ = club
    done = give(engine, club, 150)
    assert balances(engine, giver, receiver) == [150, 150]
    with engine.connect() as conn:
        kinds = dict(conn.execute(select(LoyaltyEntry.id, LoyaltyEntry.kind).where(
            LoyaltyEntry.id.in_((done.out_entry, done.in_entry)))).all())
    assert kinds == {done.out_entry: "transfer_out", done.in_entry: "transfer_in"}


def test_the_gift_keeps_the_earliest_expiry_of_the_points_taken(engine, club) -> None:  # noqa: ANN001
    _, _, receiver, _ = club
    give(engine, club, 150)  # 100 expiring SOON, 50 expiring LATER
    with engine.connect() as conn:
        (expires,) = conn.execute(select(LoyaltyLot.expires_at).where(LoyaltyLot.member_id == receiver)).scalars()
    assert expires.replace(tzinfo=UTC) == SOON


def test_the_same_key_gives_once(engine, club) -> None:  # noqa: ANN001
    _, giver, receiver, _ = club
    first, again = give(engine, club, 50), give(engine, club, 50)
    assert (first.new, again.new, again.out_entry) == (True, False, first.out_entry)
    assert balances(engine, giver, receiver) == [250, 50]


def test_more_than_the_giver_has_moves_nothing(engine, club) -> None:  # noqa: ANN001
    _, giver, receiver, _ = club
    with pytest.raises(InsufficientPoints):
        give(engine, club, 301)
    assert balances(engine, giver, receiver) == [300, 0]


def test_a_gift_is_not_earning(engine, club) -> None:  # noqa: ANN001
    _, _, receiver, _ = club
    give(engine, club, 100)
    with engine.connect() as conn:
        b = ledger.balance(conn, receiver)
    assert (b.available, b.earned) == (100, 0)


@pytest.mark.parametrize(("change", "field"), [("self", "to"), ("suspended", "to"), ("zero", "points")])
def test_a_wrong_transfer_is_refused_naming_its_field(engine, club, change, field) -> None:  # noqa: ANN001
    programme, giver, receiver, third = club
    if change == "suspended":
        with engine.begin() as conn:
            members.set_status(conn, third, "suspended")
    with pytest.raises(transfers.TransferError) as refused:
        give(engine, club, 0 if change == "zero" else 10,
             receiver={"self": giver, "suspended": third}.get(change, receiver))
    assert refused.value.field == field
    assert balances(engine, giver) == [300]
