"""Live counts: segment counts answered from the in-memory frame of the subscriber base.

The web process enables them for its database (`enable`, on PostgreSQL, where bases are large);
the frame loads in the background (a few seconds at a million subscribers) and counts go to SQL
until it is ready, or whenever it cannot serve. Each count first refreshes the frame from the
database (engine.segments.frame: rows changed since the last look, removals), inside the count's
own snapshot, then evaluates the same compiled condition the SQL count would run
(engine.segments.vector), so the answer is the database's answer at that moment, not an estimate.
Launches never use it: they freeze the audience with INSERT ... SELECT."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import ColumnElement, Connection, Engine, select

from engage.engine.segments import frame as frames
from engage.engine.segments.vector import Evaluator, column_values
from engage.engine.store.schema import OptOut, Subscriber

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Counted:
    matching: int
    opted_out: int  # of the matching
    sample: list[int]  # ids of reachable subscribers, as many as asked for
    figures: dict[str, Any]


class LiveCounts:
    """One database's frame and its loading state."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.frame: frames.SubscriberFrame | None = None
        self.loading: threading.Thread | None = None
        self.lock = threading.Lock()
        self.error: str | None = None
        self.last_load = time.monotonic()

    def start_loading(self, delay: float = 0.0) -> None:
        """Load a new frame in the background (after `delay` seconds); the current one, if any,
        serves until it is replaced."""
        with self.lock:
            if self.loading is not None and self.loading.is_alive():
                return
            self.loading = threading.Thread(target=self._load, args=(delay,), name="engage-live-counts", daemon=True)
            self.loading.start()

    def _load(self, delay: float) -> None:
        if delay > 0:
            time.sleep(delay)
        started = time.perf_counter()
        self.last_load = time.monotonic()
        try:
            with self.engine.connect() as conn:
                mark = frames.watermark(conn)
                with conn.begin():
                    loaded = frames.load(conn, mark)
            loaded.columns["msisdn"].codes_of([])  # the number lookup for opt-outs, before the first count
        except Exception as exc:  # the SQL count goes on serving; the reason is kept for status
            log.exception("live counts: loading the subscriber frame failed")
            self.error = f"{type(exc).__name__}: {exc}"
            return
        self.frame, self.error = loaded, None
        log.info("live counts: %d subscribers in memory in %.1f s", len(loaded), time.perf_counter() - started)

    def count(self, conn: Connection, mark: datetime, where: ColumnElement[bool], channel: str,
              sample: int, deadline: float | None = None) -> Counted | None:
        """The count of a compiled condition, with the frame refreshed first through `conn` (which
        holds the count's snapshot; `mark`: frames.watermark() taken before it); None when the
        frame cannot serve it now. `deadline` (time.monotonic()): vector.CountOutOfTime once passed."""
        frame = self.ready()
        if frame is None:
            return None
        with frame.lock:
            started = time.perf_counter()
            try:
                moved = frames.refresh(frame, conn, mark)
            except frames.TooManyChanges:  # a large import: reading it row by row would be slower than reloading
                self.frame = None
                self.start_loading(delay=max(0.0, self.last_load + MIN_RELOAD_GAP - time.monotonic()))
                return None
            refreshed = time.perf_counter()
            evaluator = Evaluator(frame, conn, deadline)
            matching = evaluator.matches(where)
            opted = _opted_out(frame, conn, channel) & matching
            ids = frame.ids[np.flatnonzero(matching & ~opted)[:sample]].tolist() if sample > 0 else []
            figures = {"refresh_ms": round((refreshed - started) * 1000, 1), **moved,
                       "evaluate_ms": round((time.perf_counter() - refreshed) * 1000, 1),
                       "asked_database": evaluator.asked}
            return Counted(int(matching.sum()), int(opted.sum()), ids, figures)

    def ready(self) -> frames.SubscriberFrame | None:
        """The frame, if loaded. One older than RELOAD_EVERY is replaced in the background (and
        serves meanwhile): that reload picks up what a transaction open longer than
        frames.LONG_TRANSACTION committed, and keeps the removals log short."""
        frame = self.frame
        if frame is not None and time.monotonic() - self.last_load > RELOAD_EVERY:
            self.start_loading()
        elif frame is None and self.error is not None and time.monotonic() - self.last_load > MIN_RELOAD_GAP:
            self.start_loading()  # the last load failed (the database was away): try again
        return frame


RELOAD_EVERY = 30 * 60.0  # seconds: a full reload, in the background (see ready())
MIN_RELOAD_GAP = 60.0  # seconds between reloads forced by large changes; the database answers meanwhile


_LIVE: dict[str, LiveCounts] = {}
_REGISTRY_LOCK = threading.Lock()


def _key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def wanted(engine: Engine, setting: str) -> bool:
    """ENGAGE_LIVE_COUNTS: "auto" (the default) serves them on PostgreSQL, where bases are large;
    on SQLite counts are small and the database answers them directly. "on" / "off" force it."""
    if setting not in ("auto", "on", "off"):
        raise ValueError(f"ENGAGE_LIVE_COUNTS must be auto, on or off, not {setting!r}")
    return setting == "on" or (setting == "auto" and engine.dialect.name == "postgresql")


def enable(engine: Engine, *, wait: bool = False) -> LiveCounts:
    """Serve this database's counts from memory once the frame has loaded (`wait`: load now)."""
    with _REGISTRY_LOCK:
        live = _LIVE.get(_key(engine))
        if live is None:
            live = _LIVE[_key(engine)] = LiveCounts(engine)
    if live.frame is None:
        live.start_loading()
        if wait and live.loading is not None:
            live.loading.join()
    return live


def disable(engine: Engine) -> None:
    with _REGISTRY_LOCK:
        _LIVE.pop(_key(engine), None)


def counts_for(conn: Connection) -> LiveCounts | None:
    return counts_for_engine(conn.engine)


def counts_for_engine(engine: Engine) -> LiveCounts | None:
    return _LIVE.get(_key(engine)) if _LIVE else None


def _opted_out(frame: frames.SubscriberFrame, conn: Connection, channel: str) -> np.ndarray:
    """Opted-out numbers come from the registry at each count (it is small, and opt-outs must
    take effect at once)."""
    numbers = column_values(conn, select(OptOut.msisdn).where(OptOut.channel == channel))
    column = frame.columns["msisdn"]
    return column.holding(numbers) if numbers else np.zeros(len(frame), dtype=bool)


def sample_rows(conn: Connection, ids: list[int], columns: tuple[Any, ...]) -> list[Any]:
    if not ids:
        return []
    return conn.execute(select(*columns).where(Subscriber.id.in_(ids)).order_by(Subscriber.id)).all()
