"""Segments: JSON trees of criteria compiled to one SQL query with bound values."""

import pytest
from sqlalchemy import insert, select

from engage.engine.segments.audience import count
from engage.engine.segments.criteria import SegmentError, compile_node
from engage.engine.store.schema import OptOut, Subscriber
from engage.engine.subscribers_import import upsert

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


def test_opted_out_subscribers_are_counted_apart(people):
    with people.begin() as conn:
        conn.execute(insert(OptOut.__table__).values(msisdn="+998901000001", channel="sms"))
        assert count(conn, {"field": "city", "value": "Tashkent"}) == {"matching": 2, "opted_out": 1, "reachable": 1}


@pytest.mark.parametrize(("definition", "where", "why"), [
    ({"and": [{"field": "city"}, {"field": "cty", "value": "x"}]}, "segment.and[1]", "unknown field 'cty'"),
    ({"or": []}, "segment", "non-empty list"),
    ({"field": "balance", "op": "gt", "value": "lots"}, "segment", "needs a number"),
    ({"field": "city", "op": "resembles", "value": "x"}, "segment", "unknown operator 'resembles'"),
    ({"kind": "telepathy"}, "segment", "unknown criterion kind 'telepathy'"),
])
def test_a_bad_criterion_is_named_with_its_place_in_the_tree(definition, where, why):
    with pytest.raises(SegmentError) as err:
        compile_node(definition)
    assert err.value.path == where
    assert why in err.value.message
