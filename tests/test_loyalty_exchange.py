"""Exchange with other loyalty programmes, on both databases: our points out and theirs in at the
configured rates, the minimum and the daily limit per member, a key posting once, and the statement
per exchange partner."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from engage.engine.loyalty import exchange, ledger, members, programmes
from engage.engine.loyalty.exchange import ExchangeError
from engage.engine.loyalty.ledger import Credit
from engage.engine.store.schema import LoyaltyEntry, LoyaltyLot, Subscriber

NOON = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def air(engine):  # noqa: ANN001, ANN201
    """(the airline's programme exchanged with, a member of 5,000 points): 1 of our points gives 0.5
    miles, 1 mile gives 3 of ours; 100 points at least, 1,000 a day each way."""
    with engine.begin() as conn:
        sid = conn.execute(insert(Subscriber.__table__).values(msisdn="+998901234567", attributes={})
                           ).inserted_primary_key[0]
        club = programmes.create(conn, "club", "Club")
        members.enrol(conn, club.id, [sid], "api")
        member_id = members.find(conn, club.id, sid).id
        ledger.credit(conn, [Credit(member_id, 5000, NOON, "rule", "usage", "start")])
        partner = exchange.add(conn, club.id, "air", "Air Miles", rate_in="3", rate_out="0.5", min_points=100,
                               daily_limit=1000)
    return partner, member_id


def _available(engine, member_id: int) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return ledger.balance(conn, member_id).available


def _out(engine, air, points: int, key: str, at: datetime = NOON) -> exchange.Transfer:  # noqa: ANN001
    partner, member_id = air
    with engine.begin() as conn:
        return exchange.exchange_out(conn, partner, member_id, points, key, now=at)


def _in(engine, air, theirs: int, key: str, at: datetime = NOON) -> exchange.Transfer:  # noqa: ANN001
    partner, member_id = air
    with engine.begin() as conn:
        return exchange.exchange_in(conn, partner, member_id, theirs, key, now=at)


def test_points_out_are_debited_and_converted_at_the_outgoing_rate_rounded_down(engine, air) -> None:  # noqa: ANN001
    done = _out(engine, air, 301, "x-1")
    assert (done.points, done.their_points) == (301, 150)
    assert _available(engine, air[1]) == 4699


def test_points_in_are_credited_at_the_incoming_rate_in_a_lot_that_expires(engine, air) -> None:  # noqa: ANN001
    done = _in(engine, air, 100, "x-1")
    assert (done.points, done.their_points) == (300, 100)
    assert _available(engine, air[1]) == 5300
    with engine.connect() as conn:
        kind, expires_at = conn.execute(select(LoyaltyEntry.kind, LoyaltyLot.expires_at).join(
            LoyaltyLot, LoyaltyLot.entry_id == LoyaltyEntry.id).where(LoyaltyEntry.id == LoyaltyLot.entry_id)
            .order_by(LoyaltyEntry.id.desc())).first()
    assert kind == "exchange_in" and expires_at is not None


def test_an_exchange_under_the_minimum_is_refused(engine, air) -> None:  # noqa: ANN001
    with pytest.raises(ExchangeError) as refused:
        _out(engine, air, 99, "x-1")
    assert refused.value.field == "points"
    with pytest.raises(ExchangeError):
        _in(engine, air, 33, "x-2")  # 99 of ours
    assert _available(engine, air[1]) == 5000


def test_the_daily_limit_counts_the_days_exchanges_of_the_member(engine, air) -> None:  # noqa: ANN001
    _out(engine, air, 600, "x-1", NOON - timedelta(hours=11))
    with pytest.raises(ExchangeError) as refused:
        _out(engine, air, 401, "x-2")
    assert "400 left today" in str(refused.value)
    _out(engine, air, 400, "x-3")
    assert _available(engine, air[1]) == 4000


def test_the_daily_limit_starts_again_the_next_day(engine, air) -> None:  # noqa: ANN001
    _out(engine, air, 1000, "x-1")
    _out(engine, air, 1000, "x-2", NOON + timedelta(hours=12))
    assert _available(engine, air[1]) == 3000


def test_each_direction_has_its_own_daily_limit(engine, air) -> None:  # noqa: ANN001
    _out(engine, air, 1000, "x-1")
    _in(engine, air, 300, "x-2")  # 900 of ours
    with pytest.raises(ExchangeError):
        _in(engine, air, 34, "x-3")  # 102 more: over 1,000 in
    assert _available(engine, air[1]) == 4900


def test_the_same_key_exchanges_once_and_answers_with_the_first(engine, air) -> None:  # noqa: ANN001
    first = _out(engine, air, 200, "x-1")
    again = _out(engine, air, 200, "x-1")
    assert (again.id, again.new, first.new) == (first.id, False, True)
    assert _available(engine, air[1]) == 4800


def test_points_out_never_overdraw(engine, air) -> None:  # noqa: ANN001
    partner, member_id = air
    with engine.begin() as conn:
        ledger.debit(conn, member_id, 4900, kind="adjust", cause="person", source="person", idem_key="fix",
                     actor="t", reason="t")
    with pytest.raises(ExchangeError) as refused:
        _out(engine, air, 101, "x-1")
    assert refused.value.status == 409
    assert _available(engine, member_id) == 100


def test_the_statement_sums_each_direction_within_the_period(engine, air) -> None:  # noqa: ANN001
    _out(engine, air, 200, "x-1")
    _out(engine, air, 300, "x-2", NOON + timedelta(days=1))
    _in(engine, air, 50, "x-3")
    _out(engine, air, 100, "x-4", NOON + timedelta(days=40))
    with engine.connect() as conn:
        made = exchange.statement(conn, air[0].id, datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))
    assert made["out"] == {"exchanges": 2, "points": 500, "their_points": 250}
    assert made["in"] == {"exchanges": 1, "points": 150, "their_points": 50}
    assert exchange.statement_csv(made).splitlines()[1:] == [
        "air,2027-03-01T00:00:00+00:00,2027-04-01T00:00:00+00:00,in,1,150,50",
        "air,2027-03-01T00:00:00+00:00,2027-04-01T00:00:00+00:00,out,2,500,250"]


def test_rates_and_limits_are_checked_when_an_exchange_partner_is_added(engine, air) -> None:  # noqa: ANN001
    partner, _ = air
    with engine.begin() as conn:
        for field, kwargs in (("rate_in", {"rate_in": "0"}), ("rate_out", {"rate_out": "x"}),
                              ("daily_limit", {"daily_limit": 50})):
            with pytest.raises(ExchangeError) as refused:
                exchange.add(conn, partner.programme_id, "bank", "Bank", **{"rate_in": "1", "rate_out": "1",
                                                                             "min_points": 100, **kwargs})
            assert refused.value.field == field
