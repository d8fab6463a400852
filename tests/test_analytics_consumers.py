"""The consumers of the event stream: each under its own watermark, a failing one neither stopping the
others nor losing its batch, one worker at a time on a consumer; and the periodic jobs run after them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import BigInteger, Column, Engine, MetaData, String, Table, insert, select

from engage.engine.analytics import consumers, periodic
from engage.engine.events import record_one
from engage.engine.store.schema import Event
from engage.engine.store.schema_analytics import AnalyticsWatermark

postgresql_only = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

folded = Table("test_consumed", MetaData(), Column("consumer", String(20), primary_key=True),
               Column("event_id", BigInteger, primary_key=True))
T0 = 1_900_000_000.0


class Broken(Exception):
    pass


@pytest.fixture
def make_consumer(engine: Engine) -> Iterator:
    """make_consumer(name, fail=...) registers a consumer writing (name, event id) rows, whose key
    refuses a second fold of an event; it raises after writing while fail["on"] is true."""
    folded.create(engine)
    names = []

    def make(name: str, fail: dict | None = None, **options) -> str:  # noqa: ANN003
        def fold(conn, events) -> None:  # noqa: ANN001
            conn.execute(insert(folded), [{"consumer": name, "event_id": e.id} for e in events])
            if fail and fail["on"]:
                raise Broken("the fold broke")

        consumers.register(name, fold, **options)
        names.append(name)
        return name

    yield make
    for name in names:
        consumers.unregister(name)


def folded_by(engine: Engine, name: str) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(folded.c.event_id).where(folded.c.consumer == name)
                                 .order_by(folded.c.event_id)).scalars())


def event_ids(engine: Engine, kind: str | None = None) -> list[int]:
    query = select(Event.id).order_by(Event.id)
    with engine.connect() as conn:
        return list(conn.execute(query.where(Event.kind == kind) if kind else query).scalars())


def add_events(engine: Engine, n: int, kind: str = "probe") -> None:
    with engine.begin() as conn:
        for i in range(n):
            record_one(conn, kind, None, i=i)


def status_of(engine: Engine, name: str) -> dict:
    with engine.connect() as conn:
        return next(c for c in consumers.status(conn) if c["name"] == name)


def test_each_consumer_moves_its_own_watermark(engine, make_consumer):
    first = make_consumer("first")
    add_events(engine, 3)
    consumers.run_once(engine, now=T0, only=[first])
    second = make_consumer("second")
    add_events(engine, 2)
    done = consumers.run_once(engine, now=T0, only=[first, second])
    assert {n: done["consumers"][n]["events"] for n in (first, second)} == {"first": 2, "second": 5}
    assert folded_by(engine, first) == folded_by(engine, second) == event_ids(engine)
    with engine.connect() as conn:
        marks = dict(conn.execute(select(AnalyticsWatermark.name, AnalyticsWatermark.last_id)).all())
    assert marks["consumer:first"] == marks["consumer:second"] == event_ids(engine)[-1]


def test_a_consumer_is_handed_only_the_kinds_it_asked_for_and_passes_the_rest(engine, make_consumer):
    name = make_consumer("picky", kinds={"wanted"})
    add_events(engine, 2, kind="other")
    add_events(engine, 2, kind="wanted")
    assert consumers.run_once(engine, now=T0, only=[name])["consumers"][name]["events"] == 4
    assert folded_by(engine, name) == event_ids(engine, "wanted")


def test_a_failing_consumer_does_not_stop_the_others_and_its_error_is_shown(engine, make_consumer):
    broken = make_consumer("broken", fail={"on": True})
    healthy = make_consumer("healthy")
    add_events(engine, 3)
    done = consumers.run_once(engine, now=T0, only=[broken, healthy])
    assert done["consumers"][broken]["error"] == "Broken: the fold broke"
    assert folded_by(engine, healthy) == event_ids(engine)
    assert folded_by(engine, broken) == []  # what it wrote before it raised is rolled back
    shown = status_of(engine, broken)
    ids = event_ids(engine)
    assert (shown["last_id"], shown["behind"]) == (0, 3)
    assert shown["error"]["message"] == "Broken: the fold broke"
    assert (shown["error"]["first_id"], shown["error"]["last_id"], shown["error"]["failures"]) == (ids[0], ids[-1], 1)


def test_a_failed_batch_is_folded_once_when_tried_again_after_its_pause(engine, make_consumer):
    fail = {"on": True}
    name = make_consumer("flaky", fail=fail)
    add_events(engine, 2)
    consumers.run_once(engine, now=T0, only=[name])
    consumers.run_once(engine, now=T0 + 1, only=[name])  # a second failure: the pause doubles
    assert status_of(engine, name)["error"]["failures"] == 2
    fail["on"] = False
    assert consumers.run_once(engine, now=T0 + 2, only=[name])["consumers"][name]["events"] == 0  # still paused
    assert consumers.run_once(engine, now=T0 + 3, only=[name])["consumers"][name]["events"] == 2
    assert folded_by(engine, name) == event_ids(engine)
    assert status_of(engine, name)["error"] is None


def test_a_consumer_starting_now_skips_the_history_it_joins(engine, make_consumer):
    add_events(engine, 3)
    name = make_consumer("awards", start="now")
    assert consumers.run_once(engine, now=T0, only=[name])["events"] == 0
    add_events(engine, 1, kind="new")
    consumers.run_once(engine, now=T0, only=[name])
    assert folded_by(engine, name) == event_ids(engine, "new")


def test_a_consumer_is_registered_with_one_decorator(engine, make_consumer):
    @consumers.consumer("decorated", kinds={"probe"})
    def fold(conn, events) -> None:  # noqa: ANN001
        conn.execute(insert(folded), [{"consumer": "decorated", "event_id": e.id} for e in events])

    try:
        assert "decorated" in consumers.registry()
        add_events(engine, 1)
        consumers.run_once(engine, now=T0, only=["decorated"])
        assert folded_by(engine, "decorated") == event_ids(engine)
    finally:
        consumers.unregister("decorated")


@postgresql_only
def test_a_consumer_is_folded_by_one_worker_at_a_time(engine, make_consumer):
    name = make_consumer("shared")
    consumers.run_once(engine, now=T0, only=[name])  # its watermark row exists
    add_events(engine, 2)
    with engine.connect() as other_worker:
        other_worker.begin()
        other_worker.execute(select(AnalyticsWatermark.name).where(AnalyticsWatermark.name == f"consumer:{name}")
                             .with_for_update())
        assert consumers.run_once(engine, now=T0, only=[name])["consumers"][name] == {
            "events": 0, "full": False, "busy": True}
        other_worker.rollback()
    assert consumers.run_once(engine, now=T0, only=[name])["events"] == 2


@pytest.fixture
def jobs() -> Iterator[list[str]]:
    names: list[str] = []
    yield names
    for name in names:
        periodic.unregister(name)


def test_a_periodic_job_runs_once_per_period_however_many_workers_look(engine, jobs):
    runs = []
    periodic.register("count", 60, lambda eng, now: runs.append(now) or {"ran": len(runs)})
    jobs.append("count")
    start = datetime(2030, 1, 1, tzinfo=UTC)
    assert periodic.run_due(engine, start)["count"] == {"ran": 1}
    assert "count" not in periodic.run_due(engine, start + timedelta(seconds=30))  # another worker, or the next tick
    assert periodic.run_due(engine, start + timedelta(seconds=60))["count"] == {"ran": 2}
    shown = next(j for j in periodic.status(engine) if j["name"] == "count")
    assert (shown["every"], shown["result"], shown["error"]) == (60.0, {"ran": 2}, None)


def test_a_failing_periodic_job_is_recorded_and_the_others_run(engine, jobs):
    def broken(eng, now) -> dict:  # noqa: ANN001
        raise Broken("no figures")

    periodic.register("broken", 10, broken)
    periodic.register("fine", 10, lambda eng, now: {"ok": True})
    jobs.extend(["broken", "fine"])
    done = periodic.run_due(engine, datetime(2030, 1, 1, tzinfo=UTC))
    assert (done["broken"], done["fine"]) == ({"error": "Broken: no figures"}, {"ok": True})
    assert next(j for j in periodic.status(engine) if j["name"] == "broken")["error"] == "Broken: no figures"
