"""Opening balances: the loyalty_points and loyalty_tier subscribers were imported with become, once,
an opening entry in a programme's ledger and a level; the ledger's own figures are never credited
again; `engage loyalty open-balances` runs it and the run is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from engage.engine.loyalty import ledger, levels, members, programmes
from engage.engine.loyalty.ledger import Credit
from engage.engine.loyalty.opening_balances import open_balances
from engage.engine.store.schema import (
    AuditEntry,
    LoyaltyBalance,
    LoyaltyEntry,
    LoyaltyLot,
    LoyaltyMember,
    Subscriber,
)

NOW = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)
LEVELS = {"levels": [{"name": "blue", "min": 0}, {"name": "silver", "min": 1000}, {"name": "gold", "min": 5000}]}


@pytest.fixture
def club(engine):  # noqa: ANN001, ANN201
    """A programme with levels, points living 365 days, and no members yet."""
    with engine.begin() as conn:
        club = programmes.create(conn, "club", "Club", points_valid_days=365)
        levels.set_levels(conn, club.id, LEVELS)
    return club


def imported(engine, sid: int, points: int | None, tier: str | None = None) -> None:  # noqa: ANN001
    """A subscriber as a CSV import left them, before loyalty existed."""
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__).values(id=sid, msisdn=f"+99890100000{sid}", attributes={},
                                                         loyalty_points=points, loyalty_tier=tier))


def opened(engine, club, **kwargs):  # noqa: ANN001, ANN201
    return open_balances(engine, club, actor="a@x", now=NOW, **kwargs).as_dict()


def ledger_of(engine, sid: int) -> tuple[int, list[tuple[str, int, str]], str | None]:  # noqa: ANN001
    """(available, [(kind, points, source)], level) of the subscriber's membership of club."""
    with engine.connect() as conn:
        member_id, level = conn.execute(select(LoyaltyMember.id, LoyaltyMember.level).where(
            LoyaltyMember.subscriber_id == sid)).one()
        available = conn.execute(select(LoyaltyBalance.available).where(
            LoyaltyBalance.member_id == member_id)).scalar_one()
        entries = [tuple(r) for r in conn.execute(
            select(LoyaltyEntry.kind, LoyaltyEntry.points, LoyaltyEntry.source)
            .where(LoyaltyEntry.member_id == member_id).order_by(LoyaltyEntry.id))]
    return available, entries, level


def test_imported_points_become_a_balance_of_one_opening_entry(engine, club) -> None:  # noqa: ANN001
    imported(engine, 1, 750)
    done = opened(engine, club)
    assert (done["enrolled"], done["credited"], done["points"]) == (1, 1, 750)
    assert ledger_of(engine, 1)[:2] == (750, [("adjust", 750, "opening")])
    with engine.connect() as conn:
        entry = conn.execute(select(LoyaltyEntry)).one()
        lot = conn.execute(select(LoyaltyLot)).one()
        enrolled_via = conn.execute(select(LoyaltyMember.enrolled_via)).scalar_one()
    assert (entry.cause, entry.idem_key, entry.actor, entry.reason) == (
        "system", "1", "a@x", "opening balance from the imported loyalty_points")
    assert lot.expires_at.replace(tzinfo=UTC) == NOW + timedelta(days=365)
    assert enrolled_via == "migration"


def test_the_profile_then_mirrors_the_ledger(engine, club) -> None:  # noqa: ANN001
    imported(engine, 1, 750, "Silver")
    opened(engine, club)
    with engine.connect() as conn:
        assert tuple(conn.execute(select(Subscriber.loyalty_points, Subscriber.loyalty_tier)).one()) == (750, "silver")


def test_a_second_run_changes_nothing(engine, club) -> None:  # noqa: ANN001
    imported(engine, 1, 750, "gold")
    imported(engine, 2, None, "platinum")
    opened(engine, club)
    before = ledger_of(engine, 1)
    again = opened(engine, club)
    assert (again["enrolled"], again["credited"], again["points"], again["tiers_set"]) == (0, 0, 0, 0)
    assert ledger_of(engine, 1) == before


def test_a_tier_naming_a_level_sets_the_members_level(engine, club) -> None:  # noqa: ANN001
    imported(engine, 1, 100, " Gold ")
    done = opened(engine, club)
    assert done["tiers_set"] == 1 and ledger_of(engine, 1)[2] == "gold"


def test_a_tier_alone_enrols_and_sets_the_level(engine, club) -> None:  # noqa: ANN001
    imported(engine, 1, 0, "silver")
    done = opened(engine, club)
    assert (done["enrolled"], done["credited"], done["tiers_set"]) == (1, 0, 1)
    assert ledger_of(engine, 1) == (0, [], "silver")


def test_an_unknown_tier_is_reported_by_name_and_the_points_still_credited(engine, club) -> None:  # noqa: ANN001
    imported(engine, 1, 300, "Platinum")
    imported(engine, 2, 200, "Platinum")
    done = opened(engine, club)
    assert done["tiers_unknown"] == {"Platinum": 2} and done["tiers_set"] == 0
    assert done["points"] == 500 and ledger_of(engine, 1)[2] == "blue"


def test_a_member_keeps_their_entries_and_gets_the_opening_credit_once(engine, club) -> None:  # noqa: ANN001
    imported(engine, 1, None)
    with engine.begin() as conn:
        members.enrol(conn, club.id, [1], "keyword")
        member_id = conn.execute(select(LoyaltyMember.id)).scalar_one()
        ledger.credit(conn, [Credit(member_id, 20, NOW, "rule", "usage", "u1")])
        # the old programme's export imported after the member joined
        conn.execute(update(Subscriber).values(loyalty_points=500))
    first, second = opened(engine, club), opened(engine, club)
    assert (first["enrolled"], first["credited"], second["credited"]) == (0, 1, 0)
    assert ledger_of(engine, 1)[:2] == (520, [("earn", 20, "usage"), ("adjust", 500, "opening")])


def test_points_the_ledger_itself_wrote_into_the_profile_are_not_credited(engine, club) -> None:  # noqa: ANN001
    imported(engine, 1, None)
    with engine.begin() as conn:
        members.enrol(conn, club.id, [1], "keyword")
        member_id = conn.execute(select(LoyaltyMember.id)).scalar_one()
        ledger.credit(conn, [Credit(member_id, 20, NOW, "rule", "usage", "u1")])  # loyalty_points is now 20
    done = opened(engine, club)
    assert (done["credited"], done["skipped"]["ledger_already"]) == (0, 1)
    assert ledger_of(engine, 1)[0] == 20


def test_subscribers_are_opened_a_batch_at_a_time(engine, club) -> None:  # noqa: ANN001
    for sid in (1, 2, 3):
        imported(engine, sid, 10 * sid)
    imported(engine, 4, None)
    done = opened(engine, club, batch=2)
    assert (done["enrolled"], done["credited"], done["points"], done["batches"]) == (3, 3, 60, 2)


def test_the_run_is_audited_once_with_what_it_did(engine, club) -> None:  # noqa: ANN001
    imported(engine, 1, 750, "Platinum")
    opened(engine, club, batch=1)
    with engine.connect() as conn:
        [row] = conn.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.details)
                             .where(AuditEntry.action.like("loyalty.%"))).all()
    assert (row.actor, row.action) == ("a@x", "loyalty.open_balances")
    assert (row.details["points"], row.details["tiers_unknown"]) == (750, {"Platinum": 1})


def test_the_command_opens_the_balances_and_prints_what_it_did(engage_cli, engine, club) -> None:  # noqa: ANN001
    imported(engine, 1, 750, "gold")
    code, [printed], _ = engage_cli("loyalty", "open-balances", "--programme", "club", "--actor", "a@x")
    assert code == 0
    assert (printed["programme"], printed["enrolled"], printed["points"], printed["tiers_set"]) == ("club", 1, 750, 1)
    with engine.connect() as conn:
        assert conn.execute(select(AuditEntry.actor).where(AuditEntry.action == "loyalty.open_balances")) \
            .scalar_one() == "a@x"


def test_the_command_names_a_programme_that_does_not_exist(engage_cli, club) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit, match="--programme: no loyalty programme 'nope'"):
        engage_cli("loyalty", "open-balances", "--programme", "nope")


def test_imported_points_become_the_opening_balance_as_the_subscriber_joins(engine, club) -> None:  # noqa: ANN001
    imported(engine, 1, 700)
    with engine.begin() as conn:
        members.enrol(conn, club.id, [1], "keyword")
    assert ledger_of(engine, 1)[:2] == (700, [("adjust", 700, "opening")])


def test_a_member_who_joined_with_imported_points_is_not_credited_again_by_the_run(engine, club) -> None:  # noqa: ANN001
    imported(engine, 1, 700)
    with engine.begin() as conn:
        members.enrol(conn, club.id, [1], "ussd")
    assert opened(engine, club)["credited"] == 0
    assert ledger_of(engine, 1)[0] == 700


def test_earning_after_joining_keeps_the_imported_points(engine, club) -> None:  # noqa: ANN001
    imported(engine, 1, 700)
    with engine.begin() as conn:
        members.enrol(conn, club.id, [1], "keyword")
        member = conn.execute(select(LoyaltyMember.id)).scalar_one()
        ledger.credit(conn, [Credit(member, 50, NOW, "rule", "usage", "a")])
        assert conn.execute(select(Subscriber.loyalty_points).where(Subscriber.id == 1)).scalar_one() == 750


def test_joining_a_second_programme_opens_nothing_there(engine, club) -> None:  # noqa: ANN001
    imported(engine, 1, 700)
    with engine.begin() as conn:
        other = programmes.create(conn, "biz", "Business")
        members.enrol(conn, other.id, [1], "keyword")
        member = conn.execute(select(LoyaltyMember.id).where(LoyaltyMember.programme_id == other.id)).scalar_one()
        assert ledger.balance(conn, member).available == 0
