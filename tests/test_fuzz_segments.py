"""Fuzz: generated segment definitions (every registered kind with values of every type, nested in
and/or/not, and plain JSON) counted on both databases. A definition is either counted or refused with
a SegmentError naming where; never another exception, and never a count that runs past its budget."""

from __future__ import annotations

import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engage.engine.segments import audience
from engage.engine.segments.criteria import describe_kinds
from engage.engine.segments.errors import SegmentError
from engage.engine.subscriber_fields import FIELDS
from engage.engine.users.scope import Scope
from tests.campaign_setup import add_subscribers

KINDS = describe_kinds()
OPERATORS = ["eq", "ne", "lt", "le", "gt", "ge", "between", "in", "not_in", "contains", "starts_with", "ends_with",
             "empty", "not_empty", "like", "regex", "bogus"]
TEXTS = st.text(max_size=12) | st.sampled_from(["\x00", "\ud800", "+99890", "Tashkent", "%", "_", "'", "2026-02-30",
                                                 "1e309", "9" * 30])
SCALARS = (st.none() | st.booleans() | st.integers(-(2**66), 2**66) | st.floats(allow_nan=True) | TEXTS)
ANY_VALUE = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                         | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


def _param_value(param: dict[str, Any]) -> st.SearchStrategy[Any]:
    typed = {"operator": st.sampled_from(OPERATORS), "integer": st.integers(-5, 4000),
             "number": st.floats(-10, 1e6, allow_nan=False), "boolean": st.booleans(),
             "string": TEXTS, "list[string]": st.lists(TEXTS, max_size=5),
             "field": st.sampled_from([*FIELDS, "msisdn", "nope", "__class__"])}.get(param["type"], ANY_VALUE)
    return typed | ANY_VALUE  # mostly well-typed, sometimes anything


@st.composite
def criterion(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(KINDS))
    node: dict[str, Any] = {"kind": kind["kind"]}
    for param in kind["params"]:
        if param["required"] or draw(st.booleans()):
            node[param["name"]] = draw(_param_value(param))
    if draw(st.integers(0, 9)) == 0:
        node[draw(st.text(max_size=5))] = draw(ANY_VALUE)  # a key no kind knows
    return node


DEFINITIONS = st.recursive(
    criterion() | ANY_VALUE,
    lambda inner: st.fixed_dictionaries({"and": st.lists(inner, max_size=4)})
    | st.fixed_dictionaries({"or": st.lists(inner, max_size=4)}) | st.fixed_dictionaries({"not": inner}),
    max_leaves=12)


@pytest.fixture
def populated(engine):
    add_subscribers(engine, 20)
    return engine


@pytest.mark.parametrize("masked", [False, True], ids=["numbers-shown", "numbers-masked"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(definition=DEFINITIONS)
def test_a_generated_definition_is_counted_or_refused_with_where(populated, masked: bool,
                                                                 definition: Any) -> None:
    scope = Scope(show_numbers=not masked)
    started = time.monotonic()
    try:
        with populated.connect() as conn:
            answer = audience.count(conn, definition, scope=scope, sample=3)
    except SegmentError as exc:
        assert exc.path.startswith("segment") and exc.message, repr(exc)
    else:
        assert 0 <= answer["reachable"] <= answer["matching"] <= 20
    assert time.monotonic() - started < 3
