"""`engage bench export`: N messages and the batch events of their delivery (N rows once split per
message), exported to Parquet from the configured database, measured: rows a second and the peak
memory of the process for each dataset.

The rows are made in the database, set-based (INSERT ... SELECT generate_series on PostgreSQL), for a
campaign id kept for this bench (BENCH_CAMPAIGN), spread over three days so the export writes several
partitions; a run reuses them when exactly N are there and deletes them afterwards unless `keep`. The
export goes to a temporary directory (its own watermark), so the installation's exports are not moved.
"""

from __future__ import annotations

import os
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from engage import config
from engage.engine.analytics import exports
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade

BENCH_CAMPAIGN = 2_000_000_007  # no real campaign has this id (campaign ids are a sequence from 1)
PER_EVENT = 1000  # message ids per batch event, as the send loop writes them
SPREAD_DAYS = 3


def run(rows: int, *, keep: bool = False, datasets: tuple[str, ...] = ("events", "messages"),
        progress: bool = True) -> dict[str, Any]:
    url = config.load().database_url
    upgrade(url)
    engine = make_engine(url)
    folder = Path(tempfile.mkdtemp(prefix="engage-export-bench-"))
    try:
        made = _generate(engine, rows)
        figures: dict[str, Any] = {"rows": rows, "database": engine.dialect.name, "generated": made}
        for name in datasets:
            figures[name] = _measure(engine, name, folder, progress)
        figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        figures["bytes_on_disk"] = sum(p.stat().st_size for p in folder.rglob("*.parquet"))
        return figures
    finally:
        if not keep:
            _delete(engine)
        engine.dispose()
        shutil.rmtree(folder, ignore_errors=True)


def _measure(engine: Engine, name: str, folder: Path, progress: bool) -> dict[str, Any]:
    sampler = _RssSampler()
    shown = _Shown(name, progress)
    started = time.perf_counter()
    with sampler:
        manifest = exports.run_dataset(engine, exports.get(name),
                                       exports.ExportOptions(directory=folder, settle=0, progress=shown))
    seconds = time.perf_counter() - started
    shown.done()
    return {"rows": manifest["rows"], "seconds": round(seconds, 2),
            "rows_per_s": round(manifest["rows"] / seconds) if seconds else 0, "files": len(manifest["files"]),
            "partitions": len(manifest["partitions"]), "peak_rss_mb": sampler.peak_mb,
            "rss_before_mb": sampler.before_mb}


class _Shown:
    """A progress line on stderr, at most a few times a second."""

    def __init__(self, name: str, enabled: bool) -> None:
        self.name, self.enabled, self.last = name, enabled, 0.0

    def __call__(self, rows: int) -> None:
        now = time.monotonic()
        if self.enabled and now - self.last > 0.5:
            self.last = now
            print(f"\rexport {self.name}: {rows:,} rows", end="", file=__import__("sys").stderr, flush=True)

    def done(self) -> None:
        if self.enabled:
            print(file=__import__("sys").stderr)


class _RssSampler:
    """The process's resident memory, sampled every 20 ms while the export runs (ru_maxrss would
    include whatever the process held before)."""

    def __init__(self) -> None:
        self.peak = 0
        self.before = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _rss() -> int:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> _RssSampler:
        self.before = self.peak = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def peak_mb(self) -> float:
        return round(self.peak / 2**20, 1)

    @property
    def before_mb(self) -> float:
        return round(self.before / 2**20, 1)


def _generate(engine: Engine, rows: int) -> dict[str, Any]:
    started = time.perf_counter()
    with engine.begin() as conn:
        have = conn.execute(text("SELECT count(*) FROM messages WHERE campaign_id = :c"),
                            {"c": BENCH_CAMPAIGN}).scalar_one()
        if have == rows:
            return {"reused": True, "seconds": round(time.perf_counter() - started, 2)}
    _delete(engine)
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if postgres:
            conn.execute(text("SET LOCAL synchronous_commit = off"))
            conn.execute(text("SET LOCAL work_mem = '256MB'"))
            conn.execute(text(f"""
                INSERT INTO messages (campaign_id, subscriber_id, msisdn, status, encoding, parts, provider_id,
                    price, currency, network, run_id, arm, created_at, queued_at, submitted_at, done_at)
                SELECT :c, g, '+99897' || lpad((g % 10000000)::text, 7, '0'),
                    (ARRAY['delivered', 'delivered', 'delivered', 'failed', 'submitted'])[1 + g % 5], 'GSM7',
                    1 + (g % 7 = 0)::int, 1 + g % 3, 0.012 + (g % 5) * 0.001, 'USD', '43405', 1,
                    CASE WHEN g % 2 = 0 THEN 'A' ELSE 'B' END, t, t, t + interval '1 second',
                    t + interval '5 seconds'
                FROM (SELECT g, now() - interval '{SPREAD_DAYS} days' * (1 - g::float8 / :n) AS t
                      FROM generate_series(1, :n) AS g) AS s"""), {"c": BENCH_CAMPAIGN, "n": rows})
            aggregate = "json_build_object('message_ids', json_agg(id ORDER BY id))"
        else:
            conn.execute(text(f"""
                WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < :n)
                INSERT INTO messages (campaign_id, subscriber_id, msisdn, status, encoding, parts, provider_id,
                    price, currency, network, run_id, arm, created_at)
                SELECT :c, i, '+99897' || substr('0000000' || (i % 10000000), -7), 'delivered', 'GSM7', 1, 1,
                    0.012, 'USD', '43405', 1, 'A',
                    datetime('now', '-' || ({SPREAD_DAYS} * 86400.0 * (1 - i * 1.0 / :n)) || ' seconds')
                FROM g"""), {"c": BENCH_CAMPAIGN, "n": rows})
            aggregate = "json_object('message_ids', json_group_array(id))"
        conn.execute(text(f"""
            INSERT INTO events (at, kind, campaign_id, message_id, message_count, data)
            SELECT max(created_at), 'delivered', :c, NULL, count(*), {aggregate}
            FROM messages WHERE campaign_id = :c GROUP BY id / {PER_EVENT}"""), {"c": BENCH_CAMPAIGN})
    return {"reused": False, "seconds": round(time.perf_counter() - started, 2)}


def _delete(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM events WHERE campaign_id = :c"), {"c": BENCH_CAMPAIGN})
        conn.execute(text("DELETE FROM messages WHERE campaign_id = :c"), {"c": BENCH_CAMPAIGN})
