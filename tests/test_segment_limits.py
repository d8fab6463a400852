"""Segment definitions are bounded before anything is compiled or asked of the database: size in
bytes, depth, number of criteria, list lengths and estimated cost, each refused with a
SegmentError naming the limit and the criterion's path; and a count is bounded in time. On both
SQLite and PostgreSQL (the `engine` fixture)."""

from __future__ import annotations

import math
import time

import pytest
from sqlalchemy import func, insert, literal, select

from engage.engine.segments import audience, limits, store
from engage.engine.segments.audience import CountTooSlow
from engage.engine.segments.criteria import SegmentError, compile_node
from engage.engine.store.schema import Segment, Subscriber
from tests.audience_people import add_people

TASHKENT = {"field": "city", "op": "eq", "value": "Tashkent"}


def nots(n: int, inner: dict | None = None) -> dict:
    node = inner or TASHKENT
    for _ in range(n):
        node = {"not": node}
    return node


def ands(n: int, inner: dict | None = None) -> dict:
    node = inner or TASHKENT
    for _ in range(n):
        node = {"and": [node]}
    return node


def refusal(engine, definition) -> SegmentError:
    """The count's refusal, which must come before any real work (well within a second)."""
    started = time.perf_counter()
    with engine.connect() as conn, pytest.raises(SegmentError) as refused:
        audience.count(conn, definition)
    assert time.perf_counter() - started < 1.0
    return refused.value


def test_a_number_prefix_of_100000_prefixes_is_refused_naming_the_list_limit(engine):
    prefixes = [f"+1{n:06d}" for n in range(100_000)]
    error = refusal(engine, {"and": [TASHKENT, {"kind": "number_prefix", "prefixes": prefixes}]})
    assert error.path == "segment.and[1]"
    assert f"'prefixes' has 100000 items; at most {limits.MAX_LIST:,}" in error.message


def test_5000_attribute_criteria_in_one_and_are_refused_naming_the_criteria_limit(engine):
    criteria = [{"kind": "attribute", "name": "plan", "op": "eq", "value": f"p{n}"} for n in range(5000)]
    error = refusal(engine, {"and": criteria})
    assert error.path == "segment"
    assert f"at most {limits.MAX_CRITERIA} criteria and groups" in error.message


def test_an_in_list_of_a_million_items_is_refused_naming_the_list_limit(engine):
    error = refusal(engine, {"field": "city", "op": "in", "value": [f"c{n}" for n in range(1_000_000)]})
    assert error.path == "segment"
    assert f"'value' has 1000000 items; at most {limits.MAX_LIST:,}" in error.message


@pytest.mark.parametrize("criterion", [
    {"kind": "has_tag", "tags": [f"t{n}" for n in range(70_000)]},
    {"kind": "attribute", "name": "plan", "op": "in", "value": [f"p{n}" for n in range(70_000)]},
], ids=["has_tag", "attribute_in"])
def test_more_items_than_postgresql_can_bind_are_a_segment_error_not_a_database_error(engine, criterion):
    assert "items; at most" in refusal(engine, criterion).message


def test_lists_within_their_limit_but_too_many_altogether_are_refused_as_too_costly(engine):
    lists = [{"field": "city", "op": "in", "value": [f"c{n}" for n in range(limits.MAX_LIST)]}
             for _ in range(limits.MAX_COST // limits.MAX_LIST + 1)]
    error = refusal(engine, {"or": lists})
    assert error.path == "segment"
    assert "estimated cost" in error.message and f"at most {limits.MAX_COST:,}" in error.message


def test_195_nots_are_refused_naming_the_depth_limit_and_where_it_is_passed(engine):
    error = refusal(engine, nots(195))
    assert f"nested deeper than {limits.MAX_DEPTH} levels" in error.message
    assert error.path == "segment" + ".not" * limits.MAX_DEPTH


def test_groups_nested_900_deep_are_refused_naming_the_depth_limit(engine):
    error = refusal(engine, ands(900))
    assert f"nested deeper than {limits.MAX_DEPTH} levels" in error.message
    assert error.path.startswith("segment.and[0].and[0]")


def test_a_value_nested_900_deep_inside_a_criterion_is_refused(engine):
    value: list = ["Tashkent"]
    for _ in range(900):
        value = [value]
    error = refusal(engine, {"field": "city", "op": "in", "value": value})
    assert error.path == "segment"
    assert "'value' is nested too deeply" in error.message


def test_a_definition_larger_than_the_byte_limit_is_refused(engine):
    error = refusal(engine, {"field": "city", "op": "eq", "value": "x" * (limits.MAX_BYTES + 1)})
    assert error.path == "segment"
    assert f"at most {limits.MAX_BYTES:,} bytes" in error.message


@pytest.mark.parametrize("text", ["Tash\x00kent", "\ud800"], ids=["nul", "lone-surrogate"])
def test_a_text_no_column_holds_is_refused_naming_where_it_is(engine, text):
    error = refusal(engine, {"and": [TASHKENT, {"field": "city", "op": "eq", "value": text}]})
    assert error.path == "segment.and[1].value"


def test_a_definition_at_the_limits_counts(engine):
    add_people(engine)
    longest = [{"field": "city", "op": "in", "value": ["Tashkent"] + [f"c{n}" for n in range(limits.MAX_LIST - 1)]},
               {"kind": "number_prefix", "prefixes": ["+99890"] + [f"+1{n:03d}" for n in range(limits.MAX_LIST - 1)]}]
    deepest = ands(limits.MAX_DEPTH - 2, TASHKENT)
    filler = [{"field": "city", "op": "ne", "value": f"c{n}"} for n in range(limits.MAX_CRITERIA - 18)]  # 18: the
    # root, the deepest chain's 15 nodes and the two longest lists
    definition = {"and": [deepest, *longest, *filler]}
    with engine.connect() as conn:
        assert audience.count(conn, definition)["matching"] == 4


def test_an_over_deep_definition_is_not_saved(engine):
    with engine.begin() as conn, pytest.raises(SegmentError, match="nested deeper than"):
        store.create(conn, "deep", nots(195), actor="m")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Segment)).scalar_one() == 0


def test_an_over_deep_segment_saved_before_the_limits_is_a_segment_error_when_compiled(engine):
    with engine.begin() as conn:
        conn.execute(insert(Segment.__table__).values(id=1, name="old", definition=nots(195)))
    with engine.connect() as conn, pytest.raises(SegmentError, match="nested deeper than"):
        audience.condition(conn, {"kind": "in_segment", "segment_id": 1})


def test_an_included_segment_counts_towards_the_depth_of_the_one_including_it(engine):
    with engine.begin() as conn:
        inner = store.create(conn, "inner", ands(limits.MAX_DEPTH - 2), actor="m")
    with engine.begin() as conn, pytest.raises(SegmentError, match="nested deeper than") as refused:
        store.create(conn, "outer", ands(3, {"kind": "in_segment", "segment_id": inner}), actor="m")
    assert refused.value.path.startswith(f"segment.and[0].and[0].and[0].segment[{inner}]")


def test_compiling_without_a_database_is_bounded_too():
    with pytest.raises(SegmentError, match="nested deeper than"):
        compile_node(nots(195))


def many_people(engine, n: int = 50_000) -> None:
    """n subscribers numbered +99890xxxxxxx, written by one INSERT ... SELECT."""
    numbers = select(literal(1).label("n")).cte("numbers", recursive=True)
    numbers = numbers.union_all(select(numbers.c.n + 1).where(numbers.c.n < n))
    msisdn = literal("+99890") + func.substr(func.cast(10_000_000 + numbers.c.n, Subscriber.msisdn.type), 2, 7)
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__).from_select(
            ["msisdn", "city", "attributes"],
            select(msisdn, literal("Tashkent"), literal({}, Subscriber.__table__.c.attributes.type))))


SLOW = {"kind": "number_prefix", "prefixes": [f"+1{n:03d}" for n in range(limits.MAX_LIST)]}


def test_a_count_over_its_time_budget_is_stopped_with_a_clear_error(engine):
    many_people(engine)
    started = time.perf_counter()
    with engine.connect() as conn, pytest.raises(CountTooSlow) as refused:
        audience.count(conn, SLOW, timeout=0.05)
    assert time.perf_counter() - started < 2.0
    assert "the count took longer than 0.05 s; narrow the segment" in str(refused.value)


def test_a_connection_whose_count_was_stopped_counts_again_without_its_budget(engine):
    many_people(engine, 1000)
    with engine.connect() as conn:
        with pytest.raises(CountTooSlow):
            audience.count(conn, SLOW, timeout=0.000_001)
        assert audience.count(conn, {"kind": "all"}, timeout=math.inf)["matching"] == 1000
