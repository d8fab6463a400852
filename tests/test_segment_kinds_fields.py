"""Kind "field": every profile field of the catalogue, with every operator its type allows,
selects exactly the subscribers that the operator's plain meaning says, on both databases."""

import operator
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from engage.engine import subscriber_fields as sf
from engage.engine.segments.criteria import CompileContext, SegmentError, compile_node
from engage.engine.segments.kinds.fields import OPERATORS
from engage.engine.store.schema import Subscriber

NOW = CompileContext(now=datetime(2025, 1, 15, 12, 0, tzinfo=UTC))

# four stored values per type (None = empty), and the raw values a definition would carry for them
STORED = {
    sf.TEXT: ["Alpha", "b_%c", "Alphab", None],
    sf.CHOICE: None,  # per field, below
    sf.NUMBER: [Decimal("10.50"), Decimal("5.00"), Decimal("100.00"), None],
    sf.INTEGER: [10, 5, 100, None],
    sf.DATE: [date(2000, 1, 1), date(1990, 6, 15), date(2010, 12, 31), None],
    sf.DATETIME: [datetime(2025, 1, 1, 8, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC),
                  datetime(2025, 1, 10, 23, 59, tzinfo=UTC), None],
    sf.BOOL: [True, False, None, True],
}
SPECIAL = {
    "msisdn": ["+998901000001", "+998901000002", "+9989010000011", "+998901000003"],
    "gender": ["M", "F", "X", None],
    "contract_type": ["prepaid", "postpaid", "hybrid", None],
}
RAW = {  # how a definition writes the first two stored values of each type
    sf.NUMBER: [10.5, 5], sf.INTEGER: [10, 5], sf.DATE: ["2000-01-01", "1990-06-15"],
    sf.DATETIME: ["2025-01-01T08:00:00Z", "2024-06-01T00:00:00+00:00"], sf.BOOL: [True, False],
}
RAW_SPECIAL = {"gender": ["m", "f"], "msisdn": ["+998901000001", "+998901000002"]}
_ORDER = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge}


def _stored(field):
    return SPECIAL.get(field.name) or STORED[field.type]


def _raw(field):
    if field.name in RAW_SPECIAL:
        return RAW_SPECIAL[field.name]
    return RAW.get(field.type) or _stored(field)[:2]


def _expected(op, stored, probe, probes):
    """What the operator means, in Python, for one stored value."""
    if op == "empty":
        return stored is None or stored == ""
    if op == "not_empty":
        return not (stored is None or stored == "")
    if op in ("ne", "not_in"):
        return stored is None or (stored != probe if op == "ne" else stored not in probes)
    if stored is None:
        return False
    if op == "eq":
        return stored == probe
    if op == "in":
        return stored in probes
    if op == "between":
        return min(probes) <= stored <= max(probes)
    if op == "contains":
        return probe in stored
    if op == "starts_with":
        return stored.startswith(probe)
    return _ORDER[op](stored, probe)


def _definition(field, op):
    first, second = _raw(field)
    value = {"in": [first, second], "not_in": [first, second], "between": sorted([first, second], key=str)}
    if op == "between" and field.type in (sf.NUMBER, sf.INTEGER):
        value["between"] = sorted([first, second])
    if op in ("contains", "starts_with"):
        value[op] = first[:3] if field.name != "msisdn" else first[:6]
    definition = {"field": field.name, "op": op}
    if op not in ("empty", "not_empty"):
        definition["value"] = value.get(op, first)
    return definition


@pytest.mark.parametrize("name", sorted(sf.FIELDS))
def test_each_operator_of_each_field_selects_what_it_means(engine, name):
    field = sf.FIELDS[name]
    stored = _stored(field)
    with engine.begin() as conn:
        for i, value in enumerate(stored, start=1):
            row = {"id": i, "msisdn": f"+99890100000{i}", "attributes": {}}
            row[name] = value
            conn.execute(insert(Subscriber.__table__).values(**row))
    for op in OPERATORS[field.type]:
        definition = _definition(field, op)
        parsed = field.parse(definition["value"]) if not isinstance(definition.get("value"), list | type(None)) \
            else None
        probes = [field.parse(v) for v in definition["value"]] if isinstance(definition.get("value"), list) else []
        want = sorted(i for i, s in enumerate(stored, start=1) if _expected(op, s, parsed, probes))
        with engine.connect() as conn:
            got = sorted(conn.execute(select(Subscriber.id).where(compile_node(definition, ctx=NOW))).scalars())
        assert got == want, (definition, stored)


def test_choice_values_are_parsed_as_an_import_would_store_them(engine):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [{"id": 1, "msisdn": "+998901000001", "gender": "F"},
                                                      {"id": 2, "msisdn": "+998901000002", "gender": "M"}])
        ids = conn.execute(select(Subscriber.id).where(
            compile_node({"field": "gender", "value": " f "}, ctx=NOW))).scalars().all()
    assert ids == [1]


def test_contains_treats_percent_and_underscore_as_plain_characters(engine):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [
            {"id": 1, "msisdn": "+998901000001", "tariff_plan": "Promo_50%"},
            {"id": 2, "msisdn": "+998901000002", "tariff_plan": "PromoX500"},
        ])
        ids = conn.execute(select(Subscriber.id).where(
            compile_node({"field": "tariff_plan", "op": "contains", "value": "_50%"}, ctx=NOW))).scalars().all()
    assert ids == [1]


def test_text_matching_is_case_sensitive_on_both_databases(engine):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [{"id": 1, "msisdn": "+998901000001", "city": "Tashkent"}])
        ids = conn.execute(select(Subscriber.id).where(
            compile_node({"field": "city", "op": "starts_with", "value": "tash"}, ctx=NOW))).scalars().all()
    assert ids == []


@pytest.mark.parametrize(("definition", "why"), [
    ({"field": "data_mb_month", "op": "gt", "value": 1.5}, "data_mb_month: 1.5 is not a whole number"),
    ({"field": "birth_date", "op": "lt", "value": "31/12/1990"}, "birth_date: '31/12/1990' is not a date"),
    ({"field": "gender", "value": "q"}, "gender: 'q' is not one of the allowed values"),
    ({"field": "roaming", "value": "maybe"}, "roaming: 'maybe' is not yes/no"),
    ({"field": "gender", "op": "contains", "value": "f"}, "unknown operator 'contains' for choice field gender"),
    ({"field": "city", "op": "in", "value": []}, "city: 'value' must be a non-empty list"),
    ({"field": "city", "op": "eq", "value": ["a"]}, "city: needs a single value, not a list"),
    ({"field": "balance", "op": "between", "value": [9, 1]}, "balance: 'between' needs low <= high"),
    ({"field": "balance", "op": "between", "value": 9}, "balance: 'between' needs 'value': [low, high]"),
    ({"field": "city", "valu": "x"}, "unknown parameter 'valu' for kind 'field'"),
])
def test_a_bad_field_value_is_an_error_naming_the_field(definition, why):
    with pytest.raises(SegmentError) as err:
        compile_node({"or": [{"kind": "all"}, definition]}, ctx=NOW)
    assert err.value.path == "segment.or[1]"
    assert why in err.value.message
