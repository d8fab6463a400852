"""Several scheduler processes may run; exactly one leads, on real PostgreSQL and SQLite."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from engage.engine.scheduler.leadership import Leadership, advisory_key
from engage.engine.store.database import make_engine

REPO = Path(__file__).resolve().parents[1]
CHILD = """
import sys
from engage.engine.scheduler.leadership import Leadership
from engage.engine.store.database import make_engine
lead = Leadership(make_engine(sys.argv[1]), sys.argv[2])
print("held" if lead.acquire() else "not held", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def other_engine(engine: Engine, database_url: str) -> Iterator[Engine]:
    """A second engine on the same database, as another scheduler process would have."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def postgres_engines(postgres_url: str) -> Iterator[tuple[Engine, Engine]]:
    first, second = make_engine(postgres_url), make_engine(postgres_url)
    yield first, second
    first.dispose()
    second.dispose()


def start_child_leader(database_url: str, name: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    child = subprocess.Popen([sys.executable, "-c", CHILD, database_url, name], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, cwd=REPO, env=env)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "held"
    return child


def acquire_within(lead: Leadership, seconds: float) -> bool:
    """A dead process's PostgreSQL session ends a moment after the process does."""
    deadline = time.monotonic() + seconds
    while not lead.acquire():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# --- both databases ----------------------------------------------------------------------------

def test_only_one_of_two_schedulers_leads(engine: Engine, other_engine: Engine) -> None:
    first, second = Leadership(engine, "scheduler"), Leadership(other_engine, "scheduler")
    assert first.acquire()
    assert not second.acquire()
    assert first.held and not second.held
    first.release()


def test_the_other_leads_once_the_leader_releases(engine: Engine, other_engine: Engine) -> None:
    first, second = Leadership(engine, "scheduler"), Leadership(other_engine, "scheduler")
    assert first.acquire()
    first.release()
    assert not first.held
    assert second.acquire()
    second.release()


def test_leaving_the_context_releases(engine: Engine, other_engine: Engine) -> None:
    with Leadership(engine, "scheduler") as lead:
        assert lead.held
        assert not Leadership(other_engine, "scheduler").acquire()
    assert not lead.held
    with Leadership(other_engine, "scheduler") as lead:
        assert lead.held


def test_different_names_do_not_conflict(engine: Engine, other_engine: Engine) -> None:
    with Leadership(engine, "scheduler") as first, Leadership(other_engine, "reports") as second:
        assert first.held and second.held


def test_acquiring_again_while_leading_keeps_leading(engine: Engine) -> None:
    with Leadership(engine, "scheduler") as lead:
        assert lead.acquire()
        assert lead.check()


def test_releasing_without_leading_does_nothing(engine: Engine) -> None:
    lead = Leadership(engine, "scheduler")
    lead.release()
    assert not lead.held
    assert not lead.check()


def test_a_leader_in_another_process_keeps_this_one_out(engine: Engine, database_url: str) -> None:
    child = start_child_leader(database_url, "scheduler")
    try:
        assert not Leadership(engine, "scheduler").acquire()
    finally:
        child.communicate("\n", timeout=30)


def test_a_crashed_leader_process_frees_leadership(engine: Engine, database_url: str) -> None:
    child = start_child_leader(database_url, "scheduler")
    lead = Leadership(engine, "scheduler")
    assert not lead.acquire()
    child.kill()  # SIGKILL: no release, no cleanup
    child.wait(timeout=30)
    assert acquire_within(lead, 10)
    lead.release()


# --- PostgreSQL: advisory lock on a live session -----------------------------------------------

# pg_locks spans the whole server: only look at (and terminate) this test database's sessions
THIS_DATABASE = "locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"


def advisory_locks(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM pg_locks WHERE {THIS_DATABASE}")).scalar_one()


def terminate_lock_holders(engine: Engine) -> None:
    """What a server restart or a DBA does to the leader's session."""
    with engine.connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_locks WHERE {THIS_DATABASE}"))


def test_the_leader_holds_one_advisory_lock(postgres_engines: tuple[Engine, Engine]) -> None:
    first, observer = postgres_engines
    with Leadership(first, "scheduler"):
        assert advisory_locks(observer) == 1
    assert advisory_locks(observer) == 0


def test_a_pooled_connection_never_keeps_the_lock(postgres_engines: tuple[Engine, Engine]) -> None:
    first, second = postgres_engines
    lead = Leadership(first, "scheduler")
    lead.acquire()
    lead.release()
    for _ in range(3):  # the pool hands out whatever it kept; none may lock anyone out
        with first.connect() as conn:
            conn.execute(text("SELECT 1"))
    assert Leadership(second, "scheduler").acquire()


def test_a_leader_whose_session_ended_finds_out_on_check(postgres_engines: tuple[Engine, Engine]) -> None:
    first, second = postgres_engines
    lead = Leadership(first, "scheduler")
    assert lead.acquire()
    terminate_lock_holders(second)
    assert not lead.check()
    assert not lead.held


def test_another_scheduler_leads_once_the_leaders_session_ended(postgres_engines: tuple[Engine, Engine]) -> None:
    first, second = postgres_engines
    assert Leadership(first, "scheduler").acquire()
    terminate_lock_holders(second)
    assert acquire_within(Leadership(second, "scheduler"), 10)


def test_a_live_leader_passes_check(postgres_engines: tuple[Engine, Engine]) -> None:
    with Leadership(postgres_engines[0], "scheduler") as lead:
        assert lead.check()
        assert lead.held


def test_the_lock_key_is_stable_across_processes() -> None:
    assert advisory_key("scheduler") == advisory_key("scheduler")
    assert advisory_key("scheduler") != advisory_key("reports")
    assert -(2**63) <= advisory_key("scheduler") < 2**63
    assert advisory_key("scheduler") == 7681841944576860885  # pinned: changing it splits leadership


# --- SQLite: a file lock next to the database ---------------------------------------------------

def test_the_lock_file_sits_next_to_the_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'engage.db'}")
    with Leadership(engine, "scheduler") as lead:
        assert lead.lock_path == str(tmp_path / "engage.db.scheduler.lock")
        assert Path(lead.lock_path).read_text().strip() == str(os.getpid())
    engine.dispose()


def test_two_leaderships_in_one_process_conflict_on_the_file(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'engage.db'}")
    first, second = Leadership(engine, "scheduler"), Leadership(engine, "scheduler")
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()
    engine.dispose()


def test_names_are_made_safe_for_the_file_name(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'engage.db'}")
    lead = Leadership(engine, "north/scheduler")
    assert lead.lock_path == str(tmp_path / "engage.db.north_scheduler.lock")
    engine.dispose()


def test_in_memory_sqlite_leads_within_the_process() -> None:
    engine = make_engine("sqlite:///:memory:")
    first, second = Leadership(engine, "memory-scheduler"), Leadership(engine, "memory-scheduler")
    assert first.lock_path is None
    assert first.acquire()
    assert not second.acquire()
    first.release()
    assert second.acquire()
    second.release()
    engine.dispose()
