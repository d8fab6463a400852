"""Migrations run on both databases, and running them again changes nothing."""

from sqlalchemy import inspect

from engage.engine.store.database import make_engine
from engage.engine.store.migrate import current, upgrade
from engage.engine.store.schema import metadata


def test_upgrade_creates_every_table_and_is_idempotent(database_url):
    upgrade(database_url)
    upgrade(database_url)
    engine = make_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert set(metadata.tables) <= tables
    assert current(database_url) == "0001"
