"""Connecting to the store: SQLite (embedded default) or PostgreSQL through psycopg 3."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from engage.engine.store.text_case import add_sqlite_function


def normalise_url(url: str) -> str:
    """Accept the plain `postgresql://` form people paste, and drive it with psycopg 3."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        # BEGIN IMMEDIATE: a transaction that reads and then writes (launch, dispatch, matching)
        # would otherwise fail at once with "database is locked" when another writer got in
        # between, since SQLite cannot wait on the busy timeout to upgrade a read lock.
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    # Custom plans only: psycopg prepares statements that run often, and PostgreSQL may then keep
    # a generic plan chosen while the tables were small (a scan), long after they hold millions.
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                         connect_args={"options": "-c plan_cache_mode=force_custom_plan"})


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API objects
    dbapi_conn.isolation_level = None  # let the "begin" listener issue BEGIN
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=60000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
    add_sqlite_function(dbapi_conn)  # lower() in every script, as PostgreSQL has it


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def aware(moment: datetime) -> datetime:
    """A timestamp as the database handed it back, with its zone: SQLite's come back naive, in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def seconds_ago(engine: Engine, seconds: float) -> datetime:
    """A moment to compare with timestamps the database wrote with now(): SQLite keeps
    CURRENT_TIMESTAMP as naive UTC text, PostgreSQL compares aware datetimes."""
    at = datetime.now(UTC) - timedelta(seconds=seconds)
    return at.replace(tzinfo=None) if engine.dialect.name == "sqlite" else at
