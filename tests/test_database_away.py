"""Only a database that is away, busy or in a conflict that clears by itself is waited out; a write
that will fail however often it is tried (a missing table, a statement past its time) is split or
given up at once. The errors are real ones from PostgreSQL and SQLite, as the workers meet them."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, text

from engage.engine.delivery.recorder import record_or_give_up
from engage.engine.providers.base import SendOutcome
from engage.engine.store.database import make_engine
from engage.engine.store.failures import transient


def _error(action: Callable[[], object]) -> BaseException:
    with pytest.raises(Exception) as caught:
        action()
    return caught.value


def _query(engine: Engine, sql: str, *, setup: str | None = None) -> Callable[[], object]:
    def run() -> object:
        with engine.begin() as conn:
            if setup:
                conn.execute(text(setup))
            return conn.execute(text(sql)).all()
    return run


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once it is closed


def test_a_query_on_a_missing_table_is_not_transient(engine):
    assert not transient(_error(_query(engine, "SELECT * FROM no_such_table")))


def test_a_statement_the_database_cannot_parse_is_not_transient(engine):
    assert not transient(_error(_query(engine, "SELEC 1")))


def test_a_postgresql_that_nothing_answers_for_is_transient():
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{_closed_port()}/engage")
    try:
        assert transient(_error(_query(engine, "SELECT 1")))
    finally:
        engine.dispose()


def test_a_statement_cancelled_by_statement_timeout_is_not_transient(postgres_url):
    """Repeated as it is, it runs past its time again: the write is split instead."""
    engine = make_engine(postgres_url)
    try:
        error = _error(_query(engine, "SELECT pg_sleep(2)", setup="SET LOCAL statement_timeout = 50"))
        assert isinstance(error.orig, psycopg.errors.QueryCanceled) and not transient(error)
    finally:
        engine.dispose()


def test_a_lock_not_granted_within_lock_timeout_is_transient(postgres_url):
    engine = make_engine(postgres_url)
    try:
        with engine.begin() as holder:
            holder.execute(text("CREATE TABLE held (id int)"))
        with engine.begin() as holder:
            holder.execute(text("LOCK TABLE held IN ACCESS EXCLUSIVE MODE"))
            error = _error(_query(engine, "SELECT * FROM held", setup="SET LOCAL lock_timeout = 50"))
        assert isinstance(error.orig, psycopg.errors.LockNotAvailable) and transient(error)
    finally:
        engine.dispose()


def test_a_connection_the_server_terminated_is_transient(postgres_url):
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as victim:
            pid = victim.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with engine.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            error = _error(lambda: victim.execute(text("SELECT 1")))
        assert transient(error)
    finally:
        engine.dispose()


def test_a_sqlite_database_another_writer_holds_is_transient(tmp_path):
    path = tmp_path / "held.db"
    holder = make_engine(f"sqlite:///{path}")
    impatient = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})  # no busy timeout
    try:
        with holder.begin() as conn:
            conn.execute(text("CREATE TABLE held (id int)"))
        with holder.begin() as conn:
            conn.execute(text("INSERT INTO held VALUES (1)"))
            error = _error(_query(impatient, "INSERT INTO held VALUES (2)"))
        assert "database is locked" in str(error) and transient(error)
    finally:
        holder.dispose()
        impatient.dispose()


def test_a_sender_gives_a_batch_up_at_once_when_its_database_has_no_tables(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    started = time.monotonic()
    try:
        assert not record_or_give_up(engine, 1, 1, [SendOutcome(1, ["aa"])], threading.Event(), give_up_after=60)
    finally:
        engine.dispose()
    assert time.monotonic() - started < 5


def test_a_sender_waits_a_database_that_is_away_out_only_as_long_as_its_lease(caplog):
    engine = make_engine(f"postgresql://postgres@127.0.0.1:{_closed_port()}/engage")
    started = time.monotonic()
    try:
        assert not record_or_give_up(engine, 1, 1, [SendOutcome(1, ["aa"])], threading.Event(), give_up_after=2)
    finally:
        engine.dispose()
    assert 2 <= time.monotonic() - started < 10
    assert sum("trying again" in r.getMessage() for r in caplog.records) >= 2
