"""Scheduler leadership: several scheduler processes may run for availability, exactly one leads.

Only the leader launches runs; the others keep trying acquire() and take over when it goes away.
(The unique (campaign, scheduled time) of campaign_runs is the second line of defence.)

PostgreSQL: a session-level advisory lock, pg_try_advisory_lock(key), taken on a connection kept
open while leading. The server frees it when that session ends for any reason, so a crashed or
partitioned leader loses leadership without anyone cleaning up; check() notices a dead connection
and stops leading. The connection is autocommit (no transaction left open for hours) and is
discarded, never returned to the pool, on release, so no pooled connection carries the lock.

SQLite (the embedded default, one machine): an exclusive non-blocking flock on
"<database file>.<name>.lock"; the kernel frees it when the process dies. flock locks belong to
the open file, so two Leadership objects in one process conflict just like two processes. An
in-memory database lives in one process, so there a process-local lock is enough.

Not thread-safe: one scheduler thread owns a Leadership.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import threading
from types import TracebackType

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

_LOCAL_LOCKS: dict[str, threading.Lock] = {}
_LOCAL_GUARD = threading.Lock()


def advisory_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for `name` (Python's hash() changes per process).
    Namespaced so that it cannot collide with keys other parts of engage lock by number."""
    digest = hashlib.blake2b(f"engage.leadership:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Leadership:
    """Leadership named `name` over the database of `engine`; acquire() never blocks.

    Use as a context manager to release on the way out: `with Leadership(engine, "scheduler") as
    lead: if lead.held: ...` (entering tries once; it does not wait).
    """

    def __init__(self, engine: Engine, name: str) -> None:
        if not name:
            raise ValueError("leadership name must not be empty")
        self.engine = engine
        self.name = name
        self.key = advisory_key(name)
        self._conn: Connection | None = None  # PostgreSQL, while held
        self._fd: int | None = None  # SQLite file, while held
        self._local: threading.Lock | None = None  # in-memory SQLite, while held
        self.lock_path = self._lock_path() if engine.dialect.name == "sqlite" else None

    @property
    def held(self) -> bool:
        return self._conn is not None or self._fd is not None or self._local is not None

    def acquire(self) -> bool:
        """Try once to lead; True when this object leads (already or now)."""
        if self.held:
            return True
        if self.engine.dialect.name == "postgresql":
            return self._acquire_postgres()
        if self.engine.dialect.name == "sqlite":
            return self._acquire_file() if self.lock_path else self._acquire_local()
        raise NotImplementedError(f"no leadership for {self.engine.dialect.name} databases")

    def check(self) -> bool:
        """Whether this object still leads. On PostgreSQL this asks the server (SELECT 1) and, if
        the session is gone (restart, network, terminated backend), drops leadership: the lock
        went with the session and another scheduler may already lead."""
        if self._conn is None:
            return self.held
        try:
            self._conn.execute(text("SELECT 1")).scalar_one()
            return True
        except SQLAlchemyError:
            self._drop_connection()
            return False

    def release(self) -> None:
        """Stop leading (nothing to do when not leading)."""
        if self._conn is not None:
            with contextlib.suppress(SQLAlchemyError):  # if the session is gone, so is the lock
                self._conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": self.key})
            self._drop_connection()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            try:
                fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)
        if self._local is not None:
            lock, self._local = self._local, None
            lock.release()

    def __enter__(self) -> Leadership:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()

    def __repr__(self) -> str:
        return f"Leadership({self.name!r}, {self.engine.dialect.name}, held={self.held})"

    def _acquire_postgres(self) -> bool:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": self.key}).scalar_one()
        except BaseException:
            conn.invalidate()
            conn.close()
            raise
        if not got:
            conn.close()  # holds nothing: back to the pool
            return False
        self._conn = conn
        return True

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.invalidate()  # closes the DB-API connection instead of pooling it
        finally:
            conn.close()

    def _acquire_file(self) -> bool:
        assert self.lock_path is not None
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        # Who leads, for people looking at the file; the file itself is never deleted, since
        # unlinking a lock file lets two processes lock two different files.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def _acquire_local(self) -> bool:
        with _LOCAL_GUARD:
            lock = _LOCAL_LOCKS.setdefault(self.name, threading.Lock())
        if not lock.acquire(blocking=False):
            return False
        self._local = lock
        return True

    def _lock_path(self) -> str | None:
        database = self.engine.url.database
        if not database or database == ":memory:" or "mode=memory" in database:
            return None
        if database.startswith("file:"):
            database = database[len("file:"):].split("?", 1)[0]
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", self.name)
        return f"{os.path.abspath(database)}.{safe}.lock"
