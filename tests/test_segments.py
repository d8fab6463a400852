"""Segments: JSON trees of criteria compiled to one SQL query with bound values."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select
from sqlalchemy.dialects import postgresql, sqlite

from engage.engine import subscriber_fields
from engage.engine.segments.audience import count
from engage.engine.segments.criteria import CompileContext, SegmentError, compile_node, describe_kinds
from engage.engine.store.schema import OptOut, Subscriber
from engage.engine.subscribers import upsert

PEOPLE = [
    {"msisdn": "+998901000001", "first_name": "Aziz", "city": "Tashkent", "language": "uz", "balance": 100,
     "attributes": {"plan": "gold"}},
    {"msisdn": "+998901000002", "first_name": "Anna", "city": "Tashkent", "language": "ru", "balance": 5,
     "attributes": {"plan": "basic"}},
    {"msisdn": "+998901000003", "first_name": "Sam", "city": "Bukhara", "language": "en", "balance": 50,
     "attributes": {"plan": "gold"}},
    {"msisdn": "+998901000004", "first_name": "O'Brien", "city": None, "language": "en", "balance": None,
     "attributes": {}},
]


@pytest.fixture
def people(engine):
    upsert(engine, PEOPLE)
    return engine


def _count(engine, definition):
    with engine.connect() as conn:
        return count(conn, definition)["matching"]


def test_and_or_not_groups_nest(people):
    definition = {"and": [{"field": "city", "value": "Tashkent"},
                          {"or": [{"field": "balance", "op": "gt", "value": 50},
                                  {"not": {"field": "language", "value": "ru"}}]}]}
    assert _count(people, definition) == 1


def test_not_includes_subscribers_for_whom_the_criterion_is_unknown(people):
    assert _count(people, {"not": {"field": "city", "value": "Tashkent"}}) == 2


def test_in_and_empty_operators(people):
    assert _count(people, {"field": "city", "op": "in", "value": ["Tashkent", "Bukhara"]}) == 3
    assert _count(people, {"field": "city", "op": "empty"}) == 1


def test_custom_attribute_criterion(people):
    assert _count(people, {"kind": "attribute", "name": "plan", "value": "gold"}) == 2


def test_values_are_bound_never_pasted_into_sql(people):
    hostile = "x' OR '1'='1"
    assert _count(people, {"field": "first_name", "value": hostile}) == 0
    assert _count(people, {"field": "first_name", "op": "starts_with", "value": "O'"}) == 1
    with people.connect() as conn:
        assert len(conn.execute(select(Subscriber.id)).all()) == 4


HOSTILE = "x' OR '1'='1"
HOSTILE_CRITERIA = [
    {"field": "first_name", "op": "contains", "value": HOSTILE},
    {"field": "city", "op": "in", "value": [HOSTILE, "'); DROP TABLE subscribers; --"]},
    {"kind": "attribute", "name": "plan", "value": HOSTILE},
    {"kind": "has_tag", "tags": [HOSTILE]},
    {"kind": "loyalty_tier", "tiers": [HOSTILE]},
]


@pytest.mark.parametrize("criterion", HOSTILE_CRITERIA)
def test_hostile_values_never_reach_the_sql_text(criterion):
    condition = compile_node(criterion)
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        assert "1'='1" not in str(condition.compile(dialect=dialect))


def test_hostile_values_select_nobody_and_change_nothing(people):
    for criterion in HOSTILE_CRITERIA:
        assert _count(people, criterion) == 0
    with people.connect() as conn:
        assert len(conn.execute(select(Subscriber.id)).all()) == 4


def test_opted_out_subscribers_are_counted_apart(people):
    with people.begin() as conn:
        conn.execute(insert(OptOut.__table__).values(msisdn="+998901000001", channel="sms"))
        counted = count(conn, {"field": "city", "value": "Tashkent"})
    assert (counted["matching"], counted["opted_out"], counted["reachable"]) == (2, 1, 1)


@pytest.mark.parametrize(("definition", "where", "why"), [
    ({"and": [{"field": "city", "value": "x"}, {"field": "cty", "value": "x"}]}, "segment.and[1]",
     "unknown field 'cty'"),
    ({"and": [{"field": "city"}]}, "segment.and[0]", "city: 'value' is required"),
    ({"or": []}, "segment", "non-empty list"),
    ({"field": "balance", "op": "gt", "value": "lots"}, "segment", "balance: 'lots' is not a number"),
    ({"field": "city", "op": "resembles", "value": "x"}, "segment", "unknown operator 'resembles'"),
    ({"kind": "telepathy"}, "segment", "unknown criterion kind 'telepathy'"),
    ({"and": [{"kind": "all"}, {"or": [{"kind": "age", "value": "old"}]}]}, "segment.and[1].or[0]",
     "'value' must be a number"),
    ({"not": {"and": [{"kind": "all"}, {"kind": "all", "x": 1}]}}, "segment.not.and[1]", "unknown parameter 'x'"),
    ({"and": [{"kind": "all"}], "or": []}, "segment", "unknown parameter 'or' in a group"),
    ([{"kind": "all"}], "segment", "expected an object, got list"),
])
def test_a_bad_criterion_is_named_with_its_place_in_the_tree(definition, where, why):
    with pytest.raises(SegmentError) as err:
        compile_node(definition)
    assert err.value.path == where
    assert why in err.value.message


def test_every_kind_is_described_with_its_parameters():
    kinds = {k["kind"]: k for k in describe_kinds()}
    assert len(kinds) >= 20
    for kind in kinds.values():
        assert kind["description"] and isinstance(kind["params"], list)
    assert {p["name"] for p in kinds["usage"]["params"]} == {"usage", "days", "agg", "op", "value"}


def test_the_field_kind_describes_every_catalogue_field_with_its_operators():
    fields = {f["name"]: f for f in next(k for k in describe_kinds() if k["kind"] == "field")["fields"]}
    assert set(fields) == set(subscriber_fields.FIELDS)
    assert "between" in fields["balance"]["operators"] and "contains" not in fields["balance"]["operators"]
    assert fields["gender"]["choices"] == ["m", "f", "x"]


def test_without_a_context_relative_dates_count_from_the_current_time(people):
    recent = {"kind": "in_last_days", "field": "created_at", "days": 1}
    with people.connect() as conn:
        assert len(conn.execute(select(Subscriber.id).where(compile_node(recent))).all()) == 4
        later = CompileContext(now=datetime(2999, 1, 1, tzinfo=UTC))
        assert conn.execute(select(Subscriber.id).where(compile_node(recent, ctx=later))).all() == []
