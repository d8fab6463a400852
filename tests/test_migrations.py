"""Migrations run on both databases, and running them again changes nothing."""

from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from engage.engine.store.database import make_engine
from engage.engine.store.migrate import alembic_config, current, upgrade
from engage.engine.store.schema import metadata


def test_upgrade_creates_every_table_and_is_idempotent(database_url):
    upgrade(database_url)
    upgrade(database_url)
    engine = make_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert set(metadata.tables) <= tables
    assert current(database_url) == ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
