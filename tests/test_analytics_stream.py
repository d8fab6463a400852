"""Reading the event stream after a watermark: every event is folded once, in id order, even when a
transaction that took a lower id commits after one that took a higher (PostgreSQL), and whatever a
crash or a restart interrupts."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from sqlalchemy import BigInteger, Column, Engine, MetaData, Table, delete, func, insert, select

from engage.engine.analytics import consumers, stream
from engage.engine.events import record_batch, record_one
from engage.engine.store.schema import Event

postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

folded = Table("test_folded", MetaData(), Column("event_id", BigInteger, primary_key=True))
T0 = 1_900_000_000.0  # the tests' clock, seconds


@pytest.fixture
def recorder(engine: Engine) -> Iterator[str]:
    """A consumer that writes each event's id into a table whose key refuses a second fold of it."""
    folded.create(engine)

    def fold(conn, events) -> None:  # noqa: ANN001
        conn.execute(insert(folded), [{"event_id": e.id} for e in events])

    consumers.register("recorder", fold)
    yield "recorder"
    consumers.unregister("recorder")


def run(engine: Engine, name: str, now: float, **options) -> dict:  # noqa: ANN003
    return consumers.run_once(engine, now=now, only=[name], **options)["consumers"][name]


def folded_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(folded.c.event_id).order_by(folded.c.event_id)).scalars())


def all_ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(Event.id).order_by(Event.id)).scalars())


def add_events(engine: Engine, n: int, kind: str = "probe") -> None:
    with engine.begin() as conn:
        for i in range(n):
            record_one(conn, kind, None, i=i)


def test_events_are_folded_once_in_id_order_however_often_the_reader_runs(engine, recorder):
    add_events(engine, 5)
    assert run(engine, recorder, T0)["events"] == 5
    assert run(engine, recorder, T0 + 1)["events"] == 0
    add_events(engine, 2)
    assert run(engine, recorder, T0 + 2)["events"] == 2
    assert folded_ids(engine) == all_ids(engine)


def test_a_full_batch_says_more_is_waiting_and_the_next_one_goes_on_from_it(engine, recorder):
    add_events(engine, 7)
    first = run(engine, recorder, T0, limit=5)
    assert (first["events"], first["full"]) == (5, True)
    second = run(engine, recorder, T0, limit=5)
    assert (second["events"], second["full"]) == (2, False)
    assert folded_ids(engine) == all_ids(engine)


def test_a_batch_is_bounded_by_the_messages_its_events_stand_for(engine, recorder):
    with engine.begin() as conn:
        for start in range(0, 30, 10):
            record_batch(conn, "queued", None, list(range(start, start + 10)))
    first = run(engine, recorder, T0, max_messages=15)
    assert (first["events"], first["full"]) == (2, True)  # 20 messages: the second event crossed the bound
    assert run(engine, recorder, T0, max_messages=15)["events"] == 1


def test_a_gap_left_by_a_rolled_back_id_is_passed_once_the_grace_is_over(engine, recorder):
    add_events(engine, 3)
    middle = all_ids(engine)[1]
    with engine.begin() as conn:  # as if the transaction that took it had rolled back
        conn.execute(delete(Event.__table__).where(Event.id == middle))
    run(engine, recorder, T0)  # SQLite: ids are visible in the order taken, so a gap is passed at once
    run(engine, recorder, T0 + stream.GRACE)  # PostgreSQL: after the grace, no transaction holds it
    assert folded_ids(engine) == all_ids(engine)
    assert len(folded_ids(engine)) == 2


@postgresql_only
def test_an_event_committed_late_with_a_lower_id_is_folded_exactly_once(engine, recorder):
    add_events(engine, 1)
    run(engine, recorder, T0)
    with engine.connect() as late:
        late.begin()
        record_one(late, "late")  # takes the next id, commits last
        add_events(engine, 1, kind="early")  # takes a higher id, commits first
        waited = run(engine, recorder, T0 + 1)
        assert waited["events"] == 0 and waited["waiting"]["xids"] is None
        waited = run(engine, recorder, T0 + 1 + stream.GRACE)  # the open transaction is noted, and waited on
        assert waited["events"] == 0 and waited["waiting"]["xids"]
        assert run(engine, recorder, T0 + 60)["events"] == 0
        late.commit()
    assert run(engine, recorder, T0 + 61)["events"] == 2
    with engine.connect() as conn:
        kinds = conn.execute(select(Event.kind).where(Event.id.in_(folded_ids(engine))).order_by(Event.id)).scalars()
        assert list(kinds) == ["probe", "late", "early"]
    assert folded_ids(engine) == all_ids(engine)


@postgresql_only
def test_a_gap_waited_on_is_remembered_across_a_restart(engine, recorder, database_url):
    from engage.engine.store.database import make_engine

    with engine.connect() as late:
        late.begin()
        record_one(late, "late")
        add_events(engine, 1, kind="early")
        run(engine, recorder, T0)
        restarted = make_engine(database_url)  # a new process: only the database remembers
        try:
            with restarted.connect() as conn:
                waiting = next(c for c in consumers.status(conn) if c["name"] == recorder)["waiting"]
            assert waiting["seen"] == T0
            late.rollback()
            assert run(restarted, recorder, T0 + stream.GRACE)["events"] == 1  # its grace counted from T0
        finally:
            restarted.dispose()
    assert folded_ids(engine) == all_ids(engine)


@postgresql_only
def test_an_id_rolled_back_after_the_reader_noted_its_transaction_is_passed(engine, recorder):
    with engine.connect() as late:
        late.begin()
        record_one(late, "late")
        add_events(engine, 2, kind="early")
        run(engine, recorder, T0)
        assert run(engine, recorder, T0 + stream.GRACE)["waiting"]["xids"]
        late.rollback()
    assert run(engine, recorder, T0 + stream.GRACE + 1)["events"] == 2
    assert folded_ids(engine) == all_ids(engine)


@postgresql_only
def test_a_transaction_left_open_holds_readers_back_only_until_the_longest_wait(engine, recorder):
    with engine.connect() as idle:
        idle.begin()
        record_one(idle, "forgotten")
        add_events(engine, 1)
        run(engine, recorder, T0)
        assert run(engine, recorder, T0 + stream.MAX_WAIT - 1)["events"] == 0
        assert run(engine, recorder, T0 + stream.MAX_WAIT)["events"] == 1
        idle.rollback()


def test_the_lag_is_the_age_of_the_oldest_event_not_folded(engine, recorder):
    add_events(engine, 1)
    newest = all_ids(engine)[-1]
    with engine.connect() as conn:
        assert consumers.lag_seconds(conn, 0) >= 0
        assert consumers.lag_seconds(conn, newest) == 0
    run(engine, recorder, time.time())
    with engine.connect() as conn:
        mine = next(c for c in consumers.status(conn) if c["name"] == recorder)
        assert (mine["behind"], mine["lag_seconds"], mine["error"]) == (0, 0, None)
        assert conn.execute(select(func.count()).select_from(folded)).scalar_one() == 1
