"""birthday_within as ranges of one integer key: the same people as the calendar says on both
databases, and on PostgreSQL a plan that uses ix_subscribers_birthday (migration 0012), which
only happens while the criterion writes exactly the index's expression."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import ColumnElement, Connection, Engine, func, insert, select, text

from engage.engine.segments.criteria import CompileContext, compile_node
from engage.engine.segments.kinds.dates import birthday_days, birthday_ranges
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import alembic_config, upgrade
from engage.engine.store.schema import Subscriber

BIRTHDAY = "ix_subscribers_birthday"


@pytest.fixture
def postgres(postgres_url: str) -> Iterator[Engine]:
    upgrade(postgres_url)
    eng = make_engine(postgres_url)
    yield eng
    eng.dispose()


def _where(today: date, days: int) -> ColumnElement[bool]:
    return compile_node({"kind": "birthday_within", "days": days},
                        ctx=CompileContext(now=datetime(today.year, today.month, today.day, 9, tzinfo=UTC)))


@pytest.mark.parametrize(("today", "days", "ranges"), [
    (date(2025, 6, 10), 7, [(610, 617)]),
    (date(2024, 12, 28), 5, [(101, 102), (1228, 1231)]),  # across the new year: two ranges
    (date(2025, 1, 25), 10, [(125, 204)]),  # 132 .. 200 are no date
    (date(2025, 2, 28), 0, [(228, 229)]),  # common year: leaplings celebrate on 28 February
    (date(2024, 2, 28), 0, [(228, 228)]),  # leap year: they wait for the 29th
    (date(2025, 3, 2), 363, [(101, 229), (302, 1231)]),  # all but 1 March
    (date(2025, 3, 1), 366, [(101, 1231)]),
])
def test_a_window_is_one_range_of_keys_or_two_across_the_new_year(today: date, days: int,
                                                                  ranges: list[tuple[int, int]]) -> None:
    assert birthday_ranges(today, days) == ranges


@pytest.fixture
def every_birthday(engine: Engine) -> Engine:
    """One subscriber born on each day of a leap year (29 February included), and one unknown."""
    born: list[date | None] = [date(2000, 1, 1) + timedelta(days=n) for n in range(366)] + [None]
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [
            {"id": i, "msisdn": f"+99890{i:07d}", "first_name": d.isoformat() if d else "?", "birth_date": d}
            for i, d in enumerate(born, start=1)])
    return engine


@pytest.mark.parametrize("today", [date(2024, 12, 28), date(2025, 12, 31), date(2025, 1, 1), date(2024, 2, 28),
                                   date(2025, 2, 27), date(2025, 2, 28), date(2024, 2, 29), date(2025, 7, 15)])
def test_the_sql_selects_exactly_the_calendars_birthdays(every_birthday: Engine, today: date) -> None:
    with every_birthday.connect() as conn:
        for days in (0, 1, 2, 7, 30, 364, 365, 366):
            expected = sorted(f"2000-{m:02d}-{d:02d}" for m, ds in birthday_days(today, days).items() for d in ds)
            got = conn.execute(select(Subscriber.first_name).where(_where(today, days))
                               .order_by(Subscriber.first_name)).scalars().all()
            assert got == expected, (today, days)


def _plan(conn: Connection, today: date, days: int) -> str:
    query = select(func.count()).select_from(Subscriber).where(_where(today, days))
    compiled = query.compile(dialect=conn.dialect)
    return "\n".join(conn.exec_driver_sql(f"EXPLAIN {compiled}", compiled.params).scalars())


@pytest.mark.parametrize(("today", "days"), [(date(2025, 6, 10), 7), (date(2024, 12, 28), 5), (date(2025, 2, 28), 0)])
def test_a_birthday_count_on_postgresql_uses_the_index(postgres: Engine, today: date, days: int) -> None:
    with postgres.begin() as conn:
        conn.execute(text(
            "INSERT INTO subscribers (msisdn, birth_date, attributes) "
            "SELECT '+99890' || lpad(n::text, 7, '0'), "
            "       CASE WHEN n % 10 = 0 THEN NULL ELSE date '1950-01-01' + (n * 7919) % 20000 END, '{}' "
            "FROM generate_series(1, 20000) AS n"))
    with postgres.connect() as conn:
        conn.execute(text("ANALYZE subscribers"))
        plan = _plan(conn, today, days)
    assert BIRTHDAY in plan, plan


def _index_definition(engine: Engine) -> str:
    with engine.connect() as conn:
        return conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
                            {"name": BIRTHDAY}).scalar_one()


def test_the_index_is_one_integer_key_and_a_downgrade_restores_extract(postgres: Engine, postgres_url: str) -> None:
    assert "date_part('month'::text, birth_date)" in _index_definition(postgres)
    assert "::integer" in _index_definition(postgres)
    command.downgrade(alembic_config(postgres_url), "0011")
    assert "EXTRACT(month FROM birth_date)" in _index_definition(postgres)
    upgrade(postgres_url)
    assert "date_part('day'::text, birth_date)" in _index_definition(postgres)
