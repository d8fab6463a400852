"""Earning rules and scoring: usage records become points by the rule version in force when they
happened, with the remainder carried, multipliers by level, caps, and nothing scored twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from engage.engine.loyalty import ledger, members, programmes, rules, scoring
from engage.engine.loyalty.scoring import Record
from engage.engine.segments import store as segment_store
from engage.engine.store.schema import LoyaltyEntry, LoyaltyMember, Subscriber

T0 = datetime(2027, 1, 5, 9, tzinfo=UTC)
CALLS = {"kind": "call_out", "every": 100, "points": 10}


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


@pytest.fixture
def club(engine):  # noqa: ANN001, ANN201
    """A programme with two members (+998900000001 gold, ...02) and a subscriber who is not one (...03)."""
    with engine.begin() as conn:
        conn.execute(insert(Subscriber), [{"msisdn": f"+99890000000{i}"} for i in (1, 2, 3)])
        ids = dict(conn.execute(select(Subscriber.msisdn, Subscriber.id)).all())
        club = programmes.create(conn, "club", "Club", points_valid_days=365)
        members.enrol(conn, club.id, [ids["+998900000001"], ids["+998900000002"]], "api")
        conn.execute(update(LoyaltyMember).where(LoyaltyMember.subscriber_id == ids["+998900000001"])
                     .values(level="gold"))
    return club


def member_id(engine, number: str) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(LoyaltyMember.id).join(Subscriber, Subscriber.id == LoyaltyMember.subscriber_id)
                            .where(Subscriber.msisdn == number)).scalar_one()


def available(engine, number: str) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return ledger.balance(conn, member_id(engine, number)).available


def add_rule(engine, club, definition, *, code: str = "calls", since: datetime = T0 - timedelta(days=30)):  # noqa: ANN001, ANN201
    with engine.begin() as conn:
        return rules.create(conn, club.id, code, code, definition, actor="ana", valid_from=since)


def calls(*items: tuple[str, float, float]) -> list[Record]:
    """(ref, hours after T0, minutes) of +998900000002's outgoing calls."""
    return [Record(ref, "+998900000002", "call_out", at(h), m) for ref, h, m in items]


def test_250_minutes_give_20_points_and_the_next_50_complete_the_third_ten(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, CALLS)
    scoring.score(engine, club, "cdr", calls(("a", 0, 250)))
    assert available(engine, "+998900000002") == 20
    scoring.score(engine, club, "cdr", calls(("b", 1, 50)))
    assert available(engine, "+998900000002") == 30


def test_a_replayed_batch_scores_nothing(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, CALLS)
    batch = calls(("a", 0, 250), ("b", 1, 120))
    first = scoring.score(engine, club, "cdr", batch)
    again = scoring.score(engine, club, "cdr", batch)
    assert (first.scored, first.points) == (2, 30)
    assert (again.duplicates, again.points, again.entries) == (2, 0, 0)
    assert available(engine, "+998900000002") == 30


def test_the_same_ref_from_another_feed_is_another_record(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, CALLS)
    scoring.score(engine, club, "cdr", calls(("a", 0, 100)))
    scoring.score(engine, club, "cdr-roaming", calls(("a", 0, 100)))
    assert available(engine, "+998900000002") == 20


def test_an_event_is_scored_by_the_version_in_force_when_it_happened(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, CALLS)
    with engine.begin() as conn:
        rules.change(conn, club.id, "calls", {**CALLS, "points": 30}, actor="ana", valid_from=at(10))
    scoring.score(engine, club, "cdr", calls(("late-arriving", 5, 100), ("after", 11, 100)))
    assert available(engine, "+998900000002") == 10 + 30
    with engine.connect() as conn:
        causes = sorted(conn.execute(select(LoyaltyEntry.cause_id).where(LoyaltyEntry.kind == "earn")).scalars())
    assert causes == ["calls@v1", "calls@v2"]


def test_a_version_cannot_start_before_the_one_in_force(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, CALLS, since=T0)
    with pytest.raises(rules.EarningRuleError, match="^valid_from:"), engine.begin() as conn:
        rules.change(conn, club.id, "calls", CALLS, actor="ana", valid_from=T0 - timedelta(days=1))


def test_a_rule_switched_off_scores_nothing_from_its_moment(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, CALLS)
    with engine.begin() as conn:
        rules.change(conn, club.id, "calls", {**CALLS, "enabled": False}, actor="ana", valid_from=at(10))
    scoring.score(engine, club, "cdr", calls(("a", 5, 100), ("b", 11, 100)))
    assert available(engine, "+998900000002") == 10


def test_the_level_multiplies_the_points(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, {**CALLS, "multipliers": {"gold": 2}})
    scoring.score(engine, club, "cdr", [Record("g", "+998900000001", "call_out", T0, 100),
                                        Record("s", "+998900000002", "call_out", T0, 100)])
    assert (available(engine, "+998900000001"), available(engine, "+998900000002")) == (20, 10)


def saved_segment(engine, name: str, prefixes: list[str]) -> int:  # noqa: ANN001
    with engine.begin() as conn:
        return segment_store.create(conn, name, {"kind": "number_prefix", "prefixes": prefixes}, actor="ana")


def test_a_saved_segment_multiplies_the_points_of_whom_it_selects(engine, club) -> None:  # noqa: ANN001
    seg = saved_segment(engine, "second", ["+998900000002"])
    add_rule(engine, club, {**CALLS, "segment_multipliers": {str(seg): 3}})
    scoring.score(engine, club, "cdr", [Record("g", "+998900000001", "call_out", T0, 100),
                                        Record("s", "+998900000002", "call_out", T0, 100)])
    assert (available(engine, "+998900000001"), available(engine, "+998900000002")) == (10, 30)


def test_the_level_and_the_highest_segment_factor_multiply_together(engine, club) -> None:  # noqa: ANN001
    both = saved_segment(engine, "both", ["+99890000000"])
    first = saved_segment(engine, "first", ["+998900000001"])
    add_rule(engine, club, {**CALLS, "multipliers": {"gold": 2}, "segment_multipliers": {str(both): 1.5,
                                                                                         str(first): 3}})
    scoring.score(engine, club, "cdr", [Record("g", "+998900000001", "call_out", T0, 100),
                                        Record("s", "+998900000002", "call_out", T0, 100)])
    assert (available(engine, "+998900000001"), available(engine, "+998900000002")) == (60, 15)


def test_a_rule_naming_a_segment_that_does_not_exist_is_refused(engine, club) -> None:  # noqa: ANN001
    with pytest.raises(rules.EarningRuleError) as refused:
        add_rule(engine, club, {**CALLS, "segment_multipliers": {"999": 2}})
    assert refused.value.field == "segment_multipliers" and "999" in str(refused.value)


def test_a_segment_deleted_after_the_rule_multiplies_nobody(engine, club) -> None:  # noqa: ANN001
    seg = saved_segment(engine, "second", ["+998900000002"])
    add_rule(engine, club, {**CALLS, "segment_multipliers": {str(seg): 3}})
    with engine.begin() as conn:
        segment_store.remove(conn, seg, actor="ana", branch=None)
    scoring.score(engine, club, "cdr", calls(("a", 0, 100)))
    assert available(engine, "+998900000002") == 10


def test_the_day_cap_holds_across_batches_and_a_new_day_starts_afresh(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, {**CALLS, "cap_day": 25})
    scoring.score(engine, club, "cdr", calls(("a", 0, 200)))
    scoring.score(engine, club, "cdr", calls(("b", 1, 200)))
    assert available(engine, "+998900000002") == 25
    scoring.score(engine, club, "cdr", calls(("c", 24, 100)))
    assert available(engine, "+998900000002") == 35


def test_the_month_cap_sums_the_days(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, {**CALLS, "cap_month": 45})
    scoring.score(engine, club, "cdr", calls(("a", 0, 300), ("b", 24, 300)))
    assert available(engine, "+998900000002") == 45


def test_only_events_inside_the_rules_window_earn(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, {**CALLS, "from": "2027-01-06", "until": "2027-01-06"})
    scoring.score(engine, club, "cdr", calls(("before", 0, 100), ("in", 24, 100), ("after", 48, 100)))
    assert available(engine, "+998900000002") == 10


def test_a_number_that_is_no_active_member_scores_nothing(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, CALLS)
    suspended = member_id(engine, "+998900000002")
    with engine.begin() as conn:
        members.set_status(conn, suspended, "suspended")
    report = scoring.score(engine, club, "cdr", [Record("x", "+998900000003", "call_out", T0, 500),
                                                 Record("y", "+998900000002", "call_out", T0, 500)])
    assert (report.not_members, report.points) == (2, 0)


def test_points_live_as_long_as_the_rule_says(engine, club) -> None:  # noqa: ANN001
    add_rule(engine, club, {**CALLS, "expires_days": 90})
    scoring.score(engine, club, "cdr", calls(("a", 0, 100)))
    with engine.connect() as conn:
        b = ledger.balance(conn, member_id(engine, "+998900000002"), expiring_within=timedelta(days=91), now=T0)
    assert b.expiring == [(T0 + timedelta(days=90), 10)]


@pytest.mark.parametrize(("definition", "field"), [
    ({"kind": "calls", "every": 100, "points": 10}, "kind"),
    ({"kind": "call_out", "every": 0, "points": 10}, "every"),
    ({"kind": "call_out", "every": 100, "points": 2.5}, "points"),
    ({"kind": "call_out", "every": 100, "points": 10, "multipliers": {"gold": -1}}, "multipliers"),
    ({"kind": "call_out", "every": 100, "points": 10, "from": "2027-02-30"}, "from"),
    ({"kind": "call_out", "every": 100, "points": 10, "from": "2027-02-01", "until": "2027-01-01"}, "until"),
    ({"kind": "call_out", "every": 100, "points": 10, "per": "day"}, "per"),
    ({"kind": "call_out", "every": 100, "points": 10, "segment_multipliers": {"vip": 2}}, "segment_multipliers"),
    ({"kind": "call_out", "every": 100, "points": 10, "segment_multipliers": {"3": 0}}, "segment_multipliers"),
    ({"on": "reply", "points": 10, "segment_multipliers": {"3": 2}}, "segment_multipliers"),
])
def test_a_bad_rule_is_refused_naming_its_field(definition, field) -> None:  # noqa: ANN001
    with pytest.raises(rules.EarningRuleError) as refused:
        rules.parse(definition)
    assert refused.value.field == field


@pytest.mark.parametrize(("raw", "field"), [
    ({"ref": "", "msisdn": "+998900000001", "kind": "call_out", "at": "2027-01-05T09:00:00Z", "amount": 1}, "ref"),
    ({"ref": "a", "msisdn": "0900000001", "kind": "call_out", "at": "2027-01-05T09:00:00Z", "amount": 1}, "msisdn"),
    ({"ref": "a", "msisdn": "+998900000001", "kind": "calls", "at": "2027-01-05T09:00:00Z", "amount": 1}, "kind"),
    ({"ref": "a", "msisdn": "+998900000001", "kind": "call_out", "at": "yesterday", "amount": 1}, "at"),
    ({"ref": "a", "msisdn": "+998900000001", "kind": "call_out", "at": "2027-01-05T09:00:00Z", "amount": -1}, "amount"),
])
def test_a_bad_usage_record_is_refused_naming_its_field_and_place(raw, field) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match=f"^record 7: {field}:"):
        scoring.record_from(raw, "record 7")


def test_the_tester_shows_what_each_event_gives() -> None:
    tried = scoring.trial(CALLS, [(T0, 250), (at(1), 50)])
    assert [(t["points"], t["carried"]) for t in tried] == [(20, 50.0), (10, 0.0)]


def test_without_carry_each_event_counts_alone() -> None:
    tried = scoring.trial({**CALLS, "carry": False}, [(T0, 250), (at(1), 50)])
    assert [t["points"] for t in tried] == [20, 0]
