"""`engage bench loyalty`: the loyalty ledger at the size of a real base, on the configured database: a
balance read as a page reads it, a redemption (hold, then confirm), 200 redemptions at once against one
balance, a file of credits posted twice, and the expiry of every lot. Prints what it measured and the
invariants it checked from the database (nothing overdrawn, nothing posted twice).

The rows are made in the database, set-based (INSERT ... SELECT generate_series on PostgreSQL, a
recursive CTE on SQLite), for a programme kept for this bench (BENCH_CODE): N members with synthetic
subscriber ids past any real one (SUBSCRIBERS + 1..N: a member's subscriber has no foreign key, and the
profile mirror finds no subscriber to write to), E earn entries spread over them, each with its lot,
and balances that are the lots' sum; then VACUUM (ANALYZE) and a CHECKPOINT, so what is timed does not
pay for the generation's writes, and the tables are read once before the sections (_warm). The bench
keeps its own clock, BENCH_EPOCH, in the past: the generated lots expire within the year after it and
the expiry runs as of EXPIRY_AT, when no real programme's lot can be due (the section refuses to run if
one is). A run reuses the rows when exactly N and E were generated, put back as generated first, and
deletes them afterwards unless `keep`.

Each figure is a section: a function of the run that returns its dict, one line of run() each, in
order (expiry last: it empties every generated lot).
"""

from __future__ import annotations

import os
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, select, text, update
from sqlalchemy.exc import DBAPIError

from engage import config
from engage.bench.loyalty_scoring import scoring
from engage.engine.loyalty import expiry, ledger, members, programmes, redemption
from engage.engine.loyalty.ledger import Credit, InsufficientPoints
from engage.engine.store.bulk import chunks
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade
from engage.engine.store.schema_loyalty import LoyaltyLot, LoyaltyProgramme

BENCH_CODE = "engage-bench"  # the programme this bench makes and deletes; no other may use the code
SUBSCRIBERS = 9_000_000_000_000_000_000  # the members' subscriber ids are this plus 1..N (0: the concurrent one)
BENCH_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # the bench's clock: its events happen in the year before it
LOT_DAYS = 365  # generated lots expire 1 to 365 days after BENCH_EPOCH
EXPIRY_AT = BENCH_EPOCH + timedelta(days=LOT_DAYS + 1)  # when every generated lot is due
LATER = BENCH_EPOCH + timedelta(days=3 * LOT_DAYS)  # the expiry of what the sections credit: not due then
SOURCE = "bench-usage"  # the generated earns' idempotency namespace
HOLD_SOURCE = "bench"  # the redemptions' (and the concurrent member's credit)
REPLAY_SOURCE = "bench-replay"
GENERATE_BATCH = 1_000_000  # generated events per transaction
BALANCE_READS = 2_000
REDEEMS = 1_000
REDEEM_POINTS = 10  # fewer than any generated lot holds (11 to 47), so one redemption empties no lot
CONCURRENT = 200  # redemptions at once against one balance
CONCURRENT_POINTS = 1_000  # that balance: exactly CONCURRENT_POINTS // REDEEM_POINTS redemptions succeed
CONCURRENT_POOL = 25  # their engine's connections (twice as many with overflow); the other threads wait for one
REPLAY = 100_000  # credits in the replayed file (at most as many as events)
REPLAY_BATCH = 5_000
REPLAY_MEMBERS = 10_000

_LOT_TIME = LoyaltyLot.__table__.c.expires_at.type  # a lot's time as the store binds it (SQLite: text)


@dataclass
class LoyaltyBenchRun:
    engine: Engine
    url: str
    programme_id: int
    members: int
    events: int
    say: Callable[[str], None]
    rng: random.Random

    def sample(self, n: int, *, distinct: bool = False) -> list[int]:
        """Member ids of n random generated members (distinct ones: at most all of them)."""
        if distinct:
            numbers = [SUBSCRIBERS + k for k in self.rng.sample(range(1, self.members + 1), min(n, self.members))]
        else:
            numbers = [SUBSCRIBERS + self.rng.randint(1, self.members) for _ in range(n)]
        found: dict[int, int] = {}
        query = text("SELECT subscriber_id, id FROM loyalty_members WHERE programme_id = :p "
                     "AND subscriber_id IN :numbers").bindparams(bindparam("numbers", expanding=True))
        with self.engine.connect() as conn:
            for part in chunks(sorted(set(numbers)), 1_000):
                found.update((r[0], r[1]) for r in conn.execute(query, {"p": self.programme_id, "numbers": list(part)}))
        return [found[n] for n in numbers]


def run(members: int, events: int, *, keep: bool = False, progress: bool = True) -> dict[str, Any]:
    if members < 1 or events < 1:
        raise ValueError("the bench needs at least one member and one event")
    url = config.load().database_url
    upgrade(url)
    engine = make_engine(url)
    say = _say if progress else _silent
    try:
        bench, generated = _prepare(engine, url, members, events, say)
        figures: dict[str, Any] = {"members": members, "events": events, "database": engine.dialect.name,
                                   "server": _server(engine), "generated": generated, "warmed_seconds": _warm(bench)}
        figures["balance"] = _balance(bench)
        figures["redeem"] = _redeem(bench)
        figures["concurrent"] = _concurrent(bench)
        figures["replay"] = _replay(bench)
        figures["scoring"] = scoring(bench)  # usage records into entries, as the loyalty worker scores them
        figures["expiry"] = _expiry(bench)  # last: it empties every generated lot
        return figures
    finally:
        if not keep:
            _delete(engine, say)
        engine.dispose()


def _say(message: str) -> None:
    print(f"bench loyalty: {message}", file=sys.stderr, flush=True)


def _silent(message: str) -> None:
    pass


def _figures(seconds: list[float]) -> dict[str, float | None]:
    if not seconds:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    values = sorted(seconds)

    def at(share: float) -> float:
        return round(values[min(len(values) - 1, int(share * len(values)))] * 1000, 2)

    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": round(values[-1] * 1000, 2)}


# -- the sections -------------------------------------------------------------------------------------------------

def _balance(b: LoyaltyBenchRun) -> dict[str, Any]:
    """A member's balance and what expires soon, as a page reads it: a pooled connection per read."""
    b.say(f"balance: {BALANCE_READS:,} reads")
    ids = b.sample(BALANCE_READS)
    for member_id in ids[:10]:  # the pool's connection opened, as a running server has it
        with b.engine.connect() as conn:
            ledger.balance(conn, member_id, now=BENCH_EPOCH)
    timed, expiring = [], 0
    for member_id in ids:
        started = time.perf_counter()
        with b.engine.connect() as conn:
            found = ledger.balance(conn, member_id, now=BENCH_EPOCH)
        timed.append(time.perf_counter() - started)
        expiring += bool(found and found.expiring)
    return {"reads": len(ids), **_figures(timed), "with_points_expiring": expiring}


def _redeem(b: LoyaltyBenchRun) -> dict[str, Any]:
    """A redemption as a USSD menu makes one: the hold in its transaction, then the confirmation in
    another, one member after another."""
    query = text("SELECT member_id FROM loyalty_balances WHERE member_id IN :ids AND available >= :points"
                 ).bindparams(bindparam("ids", expanding=True))
    wanted = b.sample(REDEEMS, distinct=True)
    with b.engine.connect() as conn:
        rich = {m for part in chunks(wanted, 1_000)
                for m in conn.execute(query, {"ids": list(part), "points": REDEEM_POINTS}).scalars()}
    ids = [m for m in wanted if m in rich]
    b.say(f"redeem: {len(ids):,} redemptions of {REDEEM_POINTS} points")
    total, holds, confirms = [], [], []
    for n, member_id in enumerate(ids):
        started = time.perf_counter()
        held = redemption.hold(b.engine, member_id, REDEEM_POINTS, source=HOLD_SOURCE, idem_key=f"redeem-{n}")
        between = time.perf_counter()
        with b.engine.begin() as conn:
            redemption.confirm(conn, held.id, {"bench": "redeem"})
        done = time.perf_counter()
        total.append(done - started)
        holds.append(between - started)
        confirms.append(done - between)
    return {"redemptions": len(ids), **_figures(total), "hold_p99_ms": _figures(holds)["p99_ms"],
            "confirm_p99_ms": _figures(confirms)["p99_ms"]}


def _concurrent(b: LoyaltyBenchRun) -> dict[str, Any]:
    """CONCURRENT threads released at once, each redeeming REDEEM_POINTS from one member who has
    CONCURRENT_POINTS: as many as the points cover succeed, the others are refused, and the member's
    balance, entries and lots agree afterwards (checked in the database)."""
    with b.engine.begin() as conn:
        members.enrol(conn, b.programme_id, [SUBSCRIBERS], "api")  # outside the generated 1..N
        member_id = members.find(conn, b.programme_id, SUBSCRIBERS).id
        ledger.credit(conn, [Credit(member_id, CONCURRENT_POINTS, BENCH_EPOCH, "bulk", HOLD_SOURCE, "concurrent",
                                    expires_at=LATER)])
    b.say(f"concurrent: {CONCURRENT} redemptions at once against {CONCURRENT_POINTS:,} points")
    engine = make_engine(b.url, pool_size=CONCURRENT_POOL)
    gate = threading.Barrier(CONCURRENT)
    outcomes: list[str] = [""] * CONCURRENT

    def redeem(n: int) -> None:
        gate.wait()
        try:
            held = redemption.hold(engine, member_id, REDEEM_POINTS, source=HOLD_SOURCE, idem_key=f"concurrent-{n}")
            with engine.begin() as conn:
                redemption.confirm(conn, held.id, {"bench": "concurrent"})
            outcomes[n] = "succeeded"
        except InsufficientPoints:
            outcomes[n] = "refused"
        except Exception as exc:  # noqa: BLE001 - counted and named: a deadlock or a lost update is a finding
            outcomes[n] = f"error: {type(exc).__name__}"

    threads = [threading.Thread(target=redeem, args=(n,)) for n in range(CONCURRENT)]
    started = time.perf_counter()
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        engine.dispose()
    seconds = time.perf_counter() - started
    with b.engine.connect() as conn:
        state = member_ledger(conn, member_id)
    errors = sorted({o for o in outcomes if o.startswith("error")})
    return {"attempted": CONCURRENT, "expected": CONCURRENT_POINTS // REDEEM_POINTS,
            "succeeded": outcomes.count("succeeded"), "refused": outcomes.count("refused"),
            "errors": len(outcomes) - outcomes.count("succeeded") - outcomes.count("refused"), "error_kinds": errors,
            "available": state["available"], "held": state["held"], "redeemed": state["redeemed"],
            "overdrawn": state["available"] < 0 or state["held"] < 0
            or state["redeemed"] + state["held"] + state["available"] > CONCURRENT_POINTS,
            "entries_add_up": state["adds_up"], "seconds": round(seconds, 2)}


def member_ledger(conn: Connection, member_id: int) -> dict[str, Any]:
    """A member's balance row, and whether its entries and lots add up to it."""
    balance = conn.execute(text("SELECT available, held, redeemed FROM loyalty_balances WHERE member_id = :m"),
                           {"m": member_id}).one()
    points, held = conn.execute(text("SELECT coalesce(sum(points), 0), coalesce(sum(held), 0) FROM loyalty_entries "
                                     "WHERE member_id = :m"), {"m": member_id}).one()
    lots = conn.execute(text("SELECT coalesce(sum(remaining), 0) FROM loyalty_lots WHERE member_id = :m"),
                        {"m": member_id}).scalar_one()
    return {"available": balance.available, "held": balance.held, "redeemed": balance.redeemed,
            "adds_up": points == balance.available == lots and held == balance.held}


def _replay(b: LoyaltyBenchRun) -> dict[str, Any]:
    """A file of usage credits posted through the ledger, then the whole file again: the second pass
    posts nothing and changes no balance (each member's compared before and after it)."""
    ids = b.sample(REPLAY_MEMBERS, distinct=True)
    n = min(REPLAY, b.events)
    credits = [Credit(ids[i % len(ids)], 1 + i % 20, BENCH_EPOCH + timedelta(seconds=i), "rule", REPLAY_SOURCE,
                      f"replay-{i}", expires_at=LATER) for i in range(n)]
    b.say(f"replay: {n:,} credits, twice")

    def post() -> tuple[int, float]:
        started, posted = time.perf_counter(), 0
        for part in chunks(credits, REPLAY_BATCH):
            with b.engine.begin() as conn:
                posted += len(ledger.credit(conn, part))
        return posted, time.perf_counter() - started

    first, first_s = post()
    before = _balances(b.engine, ids)
    second, second_s = post()
    after = _balances(b.engine, ids)
    return {"credits": n, "members": len(ids), "entries_posted_first": first, "entries_posted_second": second,
            "balances_changed_by_second": sum(before[m] != after.get(m) for m in before),
            "first_credits_per_s": round(n / first_s) if first_s else None,
            "second_credits_per_s": round(n / second_s) if second_s else None}


def _balances(engine: Engine, ids: Sequence[int]) -> dict[int, tuple[int, ...]]:
    query = text("SELECT member_id, available, held, earned, redeemed, expired FROM loyalty_balances "
                 "WHERE member_id IN :ids").bindparams(bindparam("ids", expanding=True))
    with engine.connect() as conn:
        return {row[0]: tuple(row[1:]) for part in chunks(sorted(set(ids)), 1_000)
                for row in conn.execute(query, {"ids": list(part)})}


def _expiry(b: LoyaltyBenchRun) -> dict[str, Any]:
    """expire_due as the nightly job runs it, as of EXPIRY_AT: every generated lot is due."""
    with b.engine.connect() as conn:
        foreign = conn.execute(text(
            "SELECT count(*) FROM (SELECT 1 FROM loyalty_members AS m JOIN loyalty_lots AS l ON l.member_id = m.id "
            "AND l.remaining > 0 AND l.expires_at <= :at WHERE m.programme_id <> :p LIMIT 1) AS f").bindparams(
            bindparam("at", type_=_LOT_TIME)), {"at": EXPIRY_AT, "p": b.programme_id}).scalar_one()
    if foreign:
        return {"skipped": f"lots of another programme are due by {EXPIRY_AT:%Y-%m-%d}: the bench expires only its own"}
    b.say(f"expiry: {b.events:,} lots")
    started = time.perf_counter()
    report = expiry.expire_due(b.engine, EXPIRY_AT)
    seconds = time.perf_counter() - started
    with b.engine.connect() as conn:
        available, held, remaining, points, in_held = conn.execute(text(f"""
            SELECT (SELECT coalesce(sum(available), 0) FROM loyalty_balances WHERE member_id IN ({_MINE})),
                   (SELECT coalesce(sum(held), 0) FROM loyalty_balances WHERE member_id IN ({_MINE})),
                   (SELECT coalesce(sum(remaining), 0) FROM loyalty_lots WHERE member_id IN ({_MINE})),
                   (SELECT coalesce(sum(points), 0) FROM loyalty_entries WHERE member_id IN ({_MINE})),
                   (SELECT coalesce(sum(held), 0) FROM loyalty_entries WHERE member_id IN ({_MINE}))"""),
            {"p": b.programme_id}).one()
    return {**report.as_dict(), "expected_lots": b.events, "batch_lots": expiry.BATCH_IDS,
            "workers": expiry.WORKERS if b.engine.dialect.name == "postgresql" else 1, "seconds": round(seconds, 2),
            "lots_per_s": round(report.lots / seconds) if seconds else None,
            "entries_add_up": available == remaining == points and held == in_held}


# -- the bench's rows ---------------------------------------------------------------------------------------------

_MINE = "SELECT id FROM loyalty_members WHERE programme_id = :p"
_TABLES = ("loyalty_members", "loyalty_balances", "loyalty_entries", "loyalty_lots", "loyalty_holds")


def _prepare(engine: Engine, url: str, n_members: int, n_events: int,
             say: Callable[[str], None]) -> tuple[LoyaltyBenchRun, dict[str, Any]]:
    started = time.perf_counter()
    with engine.connect() as conn:
        found = conn.execute(select(LoyaltyProgramme.id, LoyaltyProgramme.settings).where(
            LoyaltyProgramme.code == BENCH_CODE)).first()
    made = (found.settings or {}).get("bench", {}) if found else {}
    reused = made.get("members") == n_members and made.get("events") == n_events
    if reused:
        say("reusing the generated rows, put back as they were generated")
        _reset(engine, found.id, made)
        programme_id = found.id
    else:
        _delete(engine, say)
        programme_id = _generate(engine, n_members, n_events, say)
    _settle(engine)
    bench = LoyaltyBenchRun(engine, url, programme_id, n_members, n_events, say, random.Random(24))
    return bench, {"reused": reused, "seconds": round(time.perf_counter() - started, 2)}


def _generate(engine: Engine, n_members: int, n_events: int, say: Callable[[str], None]) -> int:
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        programme_id = programmes.create(conn, BENCH_CODE, "engage bench loyalty", points_valid_days=LOT_DAYS).id
        prefix, numbers = _numbers(postgres)
        conn.execute(text(f"{prefix}INSERT INTO loyalty_members (programme_id, subscriber_id, status, enrolled_via) "
                          f"SELECT :p, :base + g, 'active', 'bulk' FROM {numbers}"),
                     {"p": programme_id, "base": SUBSCRIBERS, "low": 1, "high": n_members})
        _analyze(conn, "loyalty_members")
    say(f"enrolled {n_members:,} members")
    params = {"p": programme_id, "members": n_members, "n": n_events, "source": SOURCE, "base": SUBSCRIBERS,
              "step": (LOT_DAYS - 1) * 86400 / n_events,
              "epoch": BENCH_EPOCH if postgres else BENCH_EPOCH.strftime("%Y-%m-%d %H:%M:%S")}
    for low in range(1, n_events + 1, GENERATE_BATCH):
        high = min(low + GENERATE_BATCH - 1, n_events)
        with engine.begin() as conn:
            _for_bulk(conn)
            _insert_events(conn, {**params, "low": low, "high": high})
        say(f"generated {high:,} of {n_events:,} events and their lots")
    with engine.begin() as conn:
        _for_bulk(conn)
        _analyze(conn, *_TABLES)
        _insert_balances(conn, programme_id)
        last_entry, last_lot = conn.execute(text(
            f"SELECT (SELECT max(id) FROM loyalty_entries WHERE member_id IN ({_MINE})), "
            f"(SELECT max(id) FROM loyalty_lots WHERE member_id IN ({_MINE}))"), {"p": programme_id}).one()
        conn.execute(update(LoyaltyProgramme).where(LoyaltyProgramme.id == programme_id).values(settings={"bench": {
            "members": n_members, "events": n_events, "last_entry": last_entry, "last_lot": last_lot}}))
    say("balances made")
    return programme_id


def _numbers(postgres: bool) -> tuple[str, str]:
    """A statement's prefix and the FROM item that give the whole numbers :low to :high as column g."""
    if postgres:
        return "", "generate_series(CAST(:low AS bigint), CAST(:high AS bigint)) AS s(g)"
    return "WITH RECURSIVE s(g) AS (SELECT :low UNION ALL SELECT g + 1 FROM s WHERE g < :high) ", "s"


def _insert_events(conn: Connection, params: dict[str, Any]) -> None:
    """Events :low to :high: event g is the member with subscriber SUBSCRIBERS + 1 + g % members earning 11 to
    47 points, at a time spread over the year before BENCH_EPOCH; its lot lives LOT_DAYS."""
    columns = ("INSERT INTO loyalty_entries (member_id, kind, points, held, occurred_at, cause, source, idem_key) "
               "SELECT m.id, 'earn', 11 + g % 37, 0, {at}, 'rule', :source, 'e' || g FROM {numbers} "
               "JOIN loyalty_members AS m ON m.programme_id = :p AND m.subscriber_id = :base + 1 + g % :members "
               "ORDER BY g")
    lots = "INSERT INTO loyalty_lots (member_id, entry_id, points, remaining, earned_at, expires_at) "
    if conn.dialect.name == "postgresql":
        earn = columns.format(at="CAST(:epoch AS timestamptz) - (:n - g) * CAST(:step AS float8) * interval '1 second'",
                              numbers=_numbers(True)[1])
        conn.execute(text(f"WITH e AS ({earn} RETURNING id, member_id, points, occurred_at) {lots}"
                          "SELECT member_id, id, points, points, occurred_at, "
                          f"occurred_at + interval '{LOT_DAYS} days' FROM e ORDER BY id"), params)
        return
    prefix, numbers = _numbers(False)
    after = conn.execute(text("SELECT coalesce(max(id), 0) FROM loyalty_entries")).scalar_one()
    conn.execute(text(prefix + columns.format(at="datetime(:epoch, '-' || ((:n - g) * :step) || ' seconds')",
                                              numbers=numbers)), params)
    conn.execute(text(f"{lots}SELECT member_id, id, points, points, occurred_at, "
                      f"datetime(occurred_at, '+{LOT_DAYS} days') FROM loyalty_entries "
                      "WHERE id > :after AND source = :source ORDER BY id"), {"after": after, "source": SOURCE})


def _insert_balances(conn: Connection, programme_id: int) -> None:
    """Every bench member's balance row: the sum of their lots (all generated, none touched)."""
    conn.execute(text(f"""
        INSERT INTO loyalty_balances (member_id, available, held, earned, redeemed, expired)
        SELECT m.id, coalesce(s.points, 0), 0, coalesce(s.points, 0), 0, 0 FROM loyalty_members AS m
        LEFT JOIN (SELECT member_id, sum(remaining) AS points FROM loyalty_lots WHERE member_id IN ({_MINE})
                   GROUP BY member_id) AS s ON s.member_id = m.id
        WHERE m.programme_id = :p"""), {"p": programme_id})


def _reset(engine: Engine, programme_id: int, made: dict[str, Any]) -> None:
    """The generated rows as they were generated: what the sections posted since (entries and lots
    after the generated ones, holds) deleted, the lots refilled, the balances made again."""
    params = {"p": programme_id, "entry": made["last_entry"], "lot": made["last_lot"]}
    with engine.begin() as conn:
        _for_bulk(conn)
        _analyze(conn, *_TABLES)
        for statement in (
                f"DELETE FROM loyalty_hold_lots WHERE hold_id IN (SELECT id FROM loyalty_holds "
                f"WHERE member_id IN ({_MINE}))",
                f"DELETE FROM loyalty_holds WHERE member_id IN ({_MINE})",
                f"DELETE FROM loyalty_entries WHERE member_id IN ({_MINE}) AND id > :entry",
                f"DELETE FROM loyalty_lots WHERE member_id IN ({_MINE}) AND id > :lot",
                f"UPDATE loyalty_lots SET remaining = points WHERE member_id IN ({_MINE}) AND remaining <> points",
                f"DELETE FROM loyalty_balances WHERE member_id IN ({_MINE})"):
            conn.execute(text(statement), params)
        _insert_balances(conn, programme_id)


def _delete(engine: Engine, say: Callable[[str], None]) -> None:
    with engine.connect() as conn:
        programme_id = conn.execute(select(LoyaltyProgramme.id).where(LoyaltyProgramme.code == BENCH_CODE)).scalar()
    if programme_id is None:
        return
    started = time.perf_counter()
    with engine.begin() as conn:
        _for_bulk(conn)
        _analyze(conn, *_TABLES)
        for statement in (
                f"DELETE FROM loyalty_hold_lots WHERE hold_id IN (SELECT id FROM loyalty_holds "
                f"WHERE member_id IN ({_MINE}))",
                f"DELETE FROM loyalty_holds WHERE member_id IN ({_MINE})",
                f"DELETE FROM loyalty_entries WHERE member_id IN ({_MINE})",
                f"DELETE FROM loyalty_lots WHERE member_id IN ({_MINE})",
                f"DELETE FROM loyalty_balances WHERE member_id IN ({_MINE})",
                "DELETE FROM loyalty_members WHERE programme_id = :p",
                "DELETE FROM loyalty_programmes WHERE id = :p"):
            conn.execute(text(statement), {"p": programme_id})
    say(f"the bench's rows deleted in {time.perf_counter() - started:.1f} s")


def _analyze(conn: Connection, *tables: str) -> None:
    """Statistics for the tables the bench just filled: the planner would otherwise plan the next
    statements over the rows it counted last (none, or a smaller run's), and join millions by loops."""
    for table in tables:
        conn.execute(text(f"ANALYZE {table}"))


def _for_bulk(conn: Connection) -> None:
    """The bench's own bulk writes (never the measured ones): not waiting for the disk at commit, and
    memory enough to aggregate millions of lots without spilling."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL synchronous_commit = off"))
        conn.execute(text("SET LOCAL work_mem = '256MB'"))


def _settle(engine: Engine) -> None:
    """Statistics for the planner and the visibility map set, as the autovacuum leaves lots a year
    old; then a checkpoint (where the role may ask for one), so the generation's writes are on disk
    before anything is timed."""
    if engine.dialect.name != "postgresql":
        with engine.begin() as conn:
            conn.execute(text("ANALYZE"))
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) loyalty_members, loyalty_balances, loyalty_entries, loyalty_lots"))
        with suppress(DBAPIError):  # not a superuser nor pg_checkpoint: the checkpointer's own pace then
            conn.execute(text("CHECKPOINT"))


def _warm(b: LoyaltyBenchRun) -> float:
    """The tables the sections read, read once, as a running server has them in memory: a machine
    whose host pages out what was not touched for a while (DAMON, as some virtual machines do) would
    otherwise time its disk. How long it took is printed."""
    started = time.perf_counter()
    with b.engine.connect() as conn:
        for table, column in (("loyalty_members", "level"), ("loyalty_balances", "available"),
                              ("loyalty_lots", "remaining")):  # a column no index holds: the table itself
            conn.execute(text(f"SELECT count({column}) FROM {table}"))
    return round(time.perf_counter() - started, 2)


def _server(engine: Engine) -> dict[str, Any]:
    """What the figures depend on besides the code: the cores, and PostgreSQL's memory and WAL settings."""
    figures: dict[str, Any] = {"cores": os.cpu_count()}
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            figures.update((r[0], r[1]) for r in conn.execute(text(
                "SELECT name, current_setting(name) FROM pg_settings WHERE name IN ('shared_buffers', "
                "'max_wal_size', 'work_mem', 'synchronous_commit', 'autovacuum', 'server_version')")))
    return figures
