"""The loyalty ledger: credits in lots, debits oldest lot first, holds confirmed or released,
expiry, idempotency and reversals; the balance always equals what the entries add up to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engage.engine.loyalty import expiry, ledger, members, programmes, redemption
from engage.engine.loyalty.ledger import Credit, InsufficientPoints, LedgerError
from engage.engine.store.schema_loyalty import LoyaltyBalance, LoyaltyEntry, LoyaltyLot

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def member(engine) -> int:  # noqa: ANN001
    with engine.begin() as conn:
        club = programmes.create(conn, "club", "Club")
        members.enrol(conn, club.id, [501], "api")
        return members.find(conn, club.id, 501).id


def earn(engine, member: int, points: int, key: str, *, at: datetime = T0, days: int | None = 365) -> list[int]:  # noqa: ANN001
    with engine.begin() as conn:
        return ledger.credit(conn, [Credit(member, points, at, "rule", "usage", key,
                                           expires_at=at + timedelta(days=days) if days else None)])


def state(engine, member: int) -> tuple[int, int, int]:  # noqa: ANN001
    """(available, held, sum of the member's entries' points) — the last two must agree with the first."""
    with engine.connect() as conn:
        b = conn.execute(select(LoyaltyBalance).where(LoyaltyBalance.member_id == member)).one()
        entries = conn.execute(select(func.sum(LoyaltyEntry.points), func.sum(LoyaltyEntry.held))
                               .where(LoyaltyEntry.member_id == member)).one()
        lots = conn.execute(select(func.sum(LoyaltyLot.remaining)).where(LoyaltyLot.member_id == member)).scalar()
    assert (entries[0] or 0) == b.available == (lots or 0), "entries, balance and lots disagree"
    assert (entries[1] or 0) == b.held
    return b.available, b.held, b.redeemed


def test_a_credit_makes_a_lot_and_raises_the_balance(engine, member) -> None:  # noqa: ANN001
    earn(engine, member, 120, "cdr-1")
    assert state(engine, member) == (120, 0, 0)


def test_the_same_key_posts_once_across_batches_and_within_one(engine, member) -> None:  # noqa: ANN001
    assert len(earn(engine, member, 10, "cdr-1")) == 1
    assert earn(engine, member, 10, "cdr-1") == []
    with engine.begin() as conn:
        made = ledger.credit(conn, [Credit(member, 5, T0, "rule", "usage", "cdr-2"),
                                    Credit(member, 5, T0, "rule", "usage", "cdr-2")])
    assert len(made) == 1
    assert state(engine, member)[0] == 15


def test_the_same_key_in_another_source_is_another_cause(engine, member) -> None:  # noqa: ANN001
    earn(engine, member, 10, "42")
    with engine.begin() as conn:
        ledger.credit(conn, [Credit(member, 7, T0, "partner", "partner:1", "42")])
    assert state(engine, member)[0] == 17


def test_a_debit_takes_the_lots_that_expire_first(engine, member) -> None:  # noqa: ANN001
    earn(engine, member, 100, "late", days=300)
    earn(engine, member, 50, "soon", days=30)
    earn(engine, member, 70, "never", days=None)
    with engine.begin() as conn:
        ledger.debit(conn, member, 80, kind="adjust", cause="person", source="person", idem_key="fix-1",
                     actor="ana", reason="duplicate purchase")
        left = dict(conn.execute(select(LoyaltyLot.points, LoyaltyLot.remaining)).all())
    assert left == {50: 0, 100: 70, 70: 70}
    assert state(engine, member)[0] == 140


def test_a_debit_of_more_than_is_available_takes_nothing(engine, member) -> None:  # noqa: ANN001
    earn(engine, member, 30, "a")
    with pytest.raises(InsufficientPoints), engine.begin() as conn:
        ledger.debit(conn, member, 31, kind="adjust", cause="person", source="person", idem_key="x")
    assert state(engine, member) == (30, 0, 0)


def test_a_confirmed_hold_spends_the_points(engine, member) -> None:  # noqa: ANN001
    earn(engine, member, 100, "a")
    held = redemption.hold(engine, member, 60, source="ussd", idem_key="s-1")
    assert state(engine, member) == (40, 60, 0)
    with engine.begin() as conn:
        redemption.confirm(conn, held.id, {"voucher": "X1"})
    assert state(engine, member) == (40, 0, 60)


def test_a_released_hold_gives_the_points_back_to_their_own_lots(engine, member) -> None:  # noqa: ANN001
    earn(engine, member, 50, "soon", days=30)
    earn(engine, member, 50, "late", days=300)
    held = redemption.hold(engine, member, 70, source="ussd", idem_key="s-1")
    with engine.begin() as conn:
        redemption.release(conn, held.id, {"error": "provisioning timed out"})
        left = dict(conn.execute(select(LoyaltyLot.expires_at, LoyaltyLot.remaining)).all())
    assert sorted(left.values()) == [50, 50]
    assert state(engine, member) == (100, 0, 0)


def test_deciding_a_hold_twice_changes_nothing_and_the_other_decision_is_refused(engine, member) -> None:  # noqa: ANN001
    earn(engine, member, 100, "a")
    held = redemption.hold(engine, member, 60, source="ussd", idem_key="s-1")
    with engine.begin() as conn:
        redemption.confirm(conn, held.id)
        assert redemption.confirm(conn, held.id).new is False
    with pytest.raises(LedgerError, match="confirmed already"), engine.begin() as conn:
        redemption.release(conn, held.id)
    assert state(engine, member) == (40, 0, 60)


def test_a_hold_given_twice_holds_once(engine, member) -> None:  # noqa: ANN001
    earn(engine, member, 100, "a")
    first = redemption.hold(engine, member, 60, source="partner:3", idem_key="order-9")
    again = redemption.hold(engine, member, 60, source="partner:3", idem_key="order-9")
    assert (again.id, again.new) == (first.id, False)
    assert state(engine, member) == (40, 60, 0)


def test_a_hold_of_more_than_is_available_is_refused_and_leaves_no_hold(engine, member) -> None:  # noqa: ANN001
    earn(engine, member, 10, "a")
    with pytest.raises(InsufficientPoints):
        redemption.hold(engine, member, 11, source="ussd", idem_key="s-1")
    with engine.connect() as conn:
        assert redemption.open_holds(conn, timedelta(0), now=datetime.now(UTC) + timedelta(days=1)) == []
    assert state(engine, member) == (10, 0, 0)


def test_a_hold_left_undecided_is_found_later(engine, member) -> None:  # noqa: ANN001
    earn(engine, member, 10, "a")
    held = redemption.hold(engine, member, 5, source="ussd", idem_key="s-1")
    with engine.connect() as conn:
        assert redemption.open_holds(conn, timedelta(minutes=5)) == []
        found = redemption.open_holds(conn, timedelta(minutes=5), now=datetime.now(UTC) + timedelta(minutes=6))
    assert [h.id for h in found] == [held.id]


def test_expiry_empties_the_lots_that_are_due_with_one_entry_each(engine, member) -> None:  # noqa: ANN001
    earn(engine, member, 40, "a", days=10)
    earn(engine, member, 30, "b", days=10)
    earn(engine, member, 20, "c", days=100)
    report = expiry.expire_due(engine, T0 + timedelta(days=11), batch_ids=1)
    assert report.as_dict() == {"lots": 2, "points": 70, "batches": 2}
    assert expiry.expire_due(engine, T0 + timedelta(days=11)).lots == 0
    with engine.connect() as conn:
        expired = conn.execute(select(LoyaltyEntry.points).where(LoyaltyEntry.kind == "expire")).scalars().all()
        b = ledger.balance(conn, member, now=T0)
    assert sorted(expired) == [-40, -30]
    assert (b.available, b.expired) == (20, 70)


def test_expiry_leaves_held_points_alone(engine, member) -> None:  # noqa: ANN001
    earn(engine, member, 40, "a", days=10)
    redemption.hold(engine, member, 25, source="ussd", idem_key="s-1")
    assert expiry.expire_due(engine, T0 + timedelta(days=11)).points == 15
    assert state(engine, member) == (0, 25, 0)


def test_the_balance_names_the_points_that_expire_soon(engine, member) -> None:  # noqa: ANN001
    earn(engine, member, 40, "a", days=10)
    earn(engine, member, 30, "b", days=200)
    with engine.connect() as conn:
        b = ledger.balance(conn, member, expiring_within=timedelta(days=30), now=T0)
    assert b.available == 70
    assert b.expiring == [(T0 + timedelta(days=10), 40)]


def test_reversing_an_earn_takes_its_points_back_and_lowers_what_was_earned(engine, member) -> None:  # noqa: ANN001
    [entry] = earn(engine, member, 40, "a")
    earn(engine, member, 10, "b")
    with engine.begin() as conn:
        ledger.reverse(conn, entry, actor="ana", reason="refunded purchase", source="person", idem_key="r-1")
        again = ledger.reverse(conn, entry, actor="ana", reason="refunded purchase", source="person", idem_key="r-1")
        b = ledger.balance(conn, member)
    assert again.new is False
    assert (b.available, b.earned) == (10, 10)


def test_an_entry_is_reversed_once(engine, member) -> None:  # noqa: ANN001
    [entry] = earn(engine, member, 40, "a")
    with engine.begin() as conn:
        ledger.reverse(conn, entry, actor="ana", reason="refunded", source="person", idem_key="r-1")
    with pytest.raises(LedgerError, match="reversed already"), engine.begin() as conn:
        ledger.reverse(conn, entry, actor="bo", reason="refunded", source="person", idem_key="r-2")


def test_reversing_a_debit_gives_the_points_back(engine, member) -> None:  # noqa: ANN001
    earn(engine, member, 40, "a")
    with engine.begin() as conn:
        taken = ledger.debit(conn, member, 15, kind="adjust", cause="person", source="person", idem_key="d-1")
        ledger.reverse(conn, taken.entry_id, actor="ana", reason="mistake", source="person", idem_key="r-1")
    assert state(engine, member)[0] == 40


def test_a_reversal_that_would_overdraw_is_refused(engine, member) -> None:  # noqa: ANN001
    [entry] = earn(engine, member, 40, "a")
    redemption.hold(engine, member, 30, source="ussd", idem_key="s-1")
    with pytest.raises(InsufficientPoints), engine.begin() as conn:
        ledger.reverse(conn, entry, actor="ana", reason="refunded", source="person", idem_key="r-1")
    assert state(engine, member) == (10, 30, 0)


def test_enrolling_again_changes_nothing(engine) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        club = programmes.create(conn, "club", "Club")
        assert members.enrol(conn, club.id, [1, 2, 3], "bulk") == 3
        assert members.enrol(conn, club.id, [2, 3, 4], "segment") == 1
        assert conn.execute(select(func.count()).select_from(LoyaltyBalance)).scalar() == 4


def test_a_programme_with_a_bad_field_is_refused_naming_it(engine) -> None:  # noqa: ANN001
    with pytest.raises(programmes.ProgrammeError, match="^currency:"), engine.begin() as conn:
        programmes.create(conn, "club", "Club", currency="dollars")
