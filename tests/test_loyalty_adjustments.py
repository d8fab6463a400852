"""Adjustments of a member's points by a person, with a reason: within the programme's threshold
posted at once, above it waiting for a second person who approves (posting once) or rejects it
(nothing moves); a debit never overdraws; a user of a branch adjusts only that branch's members;
every request and decision in the audit log."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, update

from engage.engine.loyalty import adjustments, ledger, members, programmes
from engage.engine.loyalty.adjustments import AdjustmentError, AdjustmentNotFound, Overdraw
from engage.engine.loyalty.ledger import Credit, InsufficientPoints
from engage.engine.store.schema import (
    AuditEntry,
    LoyaltyAdjustment,
    LoyaltyEntry,
    LoyaltyLot,
    LoyaltyProgramme,
    Subscriber,
)


@pytest.fixture
def club(engine) -> dict[str, int]:  # noqa: ANN001
    """A programme with two members, one of branch north with 300 points, one of branch south."""
    with engine.begin() as conn:
        north, south = (conn.execute(insert(Subscriber.__table__).values(
            msisdn=number, branch=branch, attributes={})).inserted_primary_key[0]
            for number, branch in (("+998901000001", "north"), ("+998901000002", "south")))
        made = programmes.create(conn, "club", "Club", points_valid_days=365)
        members.enrol(conn, made.id, [north, south], "api")
        ids = {"programme": made.id, "north": members.find(conn, made.id, north).id,
               "south": members.find(conn, made.id, south).id}
        ledger.credit(conn, [Credit(ids["north"], 300, datetime.now(UTC), "rule", "usage", "u1")])
    return ids


def ask(engine, club: dict[str, int], points: int, *, who: str = "sam@example.com", member: str = "north",  # noqa: ANN001
        branch: str | None = None) -> adjustments.Adjustment:
    with engine.begin() as conn:
        return adjustments.request(conn, club["programme"], club[member], points, "goodwill after an outage",
                                   actor=who, branch=branch)


def available(engine, member: int) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return ledger.balance(conn, member).available


def test_a_small_adjustment_is_posted_at_once_by_its_asker(engine, club) -> None:  # noqa: ANN001
    made = ask(engine, club, 50)
    assert (made.state, made.decided_by) == ("posted", "sam@example.com")
    assert available(engine, club["north"]) == 350


def test_a_posted_credit_is_an_adjust_entry_with_its_reason_key_and_expiry(engine, club) -> None:  # noqa: ANN001
    made = ask(engine, club, 50)
    with engine.connect() as conn:
        entry = conn.execute(select(LoyaltyEntry).where(LoyaltyEntry.id == made.entry_id)).one()
        lot_expiry = conn.execute(select(LoyaltyLot.expires_at).where(
            LoyaltyLot.entry_id == made.entry_id)).scalar_one()
    assert (entry.kind, entry.cause, entry.source, entry.idem_key) == ("adjust", "person", "adjustment",
                                                                      f"adjustment:{made.id}")
    assert (entry.actor, entry.reason, entry.points) == ("sam@example.com", "goodwill after an outage", 50)
    assert lot_expiry is not None


def test_a_small_debit_takes_points_at_once(engine, club) -> None:  # noqa: ANN001
    made = ask(engine, club, -100)
    assert made.state == "posted" and available(engine, club["north"]) == 200


def test_an_adjustment_above_the_threshold_waits_and_moves_nothing(engine, club) -> None:  # noqa: ANN001
    made = ask(engine, club, 1001)
    assert (made.state, made.entry_id, made.decided_by) == ("pending", None, None)
    assert available(engine, club["north"]) == 300


def test_the_threshold_is_the_programmes_setting(engine, club) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(update(LoyaltyProgramme).values(settings={"adjust_approval_above": 10}))
    assert ask(engine, club, 11).state == "pending"
    assert ask(engine, club, -10).state == "posted"


def test_a_threshold_setting_that_is_not_a_number_is_named(engine, club) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(update(LoyaltyProgramme).values(settings={"adjust_approval_above": "lots"}))
    with pytest.raises(AdjustmentError, match="adjust_approval_above: .*'lots'"):
        ask(engine, club, 5)


def test_a_second_person_approves_and_the_points_are_posted(engine, club) -> None:  # noqa: ANN001
    made = ask(engine, club, 5000)
    with engine.begin() as conn:
        done = adjustments.approve(conn, made.id, actor="ann@example.com")
    assert (done.state, done.decided_by) == ("posted", "ann@example.com") and done.entry_id
    assert available(engine, club["north"]) == 5300


def test_the_asker_may_not_approve_their_own_adjustment(engine, club) -> None:  # noqa: ANN001
    made = ask(engine, club, 5000)
    with pytest.raises(AdjustmentError, match="a second person approves"), engine.begin() as conn:
        adjustments.approve(conn, made.id, actor="sam@example.com")
    assert available(engine, club["north"]) == 300


def test_approving_twice_posts_once(engine, club) -> None:  # noqa: ANN001
    made = ask(engine, club, 5000)
    with engine.begin() as conn:
        adjustments.approve(conn, made.id, actor="ann@example.com")
    with pytest.raises(AdjustmentError, match="posted already"), engine.begin() as conn:
        adjustments.approve(conn, made.id, actor="bob@example.com")
    assert available(engine, club["north"]) == 5300
    with engine.connect() as conn:
        assert len(conn.execute(select(LoyaltyEntry.id).where(LoyaltyEntry.source == "adjustment")).all()) == 1


def test_a_rejection_keeps_the_balance_and_needs_a_reason(engine, club) -> None:  # noqa: ANN001
    made = ask(engine, club, 5000)
    with pytest.raises(AdjustmentError, match="reason: say why"), engine.begin() as conn:
        adjustments.reject(conn, made.id, actor="ann@example.com", reason=" ")
    with engine.begin() as conn:
        done = adjustments.reject(conn, made.id, actor="ann@example.com", reason="no outage that day")
    assert (done.state, done.decision_reason, done.entry_id) == ("rejected", "no outage that day", None)
    assert available(engine, club["north"]) == 300


def test_a_rejected_adjustment_cannot_be_approved_afterwards(engine, club) -> None:  # noqa: ANN001
    made = ask(engine, club, 5000)
    with engine.begin() as conn:
        adjustments.reject(conn, made.id, actor="ann@example.com", reason="no")
    with pytest.raises(AdjustmentError, match="rejected already"), engine.begin() as conn:
        adjustments.approve(conn, made.id, actor="bob@example.com")


def test_a_debit_beyond_the_balance_is_refused_and_leaves_nothing(engine, club) -> None:  # noqa: ANN001
    with pytest.raises(InsufficientPoints, match="has 300 points available, fewer than the 400"):
        ask(engine, club, -400)
    with engine.connect() as conn:
        assert conn.execute(select(LoyaltyAdjustment.id)).all() == []
    assert available(engine, club["north"]) == 300


def test_an_approved_debit_beyond_the_balance_is_refused_and_keeps_waiting(engine, club) -> None:  # noqa: ANN001
    made = ask(engine, club, -2000)
    with pytest.raises(Overdraw, match="still waits"), engine.begin() as conn:
        adjustments.approve(conn, made.id, actor="ann@example.com")
    with engine.connect() as conn:
        assert adjustments.get(conn, made.id).state == "pending"
    assert available(engine, club["north"]) == 300


def test_points_must_be_a_whole_number_other_than_zero(engine, club) -> None:  # noqa: ANN001
    for wrong in (0, 1.5, True):
        with pytest.raises(AdjustmentError, match="^points: "):
            ask(engine, club, wrong)


def test_a_reason_is_required_and_at_most_200_characters(engine, club) -> None:  # noqa: ANN001
    for wrong, said in (("", "say why"), ("x" * 201, "201 characters")):
        with pytest.raises(AdjustmentError, match=f"reason: .*{said}"), engine.begin() as conn:
            adjustments.request(conn, club["programme"], club["north"], 5, wrong, actor="sam")


def test_a_user_of_a_branch_cannot_adjust_another_branchs_member(engine, club) -> None:  # noqa: ANN001
    with pytest.raises(AdjustmentNotFound):
        ask(engine, club, 50, member="south", branch="north")
    assert ask(engine, club, 50, member="north", branch="north").state == "posted"


def test_a_user_of_a_branch_cannot_decide_another_branchs_adjustment(engine, club) -> None:  # noqa: ANN001
    made = ask(engine, club, 5000, member="south")
    with pytest.raises(AdjustmentNotFound), engine.begin() as conn:
        adjustments.approve(conn, made.id, actor="ann@example.com", branch="north")
    with engine.connect() as conn:
        assert adjustments.pending(conn, club["programme"], branch="north") == []
        assert [a.id for a in adjustments.pending(conn, club["programme"], branch="south")] == [made.id]


def test_a_member_of_another_programme_is_not_found(engine, club) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        other = programmes.create(conn, "other", "Other")
    with pytest.raises(AdjustmentNotFound), engine.begin() as conn:
        adjustments.request(conn, other.id, club["north"], 5, "why", actor="sam")


def test_pending_decided_and_a_members_list_are_read_with_the_number(engine, club) -> None:  # noqa: ANN001
    small, big = ask(engine, club, 5), ask(engine, club, 5000)
    with engine.connect() as conn:
        assert [a.id for a in adjustments.pending(conn, club["programme"])] == [big.id]
        assert [a.id for a in adjustments.decided(conn, club["programme"])] == [small.id]
        assert [(a.id, a.msisdn) for a in adjustments.of_member(conn, club["north"])] == [
            (big.id, "+998901000001"), (small.id, "+998901000001")]
        assert adjustments.waiting(conn, club["programme"]) == 1


def test_every_request_and_decision_is_audited(engine, club) -> None:  # noqa: ANN001
    approved, rejected = ask(engine, club, 5000), ask(engine, club, 6000)
    with engine.begin() as conn:
        adjustments.approve(conn, approved.id, actor="ann@example.com")
        adjustments.reject(conn, rejected.id, actor="ann@example.com", reason="twice")
    with engine.connect() as conn:
        rows = conn.execute(select(AuditEntry.actor, AuditEntry.action, AuditEntry.object_id).where(
            AuditEntry.object_type == "loyalty_adjustment").order_by(AuditEntry.id)).all()
    assert [tuple(r) for r in rows] == [
        ("sam@example.com", "loyalty.adjustment.request", str(approved.id)),
        ("sam@example.com", "loyalty.adjustment.request", str(rejected.id)),
        ("ann@example.com", "loyalty.adjustment.approve", str(approved.id)),
        ("ann@example.com", "loyalty.adjustment.reject", str(rejected.id))]


def test_two_approvers_at_the_same_moment_post_once(engine, club) -> None:  # noqa: ANN001
    made = ask(engine, club, 5000)
    outcomes: list[str] = []

    def approve(who: str) -> None:
        try:
            with engine.begin() as conn:
                adjustments.approve(conn, made.id, actor=who)
            outcomes.append("posted")
        except AdjustmentError:
            outcomes.append("refused")
    threads = [threading.Thread(target=approve, args=(f"approver{n}@example.com",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["posted", "refused", "refused", "refused"]
    assert available(engine, club["north"]) == 5300
