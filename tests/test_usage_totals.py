"""Usage totals: per-window sums and counts as of a refresh, which usage criteria read and correct
with the events since. Whatever the moment asked about and whatever arrived after the refresh,
a criterion over the totals selects exactly whom the same criterion over raw events selects."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from engage.engine.segments.criteria import CompileContext, compile_node
from engage.engine.segments.kinds import usage as usage_kind
from engage.engine.store.schema import Subscriber, UsageEvent, UsageTotal
from engage.engine.usage import totals

AS_OF = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
SUBSCRIBERS = 60


def _base(engine, seed=7):
    rng = random.Random(seed)
    events = []
    for sid in range(1, SUBSCRIBERS + 1):
        for _ in range(rng.choice([0, 1, 3, 8])):
            events.append({"subscriber_id": sid, "kind": rng.choice(["call_out", "data"]),
                           "at": AS_OF - timedelta(hours=rng.randrange(0, 100 * 24)),
                           "amount": float(rng.randrange(0, 40))})
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [
            {"id": i, "msisdn": f"+99890{i:07d}", "attributes": {}} for i in range(1, SUBSCRIBERS + 1)])
        conn.execute(insert(UsageEvent.__table__), events)
    return engine


def _selected(engine, definition, now, *, with_totals):
    with engine.connect() as conn:
        reader = totals.Reader(conn) if with_totals else None
        where = compile_node(definition, ctx=CompileContext(now=now, usage=reader))
        return sorted(conn.execute(select(Subscriber.id).where(where)).scalars())


def _criterion(agg, op, value, days=30):
    return {"kind": "usage", "usage": "call_out", "days": days, "agg": agg, "op": op, "value": value}


CRITERIA = [_criterion("sum", "ge", 30), _criterion("sum", "lt", 25), _criterion("count", "eq", 0),
            _criterion("count", "ge", 2, days=7), _criterion("sum", "between", [10, 60], days=90),
            _criterion("sum", "between", [0, 20], days=60)]


@pytest.fixture
def base(engine):
    return _base(engine)


def test_a_refresh_stores_each_subscribers_sum_and_count_per_kind_and_window(base):
    refreshed = totals.refresh(base, AS_OF)
    with base.connect() as conn:
        raw = conn.execute(select(UsageEvent.subscriber_id, UsageEvent.amount).where(
            UsageEvent.kind == "call_out", UsageEvent.at >= AS_OF - timedelta(days=30))).all()
        stored = {r.subscriber_id: (r.total, r.events) for r in conn.execute(select(UsageTotal).where(
            UsageTotal.kind == "call_out", UsageTotal.days == 30))}
        assert totals.as_of(conn) == AS_OF
    expected: dict[int, list[float]] = {}
    for sid, amount in raw:
        expected.setdefault(sid, [0.0, 0])
        expected[sid][0] += amount
        expected[sid][1] += 1
    assert stored == {sid: (t, n) for sid, (t, n) in expected.items()}
    with base.connect() as conn:
        assert refreshed["rows"] == conn.execute(select(func.count()).select_from(UsageTotal)).scalar_one() > 0


@pytest.mark.parametrize("later", [timedelta(0), timedelta(minutes=5), timedelta(hours=30), timedelta(days=6),
                                   -timedelta(hours=3)])
def test_criteria_over_totals_select_what_raw_events_select_at_any_moment(base, later):
    totals.refresh(base, AS_OF)
    now = AS_OF + later
    for definition in CRITERIA:
        assert _selected(base, definition, now, with_totals=True) == _selected(
            base, definition, now, with_totals=False), definition


def test_events_after_the_refresh_count_for_new_and_known_subscribers(base):
    totals.refresh(base, AS_OF)
    with base.begin() as conn:
        conn.execute(insert(UsageEvent.__table__), [
            {"subscriber_id": sid, "kind": "call_out", "at": AS_OF + timedelta(hours=2), "amount": 35.0}
            for sid in (1, 2, 3, 50, 59)])
    now = AS_OF + timedelta(hours=3)
    for definition in CRITERIA:
        assert _selected(base, definition, now, with_totals=True) == _selected(
            base, definition, now, with_totals=False), definition


def test_late_events_added_to_the_totals_keep_criteria_exact(base):
    totals.refresh(base, AS_OF)
    late = [(4, "call_out", AS_OF - timedelta(days=2), 33.0), (5, "call_out", AS_OF - timedelta(days=45), 12.0)]
    with base.begin() as conn:
        conn.execute(insert(UsageEvent.__table__), [
            {"subscriber_id": s, "kind": k, "at": t, "amount": a} for s, k, t, a in late])
        totals.lock(conn)
        assert totals.add_late(conn, late) > 0
    for definition in CRITERIA:
        assert _selected(base, definition, AS_OF, with_totals=True) == _selected(
            base, definition, AS_OF, with_totals=False), definition


def test_totals_too_far_behind_are_ignored_in_favour_of_the_events(base, monkeypatch):
    totals.refresh(base, AS_OF)
    monkeypatch.setattr(usage_kind, "MAX_CORRECTIONS", 0)
    now = AS_OF + timedelta(days=3)
    for definition in CRITERIA:
        assert _selected(base, definition, now, with_totals=True) == _selected(
            base, definition, now, with_totals=False), definition


def test_without_a_refresh_criteria_read_the_events(base):
    for definition in CRITERIA:
        assert _selected(base, definition, AS_OF, with_totals=True) == _selected(
            base, definition, AS_OF, with_totals=False), definition


def test_a_second_refresh_replaces_the_first(base):
    totals.refresh(base, AS_OF)
    with base.begin() as conn:
        conn.execute(UsageEvent.__table__.delete())
    totals.refresh(base, AS_OF + timedelta(days=1))
    with base.connect() as conn:
        assert conn.execute(select(UsageTotal)).all() == []
        assert totals.as_of(conn) == AS_OF + timedelta(days=1)


def test_a_window_outside_the_standard_ones_is_not_read_from_totals(base):
    totals.refresh(base, AS_OF)
    definition = _criterion("sum", "ge", 30, days=45)
    assert _selected(base, definition, AS_OF, with_totals=True) == _selected(
        base, definition, AS_OF, with_totals=False)


def _sql(engine, definition, now):
    with engine.connect() as conn:
        where = compile_node(definition, ctx=CompileContext(now=now, usage=totals.Reader(conn)))
        return str(where.compile(engine))


def test_a_fresh_refresh_makes_a_standard_window_read_the_totals_not_aggregate_events(base):
    definition = _criterion("sum", "ge", 30)
    assert "usage_totals" not in _sql(base, definition, AS_OF)
    totals.refresh(base, AS_OF)
    sql = _sql(base, definition, AS_OF + timedelta(hours=1))
    assert "usage_totals" in sql and "GROUP BY" not in sql
