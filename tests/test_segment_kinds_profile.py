"""Custom attributes, loyalty, everyone and a fixed sample, on both databases."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from engage.engine.segments.criteria import CompileContext, SegmentError, compile_node
from engage.engine.store.schema import Subscriber

NOW = CompileContext(now=datetime(2025, 1, 15, 12, 0, tzinfo=UTC))
PEOPLE = [  # name, attributes, loyalty tier, points
    ("ali", {"plan": "gold", "ref": "web_50%"}, "gold", 1500),
    ("bea", {"plan": "basic"}, "silver", 99),
    ("cem", {"plan": "gold_plus", "ref": ""}, "platinum", 0),
    ("dan", {}, None, None),
]


def who(engine, definition):
    with engine.connect() as conn:
        return sorted(conn.execute(select(Subscriber.first_name).where(compile_node(definition, ctx=NOW))).scalars())


@pytest.fixture
def people(engine):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [
            {"id": i, "msisdn": f"+99890100000{i}", "first_name": name, "attributes": attrs,
             "loyalty_tier": tier, "loyalty_points": points}
            for i, (name, attrs, tier, points) in enumerate(PEOPLE, start=1)])
    return engine


def test_attribute_equality_and_lists(people):
    assert who(people, {"kind": "attribute", "name": "plan", "value": "gold"}) == ["ali"]
    assert who(people, {"kind": "attribute", "name": "plan", "op": "in", "value": ["gold", "basic"]}) == ["ali",
                                                                                                         "bea"]


def test_attribute_negations_include_subscribers_without_it(people):
    assert who(people, {"kind": "attribute", "name": "plan", "op": "ne", "value": "gold"}) == ["bea", "cem", "dan"]
    assert who(people, {"kind": "attribute", "name": "plan", "op": "not_in", "value": ["gold"]}) == ["bea", "cem",
                                                                                                      "dan"]


def test_attribute_text_matching_is_literal(people):
    assert who(people, {"kind": "attribute", "name": "plan", "op": "starts_with", "value": "gold"}) == ["ali", "cem"]
    assert who(people, {"kind": "attribute", "name": "ref", "op": "contains", "value": "_50%"}) == ["ali"]
    assert who(people, {"kind": "attribute", "name": "ref", "op": "contains", "value": "_5%"}) == []


def test_attribute_empty_means_missing_or_blank(people):
    assert who(people, {"kind": "attribute", "name": "ref", "op": "empty"}) == ["bea", "cem", "dan"]
    assert who(people, {"kind": "attribute", "name": "ref", "op": "not_empty"}) == ["ali"]


def test_loyalty_tier_in_a_list(people):
    assert who(people, {"kind": "loyalty_tier", "tiers": ["gold", "platinum"]}) == ["ali", "cem"]


def test_loyalty_points_threshold(people):
    assert who(people, {"kind": "loyalty_points", "op": "ge", "value": 100}) == ["ali"]
    assert who(people, {"kind": "loyalty_points", "op": "between", "value": [50, 2000]}) == ["ali", "bea"]


def test_loyalty_points_below_a_threshold_counts_no_points_as_zero(people):
    assert who(people, {"kind": "loyalty_points", "op": "lt", "value": 100}) == ["bea", "cem", "dan"]


def test_all_selects_everyone(people):
    assert who(people, {"kind": "all"}) == ["ali", "bea", "cem", "dan"]


def test_sample_is_a_stable_share_that_changes_with_the_seed(engine):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [{"id": i, "msisdn": f"+9989{i:08d}"} for i in range(1, 2001)])

    def sampled(definition):
        with engine.connect() as conn:
            return set(conn.execute(select(Subscriber.id).where(compile_node(definition, ctx=NOW))).scalars())

    tenth = sampled({"kind": "sample", "percent": 10})
    assert 150 <= len(tenth) <= 250
    assert sampled({"kind": "sample", "percent": 10}) == tenth
    assert sampled({"kind": "sample", "percent": 10, "seed": 7}) != tenth
    assert tenth <= sampled({"kind": "sample", "percent": 50})
    assert len(sampled({"kind": "sample", "percent": 100})) == 2000
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).where(
            compile_node({"kind": "sample", "percent": 0}, ctx=NOW))).scalar() == 0


@pytest.mark.parametrize(("definition", "why"), [
    ({"kind": "attribute", "name": "plan; drop", "value": "x"}, "must be a plain identifier"),
    ({"kind": "attribute", "name": "plan", "op": "gt", "value": "x"}, "unknown operator 'gt' for attribute plan"),
    ({"kind": "attribute", "name": "plan", "value": ""}, "'value' must be non-empty text"),
    ({"kind": "loyalty_tier", "tiers": "gold"}, "'tiers' must be a non-empty list"),
    ({"kind": "loyalty_points", "value": 1.5}, "'value' must be a whole number"),
    ({"kind": "sample", "percent": 120}, "'percent' must be between 0 and 100"),
    ({"kind": "all", "percent": 10}, "unknown parameter 'percent' for kind 'all'"),
])
def test_a_bad_profile_criterion_is_an_error_saying_why(definition, why):
    with pytest.raises(SegmentError) as err:
        compile_node(definition, ctx=NOW)
    assert why in err.value.message
