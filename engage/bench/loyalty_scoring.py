"""`engage bench loyalty`'s scoring section: usage records scored into ledger entries the way the
loyalty worker scores them, a broker message's batch at a time (feed.parse, then feed.score_batch:
JSON decoded, replays dropped, numbers matched to members, rules applied, credits, lots, balances
and carried remainders written), measured in records a second.

SCORING_MEMBERS subscribers of the bench's own (numbers under PREFIX, which no real base uses: a
satellite network's range) are made and enrolled in the bench programme, with one rule ("every
100 minutes of outgoing calls give 10 points"); min(events, SCORED) records of calls are spread over
them at random. Afterwards the first batch is scored again (every record a duplicate) and what the
section made is deleted, whatever happened."""

from __future__ import annotations

import json
import time
from typing import Any

from sqlalchemy import text

from engage.engine.loyalty import feed, rules
from engage.engine.loyalty.feed import BATCH_RECORDS

PREFIX = "+88299"  # + 9 digits: the section's subscribers
SCORING_MEMBERS = 100_000
SCORED = 1_000_000  # records at most
SCORING_SOURCE = "bench-scoring"
RULE_CODE = "bench-calls"


def scoring(b: Any) -> dict[str, Any]:
    """b: the bench run (engage.bench.loyalty.LoyaltyBenchRun)."""
    from engage.bench.loyalty import BENCH_CODE, BENCH_EPOCH

    n_members = min(b.members, SCORING_MEMBERS)
    n_records = min(b.events, SCORED)
    try:
        _make_members(b, n_members)
        with b.engine.begin() as conn:
            rules.create(conn, b.programme_id, RULE_CODE, "bench calls", {"kind": "call_out", "every": 100,
                                                                          "points": 10},
                         actor="bench", valid_from=BENCH_EPOCH)
        bodies = []
        for start in range(0, n_records, BATCH_RECORDS):
            records = [{"ref": f"s{i}", "msisdn": f"{PREFIX}{1 + b.rng.randrange(n_members):09d}",
                        "kind": "call_out", "at": f"2000-01-{1 + i % 28:02d}T{i % 24:02d}:00:00+00:00",
                        "amount": float(1 + b.rng.randrange(300))}
                       for i in range(start, min(start + BATCH_RECORDS, n_records))]
            bodies.append(json.dumps({"programme": BENCH_CODE, "source": SCORING_SOURCE, "records": records}).encode())
        b.say(f"scoring {n_records:,} usage records in batches of {BATCH_RECORDS:,}")
        entries = points = 0
        started = time.perf_counter()
        for body in bodies:
            report = feed.score_batch(b.engine, feed.parse(body))
            entries += report.entries
            points += report.points
        seconds = time.perf_counter() - started
        again = feed.score_batch(b.engine, feed.parse(bodies[0]))
        return {"records": n_records, "members": n_members, "batch": BATCH_RECORDS, "seconds": round(seconds, 2),
                "events_per_s": round(n_records / seconds) if seconds else None, "entries": entries,
                "points": points, "replayed_batch": {"records": again.records, "duplicates": again.duplicates,
                                                     "points": again.points}}
    finally:
        _delete(b)


def _make_members(b: Any, n: int) -> None:
    postgres = b.engine.dialect.name == "postgresql"
    number = "'+88299' || lpad(CAST(g AS text), 9, '0')" if postgres else "'+88299' || printf('%09d', g)"
    series = ("generate_series(1, :n) AS s(g)" if postgres else "s")
    prefix = "" if postgres else "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n) "
    with b.engine.begin() as conn:
        conn.execute(text(f"{prefix}INSERT INTO subscribers (msisdn, attributes) SELECT {number}, '{{}}' "
                          f"FROM {series}"), {"n": n})
        conn.execute(text("INSERT INTO loyalty_members (programme_id, subscriber_id, status, enrolled_via) "
                          "SELECT :p, id, 'active', 'bulk' FROM subscribers WHERE msisdn LIKE :like"),
                     {"p": b.programme_id, "like": PREFIX + "%"})
        conn.execute(text("INSERT INTO loyalty_balances (member_id, available, held, earned, redeemed, expired) "
                          "SELECT m.id, 0, 0, 0, 0, 0 FROM loyalty_members AS m JOIN subscribers AS s "
                          "ON s.id = m.subscriber_id WHERE m.programme_id = :p AND s.msisdn LIKE :like"),
                     {"p": b.programme_id, "like": PREFIX + "%"})
    b.say(f"made {n:,} scoring members")


def _delete(b: Any) -> None:
    mine = ("SELECT m.id FROM loyalty_members AS m JOIN subscribers AS s ON s.id = m.subscriber_id "
            "WHERE m.programme_id = :p AND s.msisdn LIKE :like")
    params = {"p": b.programme_id, "like": PREFIX + "%", "code": RULE_CODE, "source": SCORING_SOURCE}
    with b.engine.begin() as conn:
        for statement in (
                f"DELETE FROM loyalty_entries WHERE member_id IN ({mine})",
                f"DELETE FROM loyalty_lots WHERE member_id IN ({mine})",
                f"DELETE FROM loyalty_balances WHERE member_id IN ({mine})",
                f"DELETE FROM loyalty_carry WHERE member_id IN ({mine})",
                f"DELETE FROM loyalty_members WHERE id IN ({mine})",
                "DELETE FROM subscribers WHERE msisdn LIKE :like",
                "DELETE FROM loyalty_rule_versions WHERE rule_id IN (SELECT id FROM loyalty_rules "
                "WHERE programme_id = :p AND code = :code)",
                "DELETE FROM loyalty_rules WHERE programme_id = :p AND code = :code",
                "DELETE FROM loyalty_usage_seen WHERE source = :source"):
            conn.execute(text(statement), {k: v for k, v in params.items() if f":{k}" in statement})
