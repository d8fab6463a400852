"""The PostgreSQL subscriber writer: new numbers are COPYed straight in, stored ones upserted, and a
number that turns out to be stored (or is stored by someone else meanwhile) is never lost."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select, text

from engage.engine.store.database import make_engine
from engage.engine.store.schema import Subscriber, SubscriberTag
from engage.engine.subscribers.pg_writer import NEW, SPLIT, UPSERT
from engage.engine.subscribers.rows import RowParser
from engage.engine.subscribers.storage import open_writer
from tests.fixtures.databases import drop_postgres, fresh_postgres_url

HEADER = ["msisdn", "first_name", "balance", "plan", "tags"]


@pytest.fixture
def pg() -> Iterator[Engine]:
    name, url = fresh_postgres_url(migrated=True)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    drop_postgres(name)


def _rows(*cells: list[str]) -> list[tuple]:
    parser = RowParser(HEADER, "UZ")
    return [parser.parse(c) for c in cells]


def _stored(engine: Engine) -> dict[str, tuple]:
    with engine.connect() as conn:
        rows = conn.execute(select(Subscriber.id, Subscriber.msisdn, Subscriber.first_name,
                                   Subscriber.attributes)).all()
        tags = conn.execute(select(SubscriberTag.subscriber_id, SubscriberTag.tag)).all()
    by_id = {r.id: r for r in rows}
    out = {r.msisdn: (r.first_name, r.attributes, set()) for r in rows}
    for subscriber_id, tag in tags:
        out[by_id[subscriber_id].msisdn][2].add(tag)
    return out


def test_new_numbers_go_straight_in_with_their_attributes_and_tags(pg):
    with open_writer(pg, RowParser(HEADER, "UZ").columns) as writer:
        writer.write(_rows(["998901000001", "Aziz", "10.5", "gold", "sport;news"],
                           ["998901000002", "Anna", "", "", ""]))
        assert writer.mode == NEW
    assert _stored(pg) == {"+998901000001": ("Aziz", {"plan": "gold"}, {"sport", "news"}),
                           "+998901000002": ("Anna", {}, set())}


def test_a_chunk_with_stored_numbers_is_split_and_the_writer_looks_them_up_from_then_on(pg):
    with open_writer(pg, RowParser(HEADER, "UZ").columns) as writer:
        writer.write(_rows(["998901000001", "Aziz", "1", "gold", "sport"]))
        writer.write(_rows(["998901000001", "Aziz Jr", "2", "", "music"],
                           ["998901000003", "Sam", "", "", "news"]))
        assert writer.mode == SPLIT
        writer.write(_rows(["998901000004", "Olga", "", "", ""]))
    assert _stored(pg) == {"+998901000001": ("Aziz Jr", {}, {"music"}),
                           "+998901000003": ("Sam", {}, {"news"}),
                           "+998901000004": ("Olga", {}, set())}


def test_a_chunk_of_stored_numbers_only_makes_the_writer_upsert_without_looking_up(pg, monkeypatch):
    with open_writer(pg, RowParser(HEADER, "UZ").columns) as writer:
        writer.write(_rows(["998901000001", "Aziz", "1", "", ""], ["998901000002", "Anna", "", "", ""]))
        writer.write(_rows(["998901000001", "Aziz Jr", "1", "", ""]))
        assert writer.mode == UPSERT
        monkeypatch.setattr(writer, "_existing", lambda numbers: pytest.fail("looked up"))
        writer.write(_rows(["998901000002", "Anna K", "", "", ""], ["998901000006", "Timur", "", "", ""]))
    assert {k: v[0] for k, v in _stored(pg).items()} == {"+998901000001": "Aziz Jr", "+998901000002": "Anna K",
                                                         "+998901000006": "Timur"}


def test_a_number_stored_by_someone_else_after_the_lookup_is_upserted_not_lost(pg, monkeypatch):
    with open_writer(pg, RowParser(HEADER, "UZ").columns) as writer:
        writer.write(_rows(["998901000001", "Aziz", "1", "", "sport"]))
        writer.write(_rows(["998901000001", "Aziz", "1", "", "sport"], ["998901000002", "Anna", "", "", ""]))
        assert writer.mode == SPLIT  # looking numbers up from now on
        monkeypatch.setattr(writer, "_existing", lambda numbers: set())  # a lookup that is already stale
        writer.write(_rows(["998901000001", "Aziz Jr", "", "", "news"],
                           ["998901000005", "Kamola", "", "", ""]))
    assert _stored(pg) == {"+998901000001": ("Aziz Jr", {}, {"news"}), "+998901000002": ("Anna", {}, set()),
                           "+998901000005": ("Kamola", {}, set())}


def test_ids_come_from_the_table_sequence_so_later_inserts_do_not_collide(pg):
    with open_writer(pg, RowParser(HEADER, "UZ").columns) as writer:
        writer.write(_rows(["998901000001", "Aziz", "", "", ""]))
    with pg.begin() as conn:
        conn.execute(Subscriber.__table__.insert().values(msisdn="+998901000009", attributes={}))
    assert len(set(_ids(pg))) == 2


def _ids(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(Subscriber.id)).scalars())


def test_the_writer_leaves_no_tables_behind_and_resets_its_session_settings(pg):
    with pg.connect() as conn:
        defaults = conn.execute(text("SELECT current_setting('jit'), current_setting('work_mem')")).one()
    with open_writer(pg, RowParser(HEADER, "UZ").columns) as writer:
        writer.write(_rows(["998901000001", "Aziz Jr", "", "", "news"]))
    with pg.connect() as conn:  # the pool's one connection, the writer's
        settings = conn.execute(text("SELECT current_setting('jit'), current_setting('work_mem')")).one()
        left = conn.execute(text("SELECT count(*) FROM pg_class WHERE relname LIKE 'subscribers_import%'")).scalar()
    assert (tuple(settings), left) == (tuple(defaults), 0)
