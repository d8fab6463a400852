"""The set-based writes of the hot paths change exactly the rows they name, on both databases:
an extra condition with OR in it once widened a failover's UPDATE to every queued message."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, or_, select, text

from engage.engine.store.bulk import array_value, insert_rows, update_from_values, update_ids
from engage.engine.store.database import make_engine
from engage.engine.store.schema import Event

events = Event.__table__


def _seed(engine: Engine) -> None:
    with engine.begin() as conn:
        insert_rows(conn, events, [{"kind": kind, "campaign_id": None, "message_id": n, "data": {"n": n}}
                                   for n, kind in enumerate(["a", "b", "a", "b"], start=1)])


def _rows(engine: Engine) -> list[tuple[int, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(events.c.message_id, events.c.kind).order_by(events.c.message_id))
        return [tuple(r) for r in rows]


def test_inserted_rows_keep_every_value_json_included(engine: Engine) -> None:
    _seed(engine)
    with engine.connect() as conn:
        assert conn.execute(select(events.c.data).where(events.c.message_id == 3)).scalar() == {"n": 3}
    assert _rows(engine) == [(1, "a"), (2, "b"), (3, "a"), (4, "b")]


def test_an_update_from_values_with_an_or_condition_changes_only_the_rows_it_names(engine: Engine) -> None:
    _seed(engine)
    with engine.begin() as conn:
        changed = update_from_values(conn, events, "message_id", [{"message_id": 1, "kind": "c"}],
                                     where=or_(events.c.kind == "a", events.c.kind == "b"))
    assert changed == 1
    assert _rows(engine) == [(1, "c"), (2, "b"), (3, "a"), (4, "b")]


def test_an_update_by_ids_with_an_or_condition_changes_only_the_rows_it_names(engine: Engine) -> None:
    _seed(engine)
    with engine.begin() as conn:
        changed = update_ids(conn, events, [2], {"kind": "c"}, key="message_id",
                             where=or_(events.c.kind == "a", events.c.kind == "b"))
    assert changed == 1
    assert _rows(engine) == [(1, "a"), (2, "c"), (3, "a"), (4, "b")]


def test_rows_inserted_by_copy_belong_to_the_surrounding_transaction(engine: Engine) -> None:
    try:
        with engine.begin() as conn:
            insert_rows(conn, events, [{"kind": "x", "campaign_id": None, "message_id": 9, "data": None}])
            conn.execute(text("SELECT 1/0")) if engine.dialect.name == "postgresql" else conn.execute(
                text("SELECT no_such_function()"))
    except Exception:  # noqa: BLE001 - the point is the rollback
        pass
    assert _rows(engine) == []


def test_array_text_keeps_quotes_backslashes_commas_and_nulls(postgres_url):
    texts = ['plain', 'with "quotes"', 'back\\slash', 'a,b {c}', '', 'NULL', None, 'línea\nnueva ✓']
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT %s::text[]", (array_value(texts),)).scalar() == texts
            numbers = [1, -2, Decimal("3.10"), None, 2**62]
            assert conn.exec_driver_sql("SELECT %s::numeric[]", (array_value(numbers),)).scalar() == numbers
    finally:
        engine.dispose()
