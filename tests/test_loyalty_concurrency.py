"""Many transactions at once against the same points, on PostgreSQL (where they really run at once):
200 holds against a balance that covers 100 never overdraw it, one key posted by 50 threads holds once,
and expiry running while members redeem leaves every balance what its entries and lots add up to.
The threads are released together by a barrier; nothing sleeps to wait."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from engage.engine.loyalty import expiry, ledger, members, programmes, redemption
from engage.engine.loyalty.ledger import Credit, InsufficientPoints
from engage.engine.store.database import make_engine
from engage.engine.store.schema import Subscriber
from engage.engine.store.schema_loyalty import LoyaltyBalance, LoyaltyEntry, LoyaltyHold, LoyaltyHoldLot, LoyaltyLot

postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def wide(engine, database_url) -> Iterator[Engine]:  # noqa: ANN001
    """An engine with connections for 40 transactions at once; the other threads wait for one."""
    eng = make_engine(database_url, pool_size=20)
    yield eng
    eng.dispose()


def club(engine: Engine, subscribers: list[int], points: int, *, days: int = 365) -> list[int]:
    """Members of a new programme, each credited `points` in one lot that lives `days`."""
    with engine.begin() as conn:
        pid = programmes.create(conn, "club", "Club").id
        members.enrol(conn, pid, subscribers, "api")
        ids = [members.find(conn, pid, s).id for s in subscribers]
        ledger.credit(conn, [Credit(m, points, T0, "rule", "usage", f"seed-{m}", expires_at=T0 + timedelta(days=days))
                             for m in ids])
    return ids


def at_once(n: int, call: Callable[[int], Any]) -> list[Any]:
    """call(0) .. call(n - 1) in n threads released together; what each returned or raised."""
    gate = threading.Barrier(n)
    outcomes: list[Any] = [None] * n

    def one(i: int) -> None:
        gate.wait()
        try:
            outcomes[i] = call(i)
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def ledger_of(engine: Engine, member: int) -> tuple[int, int, int]:
    """(available, held, expired); asserts that the entries and the lots add up to them."""
    with engine.connect() as conn:
        b = conn.execute(select(LoyaltyBalance).where(LoyaltyBalance.member_id == member)).one()
        points, held = conn.execute(select(func.coalesce(func.sum(LoyaltyEntry.points), 0),
                                           func.coalesce(func.sum(LoyaltyEntry.held), 0))
                                    .where(LoyaltyEntry.member_id == member)).one()
        lots = conn.execute(select(func.coalesce(func.sum(LoyaltyLot.remaining), 0))
                            .where(LoyaltyLot.member_id == member)).scalar_one()
        set_aside = conn.execute(select(func.coalesce(func.sum(LoyaltyHoldLot.points), 0))
                                 .join(LoyaltyHold, LoyaltyHold.id == LoyaltyHoldLot.hold_id)
                                 .where(LoyaltyHold.member_id == member, LoyaltyHold.state == "held")).scalar_one()
    assert points == b.available == lots, "entries, balance and lots disagree"
    assert held == b.held == set_aside, "held entries, balance and the holds' lots disagree"
    return b.available, b.held, b.expired


@postgresql_only
def test_200_holds_at_once_against_a_balance_that_covers_100_never_overdraw_it(engine, wide) -> None:  # noqa: ANN001
    [member] = club(engine, [501], 1_000)
    outcomes = at_once(200, lambda i: redemption.hold(wide, member, 10, source="ussd", idem_key=f"s-{i}"))
    held = [o for o in outcomes if isinstance(o, redemption.Hold)]
    refused = [o for o in outcomes if isinstance(o, InsufficientPoints)]
    assert (len(held), len(refused)) == (100, 100), {type(o).__name__ for o in outcomes}
    assert len({h.id for h in held}) == 100
    assert ledger_of(engine, member) == (0, 1_000, 0)


@postgresql_only
def test_one_hold_key_posted_by_50_threads_at_once_holds_once(engine, wide) -> None:  # noqa: ANN001
    [member] = club(engine, [501], 1_000)
    outcomes = at_once(50, lambda i: redemption.hold(wide, member, 60, source="partner:3", idem_key="order-9"))
    assert all(isinstance(o, redemption.Hold) for o in outcomes), {type(o).__name__ for o in outcomes}
    assert len({h.id for h in outcomes}) == 1
    assert sum(h.new for h in outcomes) == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(LoyaltyHold)).scalar_one() == 1
    assert ledger_of(engine, member) == (940, 60, 0)


@postgresql_only
def test_expiry_while_members_redeem_leaves_every_balance_adding_up(engine, wide) -> None:  # noqa: ANN001
    with engine.begin() as conn:  # the first programme's members: their profile follows the balance
        conn.execute(insert(Subscriber.__table__), [{"msisdn": f"+99890000{i:04d}", "attributes": {}}
                                                    for i in range(20)])
        subscribers = list(conn.execute(select(Subscriber.id).order_by(Subscriber.id)).scalars())
    ids = club(engine, subscribers, 100, days=10)  # due at T0 + 10 days
    with engine.begin() as conn:  # and points that are not due, so that holds can still succeed
        ledger.credit(conn, [Credit(m, 30, T0, "rule", "usage", f"later-{m}", expires_at=T0 + timedelta(days=300))
                             for m in ids])

    def work(i: int) -> Any:
        if i == 0:
            return expiry.expire_due(wide, T0 + timedelta(days=11), batch_ids=3, workers=2)
        return redemption.hold(wide, ids[i % len(ids)], 25, source="ussd", idem_key=f"s-{i}")

    outcomes = at_once(41, work)
    report, holds = outcomes[0], outcomes[1:]
    assert isinstance(report, expiry.ExpiryReport), report
    assert all(isinstance(o, redemption.Hold | InsufficientPoints) for o in holds), holds
    assert report.lots == 20  # every seeded lot was due; a hold may have taken part of it first
    for member in ids:
        available, held, expired = ledger_of(engine, member)
        assert available + held + expired == 130 and available <= 30
    with engine.connect() as conn:
        mirrored = dict(conn.execute(select(Subscriber.id, Subscriber.loyalty_points)).all())
        balances = dict(conn.execute(select(LoyaltyBalance.member_id, LoyaltyBalance.available)).all())
    assert [mirrored[s] for s in subscribers] == [balances[m] for m in ids]
