"""Relative-date kinds: windows computed from the context's fixed `now`, on both databases."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert, select

from engage.engine.segments.criteria import CompileContext, SegmentError, compile_node
from engage.engine.store.schema import Subscriber

NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def _people(engine, rows):
    with engine.begin() as conn:
        for i, (name, values) in enumerate(rows.items(), start=1):
            conn.execute(insert(Subscriber.__table__).values(id=i, msisdn=f"+99890100{i:04d}", first_name=name,
                                                             **values))


def who(engine, definition, now=NOW):
    with engine.connect() as conn:
        return sorted(conn.execute(select(Subscriber.first_name).where(
            compile_node(definition, ctx=CompileContext(now=now)))).scalars())


@pytest.fixture
def activity(engine):
    _people(engine, {
        "hour_ago": {"last_activity_at": datetime(2025, 1, 15, 11, tzinfo=UTC), "activation_date": date(2025, 1, 15)},
        "ten_days": {"last_activity_at": datetime(2025, 1, 5, 13, tzinfo=UTC), "activation_date": date(2025, 1, 5)},
        "just_over_30": {"last_activity_at": datetime(2024, 12, 16, 11, 59, tzinfo=UTC),
                         "activation_date": date(2024, 12, 15)},
        "never": {},
    })
    return engine


def test_in_last_days_selects_a_datetime_within_the_window(activity):
    assert who(activity, {"kind": "in_last_days", "field": "last_activity_at", "days": 30}) == ["hour_ago",
                                                                                                "ten_days"]


def test_in_last_days_on_a_date_field_counts_whole_days_back_from_today(activity):
    assert who(activity, {"kind": "in_last_days", "field": "activation_date", "days": 10}) == ["hour_ago",
                                                                                               "ten_days"]


def test_in_last_days_uses_the_context_now_so_a_later_now_moves_the_window(activity):
    later = datetime(2025, 2, 3, 12, 0, tzinfo=UTC)
    assert who(activity, {"kind": "in_last_days", "field": "last_activity_at", "days": 30}, later) == ["hour_ago",
                                                                                                       "ten_days"]
    assert who(activity, {"kind": "in_last_days", "field": "last_activity_at", "days": 20}, later) == ["hour_ago"]


def test_more_than_days_ago_leaves_out_never_unless_asked(activity):
    definition = {"kind": "more_than_days_ago", "field": "last_activity_at", "days": 30}
    assert who(activity, definition) == ["just_over_30"]
    assert who(activity, {**definition, "include_never": True}) == ["just_over_30", "never"]


def test_a_now_in_another_time_zone_means_the_same_moment(activity):
    from datetime import timedelta, timezone

    tashkent = NOW.astimezone(timezone(timedelta(hours=5)))
    definition = {"kind": "in_last_days", "field": "last_activity_at", "days": 30}
    assert who(activity, definition, tashkent) == who(activity, definition)


@pytest.fixture
def birthdays(engine):
    _people(engine, {
        "dec_28": {"birth_date": date(1990, 12, 28)},
        "dec_31": {"birth_date": date(1985, 12, 31)},
        "jan_02": {"birth_date": date(2001, 1, 2)},
        "jan_05": {"birth_date": date(2001, 1, 5)},
        "feb_29": {"birth_date": date(2000, 2, 29)},
        "mar_01": {"birth_date": date(1999, 3, 1)},
        "no_date": {},
    })
    return engine


def test_birthday_within_wraps_across_the_new_year(birthdays):
    at = datetime(2024, 12, 28, 9, tzinfo=UTC)
    assert who(birthdays, {"kind": "birthday_within", "days": 5}, at) == ["dec_28", "dec_31", "jan_02"]


def test_birthday_within_zero_days_is_today_only(birthdays):
    assert who(birthdays, {"kind": "birthday_within", "days": 0}, datetime(2030, 1, 5, tzinfo=UTC)) == ["jan_05"]


def test_people_born_on_29_february_are_greeted_on_28_february_in_common_years(birthdays):
    assert who(birthdays, {"kind": "birthday_within", "days": 0}, datetime(2025, 2, 28, tzinfo=UTC)) == ["feb_29"]
    assert who(birthdays, {"kind": "birthday_within", "days": 0}, datetime(2024, 2, 28, tzinfo=UTC)) == []
    assert who(birthdays, {"kind": "birthday_within", "days": 1}, datetime(2024, 2, 28, tzinfo=UTC)) == ["feb_29"]


def test_a_year_long_birthday_window_is_everyone_with_a_birth_date(birthdays):
    assert len(who(birthdays, {"kind": "birthday_within", "days": 366})) == 6


@pytest.fixture
def ages(engine):
    _people(engine, {
        "turns_18_today": {"birth_date": date(2007, 1, 15)},
        "turns_18_tomorrow": {"birth_date": date(2007, 1, 16)},
        "aged_25": {"birth_date": date(1999, 6, 1)},
        "aged_26": {"birth_date": date(1998, 6, 1)},
        "leapling": {"birth_date": date(2004, 2, 29)},
        "unknown": {},
    })
    return engine


def test_age_counts_whole_years_up_to_today(ages):
    assert who(ages, {"kind": "age", "op": "ge", "value": 18}) == ["aged_25", "aged_26", "leapling",
                                                                  "turns_18_today"]
    assert who(ages, {"kind": "age", "op": "lt", "value": 18}) == ["turns_18_tomorrow"]


def test_age_between_includes_both_ends(ages):
    assert who(ages, {"kind": "age", "op": "between", "value": [18, 25]}) == ["aged_25", "leapling",
                                                                             "turns_18_today"]


def test_a_leapling_turns_a_year_older_on_28_february_in_a_common_year(ages):
    assert who(ages, {"kind": "age", "op": "eq", "value": 21}, datetime(2025, 2, 27, tzinfo=UTC)) == []
    assert who(ages, {"kind": "age", "op": "eq", "value": 21}, datetime(2025, 2, 28, tzinfo=UTC)) == ["leapling"]


def test_tenure_in_days_and_months(activity):
    assert who(activity, {"kind": "tenure", "op": "ge", "value": 10}) == ["just_over_30", "ten_days"]
    assert who(activity, {"kind": "tenure", "unit": "months", "op": "ge", "value": 1}) == ["just_over_30"]
    assert who(activity, {"kind": "tenure", "unit": "months", "op": "eq", "value": 0}) == ["hour_ago", "ten_days"]
    assert who(activity, {"kind": "tenure", "op": "ne", "value": 0}) == ["just_over_30", "ten_days"]


def test_tenure_of_a_month_end_activation_completes_on_each_later_month_end(engine):
    _people(engine, {"jan_31": {"activation_date": date(2025, 1, 31)}})
    definition = {"kind": "tenure", "unit": "months", "op": "ge", "value": 1}
    assert who(engine, definition, datetime(2025, 2, 27, tzinfo=UTC)) == []
    assert who(engine, definition, datetime(2025, 2, 28, tzinfo=UTC)) == ["jan_31"]


@pytest.mark.parametrize(("definition", "why"), [
    ({"kind": "in_last_days", "field": "last_activity_at", "days": -1}, "'days' must be between 1 and"),
    ({"kind": "in_last_days", "field": "last_activity_at", "days": "30"}, "'days' must be a whole number"),
    ({"kind": "in_last_days", "field": "city", "days": 3}, "'field' must be a date field"),
    ({"kind": "more_than_days_ago", "field": "last_recharge_at"}, "'days' is required"),
    ({"kind": "more_than_days_ago", "field": "last_recharge_at", "days": 3, "include_never": "yes"},
     "'include_never' must be true or false"),
    ({"kind": "birthday_within", "days": 400}, "'days' must be between 0 and 366"),
    ({"kind": "age", "op": "between", "value": [30, 20]}, "needs low <= high"),
    ({"kind": "age", "op": "ge", "value": -3}, "'value' must be at least 0"),
    ({"kind": "tenure", "unit": "weeks", "value": 3}, "'unit' must be one of days, months"),
    ({"kind": "tenure", "value": 2.5}, "'value' must be a whole number"),
])
def test_a_bad_relative_date_is_an_error_saying_why(definition, why):
    with pytest.raises(SegmentError) as err:
        compile_node({"and": [definition]}, ctx=CompileContext(now=NOW))
    assert err.value.path == "segment.and[0]"
    assert why in err.value.message


def test_a_naive_now_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        CompileContext(now=datetime(2025, 1, 15))
