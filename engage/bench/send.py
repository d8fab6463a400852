"""`engage bench send`: one campaign end to end (launch, submit, receipts) on the configured
database and broker, against built-in SMSC simulators or the configured providers, measured.

Workers run as separate processes (as in production) when the broker is RabbitMQ, and as
threads of this process with the in-process broker, which cannot be shared between processes.
"""

from __future__ import annotations

import fcntl
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, insert, select, text, update

from engage import config
from engage.bench import sender_kill
from engage.engine import campaigns
from engage.engine import statuses as st
from engage.engine.segments import store as segments
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade
from engage.engine.store.schema import Campaign, Event, Message, Provider
from engage.engine.templates import store as templates
from engage.simulators.smsc import SmscSimulator, start_in_thread

PREFIX = "+99897"  # bench subscribers: +99897 followed by a 7-digit index
BODY = "Hi {{ first_name }}, your weekly offer is here: 2x points on every top-up. Reply STOP to opt out."
WORKERS = ("receipts", "send", "dispatch")
BENCH_LOCK = 0x656E6761  # pg advisory lock key: "enga"


@dataclass
class Options:
    recipients: int
    providers: int = 1
    window: int = 64
    binds: int = 4  # the simulator's deliver window is per bind, as an SMSC's: receipts need 4 at 10,000/s
    use_configured: bool = False
    receipt_delay: float = 0.5
    stall_timeout: float = 60.0  # seconds without progress before the rest counts as lost
    kill_sender_at: float | None = None  # kill -9 the send worker once this share is accepted (sender_kill.py)
    progress: bool = True
    smsc_tps: int = 0  # submits per second each simulator accepts (0: no limit)
    throttle_answer: str = "throttled"  # what a simulator answers beyond smsc_tps: "throttled" or "msgqful"
    provider_tps: int | None = 1_000_000  # the bench providers' configured TPS; None: not known


@dataclass
class Run:
    started: float = 0.0
    launch_seconds: float = 0.0
    all_submitted_at: float | None = None
    all_final_at: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)


def run(options: Options) -> dict[str, Any]:
    settings = config.load()
    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    if options.kill_sender_at is not None:
        sender_kill.check_can_kill(settings, options.use_configured)
        options.stall_timeout = sender_kill.stall_timeout(settings, options.stall_timeout)
    with ExitStack() as stack:
        stack.enter_context(one_bench_at_a_time(engine))
        seed_subscribers(engine, options.recipients)
        sims: list[SmscSimulator] = []
        if not options.use_configured:
            sims = [start_in_thread(receipt_delay=options.receipt_delay, deliver_window=options.window,
                                    tps=options.smsc_tps, throttle_answer=options.throttle_answer)
                    for _ in range(options.providers)]
            for sim in sims:
                stack.callback(sim.stop_thread)
            stack.callback(use_bench_providers(engine, sims, options))
        campaign_id = _create_campaign(engine, options.recipients)
        _vacuum(engine)
        workers = stack.enter_context(WorkerProcesses(settings))
        result = Run(started=time.monotonic())
        launched = campaigns.launch(engine, campaign_id, actor="bench")
        result.launch_seconds = time.monotonic() - result.started
        kill = None if options.kill_sender_at is None else sender_kill.SenderKill(
            options.kill_sender_at, launched["recipients"], options.providers * options.binds * options.window,
            lambda: sum(sim.counts()["accepted"] for sim in sims), lambda: workers.kill_and_restart("send"))
        _wait(engine, campaign_id, launched["recipients"], result, options, sims, kill)
    result.peak_rss_mb = workers.peaks
    return (_report(options, launched["recipients"], result, sims) | (kill.report() if kill else {})
            | {"worker_logs": workers.log_dir})


class BenchBusy(RuntimeError):
    """Another bench runs on this database: two would take each other's providers away."""


@contextmanager
def one_bench_at_a_time(engine: Engine) -> Iterator[None]:
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            if not conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": BENCH_LOCK}).scalar():
                raise BenchBusy("another `engage bench send` is running on this database; wait for it to end")
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": BENCH_LOCK})
        return
    database = engine.url.database or ""
    path = f"{database}.bench-lock" if database not in ("", ":memory:") else None
    if path is None:  # a private in-memory database: nobody else can be on it
        yield
        return
    with open(path, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BenchBusy("another `engage bench send` is running on this database; wait for it to end") from None
        yield


def seed_subscribers(engine: Engine, n: int) -> None:
    """Bench subscribers are made by the database itself: a million rows in seconds, none over the wire."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(
                "INSERT INTO subscribers (msisdn, first_name, language, attributes, created_at, updated_at) "
                "SELECT :prefix || lpad(g::text, 7, '0'), 'Name' || g, 'en', '{}', now(), now() "
                "FROM generate_series(0, :n - 1) g ON CONFLICT (msisdn) DO NOTHING"), {"prefix": PREFIX, "n": n})
        else:
            conn.execute(text(
                "WITH RECURSIVE g(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM g WHERE x < :n - 1) "
                "INSERT OR IGNORE INTO subscribers (msisdn, first_name, language, attributes, created_at, updated_at) "
                "SELECT :prefix || printf('%07d', x), 'Name' || x, 'en', '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP "
                "FROM g"), {"prefix": PREFIX, "n": n})


def _vacuum(engine: Engine) -> None:
    """Start each run from clean tables, not from the dead rows of earlier runs: what autovacuum
    does between campaigns in production (and cannot do on servers where it is switched off)."""
    if engine.dialect.name != "postgresql":
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE subscribers, messages, message_parts, receipts, events")


def _create_campaign(engine: Engine, n: int) -> int:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    definition = {"and": [{"field": "msisdn", "op": "ge", "value": f"{PREFIX}0000000"},
                          {"field": "msisdn", "op": "lt", "value": f"{PREFIX}{n:07d}"}]}
    with engine.begin() as conn:
        segment_id = segments.create(conn, f"bench {n} {stamp}", definition, actor="bench")
        template_id = templates.create(conn, f"bench {stamp}", {"en": BODY}, default_language="en", actor="bench")
        return campaigns.create(conn, name=f"bench {n} {stamp}", segment_id=segment_id, template_id=template_id,
                                sender_id="Bench", actor="bench")


def use_bench_providers(engine: Engine, sims: list[SmscSimulator], options: Options):  # noqa: ANN202
    """Route only to the bench's simulators while it runs; the operator's providers come back after."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with engine.begin() as conn:
        others = conn.execute(select(Provider.id).where(Provider.enabled.is_(True))).scalars().all()
        conn.execute(update(Provider.__table__).where(Provider.id.in_(others)).values(enabled=False))
        ids = [conn.execute(insert(Provider.__table__).values(
            name=f"bench-{i}-{stamp}", kind="smpp", tps=options.provider_tps, priority=100, enabled=True,
            config={"host": "127.0.0.1", "port": sim.port, "system_id": "engage", "password": "secret",
                    "binds": options.binds, "window": options.window})).inserted_primary_key[0]
            for i, sim in enumerate(sims)]

    def restore() -> None:
        with engine.begin() as conn:
            conn.execute(update(Provider.__table__).where(Provider.id.in_(ids)).values(enabled=False))
            conn.execute(update(Provider.__table__).where(Provider.id.in_(others)).values(enabled=True))

    return restore


class WorkerProcesses:
    """The three workers, as processes on a shared broker or as threads on the in-process one."""

    def __init__(self, settings: config.Settings):
        self.settings = settings
        self.peaks: dict[str, float] = {}
        self.log_dir: str | None = None  # worker processes' stderr, for when a figure looks wrong

    def __enter__(self) -> WorkerProcesses:
        self.env = {**os.environ, "ENGAGE_DATABASE_URL": self.settings.database_url,
                    "ENGAGE_BROKER_URL": self.settings.broker_url}
        self.in_process = self.settings.broker_url.startswith("memory")
        if self.in_process:
            from engage.workers.runner import start

            self.stop = threading.Event()
            self.threads = start(list(WORKERS), make_engine(self.settings.database_url), self.settings.broker_url,
                                 self.stop)
        else:
            self.log_dir = tempfile.mkdtemp(prefix="engage-bench-")
            self.logs = {name: open(os.path.join(self.log_dir, f"{name}.log"), "w")  # noqa: SIM115
                         for name in WORKERS}
            self.procs = {name: self._spawn(name) for name in WORKERS}
        return self

    def _spawn(self, name: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "engage.cli", "worker", name], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=self.logs[name])

    def kill_and_restart(self, name: str) -> None:
        """SIGKILL one worker process, then start a new one in its place (--kill-sender-at)."""
        self.peaks[f"{name} (killed)"] = peak_rss_mb(self.procs[name].pid)
        sender_kill.kill_hard(self.procs[name])
        self.procs[name] = self._spawn(name)

    def __exit__(self, *exc: object) -> None:
        if self.in_process:
            self.stop.set()
            for t in self.threads:
                t.join(timeout=30)
            self.peaks["all-in-one"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
            return
        for name, proc in self.procs.items():
            self.peaks[name] = peak_rss_mb(proc.pid)
            proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in self.logs.values():
            log.close()


def peak_rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return -1.0


def _counts(engine: Engine, campaign_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(Message.status, func.count()).where(
            Message.campaign_id == campaign_id).group_by(Message.status)).all()
    return {s: n for s, n in rows}


def _final(engine: Engine, campaign_id: int) -> int:
    """How many of the campaign's messages are final, from its events: a final status is written with
    its event, in one transaction. A few hundred batch events are cheap to add up every tenth of a
    second, where counting statuses walks every dead index entry each message left behind (seconds at
    a million messages with autovacuum off), and the run's end was known only that late."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(Event.message_count), 0)).where(
            Event.campaign_id == campaign_id, Event.kind.in_(st.FINAL))).scalar_one())


def _in_flight(engine: Engine, campaign_id: int) -> dict[str, int]:
    """Only the messages not yet final: a shrinking part of the index, cheap to count often."""
    with engine.connect() as conn:
        rows = conn.execute(select(Message.status, func.count()).where(
            Message.campaign_id == campaign_id, Message.status.in_(st.IN_FLIGHT)).group_by(Message.status)).all()
    return {s: n for s, n in rows}


def _wait(engine: Engine, campaign_id: int, total: int, result: Run, options: Options,
          sims: list[SmscSimulator], kill: sender_kill.SenderKill | None = None) -> None:
    # counting statuses costs PostgreSQL a good share of a core at a million messages (measured: 10
    # of 63 CPU seconds of a 200k run). With simulators, their counters say how far the run is, and
    # the database is asked only once they have acknowledged every receipt, then only for the events'
    # cheap sum; with configured providers, statuses are counted every few seconds until all is sent.
    far = min(5.0, max(0.5, total / 100_000))
    last_change, last, status_look = time.monotonic(), None, 0.0
    watch_sims = bool(sims)
    while True:
        time.sleep(0.5 if watch_sims else far if result.all_submitted_at is None else 0.1)
        now = time.monotonic()
        if watch_sims:
            seen = [sim.counts() for sim in sims]
            accepted, acked = sum(c["accepted"] for c in seen), sum(c["receipts_acked"] for c in seen)
            if kill is not None:
                kill.watch()
            if result.all_submitted_at is None and accepted >= total:
                result.all_submitted_at = now
            if (accepted, acked) != last:
                last, last_change = (accepted, acked), now
            watch_sims = acked < total and now - last_change <= options.stall_timeout
            if watch_sims:
                if options.progress:
                    print(f"\r{now - result.started:6.1f}s  submitted+ {accepted:>9}  receipts {acked:>9} / {total}",
                          end="", file=sys.stderr, flush=True)
                continue
        if result.all_submitted_at is None:  # configured providers: no simulator counted the submits
            before_submit = sum(_in_flight(engine, campaign_id).get(s, 0) for s in (st.PENDING, st.QUEUED, st.SENDING))
            if before_submit == 0:
                result.all_submitted_at = now
        final = _final(engine, campaign_id)
        if options.progress:
            print(f"\r{now - result.started:6.1f}s  final {final:>9} / {total}", end="", file=sys.stderr, flush=True)
        if final >= total:
            result.all_final_at = now
            break
        if final != last:
            last, last_change, status_look = final, now, now + 1.0
        elif now >= status_look:  # some finals come without an event each (a deadline's expiry)
            if not _in_flight(engine, campaign_id):
                result.all_final_at = now
                break
            status_look = now + far
            if now - last_change > options.stall_timeout:
                break
    if options.progress:
        print(file=sys.stderr)
    result.counts = _counts(engine, campaign_id)
    end_campaign(engine, campaign_id)


def end_campaign(engine: Engine, campaign_id: int) -> None:
    """The bench's campaign is over either way. What never reached a provider is cancelled: left
    queued, the next run's workers (or the sweeper) would send it during that run."""
    with engine.begin() as conn:
        conn.execute(update(Campaign.__table__).where(Campaign.id == campaign_id).values(
            status=st.CAMPAIGN_COMPLETED))
        conn.execute(update(Message.__table__).where(
            Message.campaign_id == campaign_id, Message.status.in_((st.PENDING, st.QUEUED, st.SENDING))).values(
            status=st.CANCELLED, error="bench ended", done_at=func.now()))


def _pace(sims: list[SmscSimulator], options: Options) -> dict[str, Any]:
    """How well the sender held the rate the simulators accept: accepted submits per second from
    the first to the last (and in the middle half of those seconds, where neither the start nor
    the tail weighs), and the share of all submit answers that said "throttled" or "queue full"."""
    stats = [sim.stats() for sim in sims]
    submits = sum(s["submits"] for s in stats)
    throttled = sum(s["throttled"] + s["queue_full"] for s in stats)
    spans = [sim.acceptance() for sim in sims]
    firsts = [a["first"] for a in spans if a["first"] is not None]
    lasts = [a["last"] for a in spans if a["last"] is not None]
    accepted = sum(s["accepted"] for s in stats)
    span = max(lasts) - min(firsts) if firsts else 0.0
    per_second: dict[int, int] = {}
    for a in spans:
        for second, n in a["per_second"].items():
            per_second[second] = per_second.get(second, 0) + n
    whole = sorted(per_second)[1:-1]  # the first and last seconds are partly outside the run
    middle = whole[len(whole) // 4: len(whole) - len(whole) // 4]
    return {"smsc_tps": options.smsc_tps or None, "throttle_answer": options.throttle_answer,
            "provider_tps": options.provider_tps,
            "accepted_per_s": round(accepted / span, 1) if span > 0 else None,
            "accepted_per_s_middle": round(sum(per_second[s] for s in middle) / len(middle), 1) if middle else None,
            "throttled": throttled, "throttled_share": round(throttled / submits, 4) if submits else None}


def _report(options: Options, total: int, result: Run, sims: list[SmscSimulator]) -> dict[str, Any]:
    end = result.all_final_at or time.monotonic()
    submit_end = result.all_submitted_at or end
    seconds = end - result.started
    counts = result.counts
    final = sum(counts.get(s, 0) for s in st.FINAL)
    # the simulators count every (destination, text, part) they accepted more than once
    duplicates = sum(sim.stats()["duplicate_submits"] for sim in sims) if sims else None
    return {
        "recipients": total, "providers": "configured" if options.use_configured else options.providers,
        "window": options.window,
        "seconds": round(seconds, 2), "launch_seconds": round(result.launch_seconds, 2),
        "submitted_per_s": round(total / max(submit_end - result.started, 1e-9), 1),
        "receipts_per_s": round(final / max(seconds, 1e-9), 1),
        "delivered": counts.get(st.DELIVERED, 0),
        "failed": sum(counts.get(s, 0) for s in st.FINAL if s != st.DELIVERED),
        "lost": total - final, "duplicates": duplicates,
        **(_pace(sims, options) if sims else {}),
        "peak_rss_mb": result.peak_rss_mb,
        "database": make_engine(config.load().database_url).dialect.name,
        "broker": "memory" if config.load().broker_url.startswith("memory") else "rabbitmq",
    }
