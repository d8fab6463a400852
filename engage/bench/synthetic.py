"""A synthetic subscriber base for measuring segments: skewed the way an operator's data is, so that
counts and plans at a million subscribers say what production will see (a uniform base would make
every criterion equally selective and hide the slow ones).

PostgreSQL builds it in the database with set-based INSERT ... SELECT from generate_series (a
million subscribers and ten million usage events without a row over the wire); SQLite, used by
tests at small N, gets the same distributions from Python.

Bench subscribers own the reserved fake range +99899 followed by 7 digits, and only that range is
ever written or deleted. A run reuses the data when exactly N subscribers and N x K usage events
are already there; a different size is replaced (bench rows only), never mixed.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, insert, text

from engage.engine.store.schema import OptOut, Subscriber, SubscriberTag, UsageEvent
from engage.engine.subscribers.storage import delete_subscribers

PREFIX = "+99899"  # reserved fake range: +99899 followed by a 7-digit index
LOW, HIGH = PREFIX + "0000000", PREFIX + "9999999"
MAX_SUBSCRIBERS = 10_000_000
GENERATOR_LOCK = 0x73796E74  # pg advisory lock key: "synt"
SPREAD = 1_000_003  # a prime: (i * SPREAD) % n permutes 0..n-1 so heavy users are scattered over the base
USAGE_DAYS = 90

# (city, region, branch, timezone), most populous first: picked Zipf-like, so Tashkent alone is ~23%
CITIES = [
    ("Tashkent", "Tashkent City", "tashkent", "Asia/Tashkent"), ("Samarkand", "Samarkand", "central", "Asia/Samarkand"),
    ("Namangan", "Namangan", "east", "Asia/Tashkent"), ("Andijan", "Andijan", "east", "Asia/Tashkent"),
    ("Bukhara", "Bukhara", "west", "Asia/Samarkand"), ("Fergana", "Fergana", "east", "Asia/Tashkent"),
    ("Nukus", "Karakalpakstan", "west", "Asia/Samarkand"), ("Qarshi", "Kashkadarya", "central", "Asia/Samarkand"),
    ("Kokand", "Fergana", "east", "Asia/Tashkent"), ("Chirchiq", "Tashkent Region", "tashkent", "Asia/Tashkent"),
    ("Termez", "Surkhandarya", "central", "Asia/Samarkand"), ("Margilan", "Fergana", "east", "Asia/Tashkent"),
    ("Jizzakh", "Jizzakh", "central", "Asia/Samarkand"), ("Urgench", "Khorezm", "west", "Asia/Samarkand"),
    ("Navoi", "Navoi", "central", "Asia/Samarkand"), ("Angren", "Tashkent Region", "tashkent", "Asia/Tashkent"),
    ("Gulistan", "Syrdarya", "central", "Asia/Tashkent"), ("Almalyk", "Tashkent Region", "tashkent", "Asia/Tashkent"),
    ("Shahrisabz", "Kashkadarya", "central", "Asia/Samarkand"), ("Denau", "Surkhandarya", "central", "Asia/Samarkand"),
]
MALE = ["Aziz", "Bekzod", "Jasur", "Sardor", "Timur", "Rustam", "Dilshod", "Alisher", "Sherzod", "Farrukh",
        "Otabek", "Ulugbek", "Nodir", "Sergey", "Ivan", "Akmal", "Bobur", "Javlon", "Shavkat", "Anvar"]
FEMALE = ["Dilnoza", "Madina", "Gulnora", "Nigora", "Shahnoza", "Malika", "Zarina", "Feruza", "Kamola", "Sevara",
          "Nilufar", "Olga", "Elena", "Mohira", "Dildora", "Lola", "Aziza", "Umida", "Barno", "Yulduz"]
SURNAMES = ["Karimov", "Rakhimov", "Usmonov", "Yusupov", "Abdullayev", "Tursunov", "Ismoilov", "Nazarov",
            "Aliyev", "Sobirov", "Ergashev", "Kim", "Mirzayev", "Hasanov", "Qodirov", "Ivanov", "Salimov", "Tan"]
PREPAID_PLANS = ["Street 15", "Onlime", "Street 25", "Zamonaviy", "Student", "Family", "Unlim Mini", "Ishonch",
                 "Super 50", "Status"]
POSTPAID_PLANS = ["Business S", "Business M", "Corporate", "Business L", "Premium"]
MODELS = {"android": ["Samsung A14", "Redmi 12", "Samsung A34", "Redmi Note 12", "Tecno Spark 10", "Honor X7",
                      "Samsung S23", "Vivo Y17"],
          "ios": ["iPhone 11", "iPhone 13", "iPhone 12", "iPhone 14 Pro", "iPhone 15", "iPhone XR"],
          "kaios": ["Nokia 2720"], "other": ["Nokia 105", "Itel 2160"]}
TAGS = ["music", "news", "football", "horoscope", "religion", "weather", "games", "movies", "education", "jobs",
        "cooking", "kids"]
CHANNELS = ["retail", "dealer", "online", "corporate"]

GENDER = [("M", .48), ("F", .48), ("X", .01)]  # the remaining 3%: unknown
LANGUAGE = [("uz", .55), ("ru", .35), ("en", .07)]
CONTRACT = [("prepaid", .70), ("postpaid", .27), ("hybrid", .03)]
NETWORK = [("43404", .45), ("43405", .35), ("43407", .15), ("43406", .05)]
DEVICE_OS = [("android", .72), ("ios", .18), ("kaios", .04), ("other", .06)]
TIER = [("bronze", .35), ("silver", .15), ("gold", .06), ("platinum", .015)]  # the rest (~44%): no tier
KIND = [("call_out", .30), ("call_in", .25), ("data", .25), ("sms_out", .12), ("recharge", .06), ("purchase", .02)]
DENOMINATION = [(2, .20), (5, .35), (10, .25), (20, .12), (50, .06), (100, .02)]
TIER_POINTS = {"bronze": 100, "silver": 800, "gold": 3000, "platinum": 12000}


# --- the distributions, once for Python and once as SQL over a uniform [0, 1) expression ---

def zipf(u: float, k: int) -> int:
    """Index 0..k-1 with P(i) ~ log((i+2)/(i+1)): the first item is the most popular, a long tail follows."""
    return min(int((k + 1) ** u) - 1, k - 1)


def zipf_sql(u: str, k: int) -> str:
    return f"least(floor(power({k + 1}, {u}))::int - 1, {k - 1})"


def weighted(u: float, choices: Sequence[tuple[Any, float]]) -> Any:
    """The choice whose cumulative weight first exceeds u; None past the last (the unknowns)."""
    acc = 0.0
    for value, weight in choices:
        acc += weight
        if u < acc:
            return value
    return None


def weighted_sql(u: str, choices: Sequence[tuple[Any, float]]) -> str:
    acc, arms = 0.0, []
    for value, weight in choices:
        acc += weight
        arms.append(f"WHEN {u} < {acc:.6f} THEN {value!r}" if isinstance(value, str) else
                    f"WHEN {u} < {acc:.6f} THEN {value}")
    return f"(CASE {' '.join(arms)} END)"


def lomax(u: float, scale: float, alpha: float) -> float:
    """Pareto II: most values small, a few enormous (the heavy users' minutes and megabytes)."""
    return scale * ((1.0 - u) ** (-1.0 / alpha) - 1.0)


def lomax_sql(u: str, scale: float, alpha: float) -> str:
    return f"({scale} * (power(1.0 - {u}, {-1.0 / alpha}) - 1.0))"


def normal(u1: float, u2: float) -> float:
    return math.sqrt(-2.0 * math.log(1.0 - u1)) * math.cos(2.0 * math.pi * u2)


def normal_sql(u1: str, u2: str) -> str:
    return f"(sqrt(-2.0 * ln(1.0 - {u1})) * cos(2.0 * pi() * {u2}))"


def _plain(values: Sequence[str]) -> None:
    for v in values:  # the generator pastes its own constants into SQL: keep them harmless
        assert all(c.isalnum() or c in " -/" for c in v), v


for _table in (MALE, FEMALE, SURNAMES, PREPAID_PLANS, POSTPAID_PLANS, TAGS, CHANNELS,
               [c for row in CITIES for c in row], [m for ms in MODELS.values() for m in ms]):
    _plain(_table)


def bench_range(column: str = "msisdn") -> str:
    return f"{column} BETWEEN '{LOW}' AND '{HIGH}'"


def existing(conn: Connection) -> tuple[int, int]:
    """(bench subscribers, their usage events) already in the database."""
    subs = conn.execute(text(f"SELECT count(*) FROM subscribers WHERE {bench_range()}")).scalar_one()
    events = conn.execute(text(
        f"SELECT count(*) FROM usage_events WHERE subscriber_id IN (SELECT id FROM subscribers WHERE {bench_range()})"
    )).scalar_one() if subs else 0
    return subs, events


def generate(engine: Engine, subscribers: int, events_per_subscriber: int = 10, *, seed: int = 42) -> dict[str, Any]:
    """Make (or reuse) N bench subscribers with N x K usage events, ~30% tagged, ~1% opted out.

    One transaction: an interrupted run leaves nothing half made. On PostgreSQL an advisory lock makes a
    second generator wait and then reuse what the first made."""
    if not 1 <= subscribers <= MAX_SUBSCRIBERS or events_per_subscriber < 0:
        raise ValueError(f"subscribers must be 1..{MAX_SUBSCRIBERS:,} and events per subscriber >= 0")
    started = time.perf_counter()
    postgres = engine.dialect.name == "postgresql"
    with engine.begin() as conn:
        if postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": GENERATOR_LOCK})
        have = existing(conn)
        wanted = (subscribers, subscribers * events_per_subscriber)
        if have == wanted:
            return {"reused": True, "seconds": round(time.perf_counter() - started, 3), **_figures(conn)}
        if have[0]:
            _delete_bench(conn)
        if postgres:
            _generate_postgres(conn, subscribers, events_per_subscriber, seed)
        else:
            _generate_python(conn, subscribers, events_per_subscriber, seed)
        figures = _figures(conn)
    return {"reused": False, "seconds": round(time.perf_counter() - started, 3), **figures}


def _figures(conn: Connection) -> dict[str, int]:
    subs, events = existing(conn)
    in_bench = f"IN (SELECT id FROM subscribers WHERE {bench_range()})"
    tagged = conn.execute(text(f"SELECT count(DISTINCT subscriber_id) FROM subscriber_tags "
                               f"WHERE subscriber_id {in_bench}")).scalar_one()
    opted = conn.execute(text(f"SELECT count(*) FROM opt_outs WHERE channel = 'sms' AND {bench_range()}")).scalar_one()
    return {"subscribers": subs, "usage_events": events, "tagged": tagged, "opted_out": opted}


def _delete_bench(conn: Connection) -> None:
    """Only the reserved range goes: an operator's own subscribers are never touched."""
    conn.execute(text(f"DELETE FROM opt_outs WHERE {bench_range()}"))
    delete_subscribers(conn, Subscriber.msisdn.between(LOW, HIGH))


# --- PostgreSQL: everything in the database ---

def _arr(values: Sequence[str]) -> str:
    return "ARRAY[" + ", ".join(repr(v) for v in values) + "]"


def _subscribers_sql() -> str:
    cities = [_arr([c[i] for c in CITIES]) for i in range(4)]
    models = " ".join(f"WHEN {os!r} THEN ({_arr(ms)})[1 + {zipf_sql('r14', len(ms))}]" for os, ms in MODELS.items())
    surname = f"({_arr(SURNAMES)})[1 + {zipf_sql('r2', len(SURNAMES))}]"
    return f"""
INSERT INTO subscribers (msisdn, first_name, last_name, language, gender, birth_date, region, city, branch, timezone,
    balance, network, contract_type, tariff_plan, device_os, device_model, activation_date, last_activity_at,
    last_recharge_at, last_recharge_amount, arpu, data_mb_month, voice_min_month, sms_month, roaming, loyalty_tier,
    loyalty_points, attributes, created_at, updated_at)
SELECT '{PREFIX}' || lpad(g::text, 7, '0'),
    CASE gender WHEN 'F' THEN ({_arr(FEMALE)})[1 + {zipf_sql('r1', len(FEMALE))}]
                ELSE ({_arr(MALE)})[1 + {zipf_sql('r1', len(MALE))}] END,
    CASE WHEN gender = 'F' AND right({surname}, 1) = 'v' THEN {surname} || 'a' ELSE {surname} END,
    {weighted_sql('r3', LANGUAGE)}, gender,
    current_date - (least(greatest(34 + 12 * {normal_sql('r4', 'r5')}, 14), 90) * 365.25)::int,
    ({cities[1]})[1 + city_i], CASE WHEN r6 < 0.02 THEN NULL ELSE ({cities[0]})[1 + city_i] END,
    ({cities[2]})[1 + city_i], ({cities[3]})[1 + city_i],
    round((exp(1.6 + 1.2 * {normal_sql('r7', 'r8')}))::numeric, 2), {weighted_sql('r9', NETWORK)}, contract,
    CASE WHEN contract = 'postpaid' THEN ({_arr(POSTPAID_PLANS)})[1 + {zipf_sql('r10', len(POSTPAID_PLANS))}]
         ELSE ({_arr(PREPAID_PLANS)})[1 + {zipf_sql('r10', len(PREPAID_PLANS))}] END,
    device_os, CASE device_os {models} END,
    current_date - least(floor(-ln(1.0 - r11) * 1100), 7000)::int,
    CASE WHEN r12 < 0.02 THEN NULL ELSE now() - (365 * power(r13, 4)) * interval '1 day' END,
    CASE WHEN contract = 'postpaid' THEN NULL ELSE now() - (180 * power(r15, 3)) * interval '1 day' END,
    CASE WHEN contract = 'postpaid' THEN NULL ELSE {weighted_sql('r16', DENOMINATION)} END,
    round((exp(1.4 + 0.9 * {normal_sql('r16', 'r17')})
           * CASE contract WHEN 'postpaid' THEN 2.5 ELSE 1 END)::numeric, 2),
    CASE WHEN device_os IN ('kaios', 'other') OR r18 < 0.08 THEN 0
         ELSE least({lomax_sql('r19', 900, 1.2)}, 300000)::int END,
    least({lomax_sql('r20', 80, 1.3)}, 30000)::int, least({lomax_sql('r21', 6, 1.5)}, 5000)::int,
    r22 < 0.02, tier, CASE WHEN tier IS NULL THEN 0
        ELSE ({_points_sql()} * (0.2 + 1.6 * r23))::bigint END,
    json_build_object('channel', ({_arr(CHANNELS)})[1 + {zipf_sql('r24', len(CHANNELS))}])::json, now(), now()
FROM (SELECT *, {weighted_sql('r0', GENDER)} AS gender, {zipf_sql('r25', len(CITIES))} AS city_i,
             {weighted_sql('r26', CONTRACT)} AS contract, {weighted_sql('r27', DEVICE_OS)} AS device_os,
             {weighted_sql('r28', TIER)} AS tier
      FROM (SELECT g, {', '.join(f'random() AS r{i}' for i in range(29))}
            FROM generate_series(0, :n - 1) AS g) AS uniform) AS base"""


def _points_sql() -> str:
    return "(CASE tier " + " ".join(f"WHEN {t!r} THEN {p}" for t, p in TIER_POINTS.items()) + " END)"


def _amount_sql(kind: str, u: str) -> str:
    """One event's amount in its kind's unit: minutes, MB, messages, money."""
    return f"""(CASE {kind}
        WHEN 'call_out' THEN round(least(0.1 + {lomax_sql(u, 3, 1.8)}, 600)::numeric, 1)
        WHEN 'call_in' THEN round(least(0.1 + {lomax_sql(u, 2.5, 1.8)}, 600)::numeric, 1)
        WHEN 'data' THEN round(least(0.01 + {lomax_sql(u, 30, 1.2)}, 20000)::numeric, 2)
        WHEN 'sms_out' THEN 1 + floor({lomax_sql(u, 1, 2.5)})
        WHEN 'recharge' THEN {weighted_sql(u, DENOMINATION)}
        ELSE round((0.5 + {lomax_sql(u, 5, 2.0)})::numeric, 2) END)::float8"""


def _generate_postgres(conn: Connection, n: int, k: int, seed: int) -> None:
    conn.execute(text("SET LOCAL work_mem = '256MB'"))
    conn.execute(text("SET LOCAL maintenance_work_mem = '512MB'"))
    conn.execute(text("SET LOCAL synchronous_commit = off"))
    conn.execute(text("SELECT setseed(:s)"), {"s": (seed % 1000) / 1000.0})
    conn.execute(text(_subscribers_sql()), {"n": n})
    conn.execute(text(f"""
        INSERT INTO subscriber_tags (subscriber_id, tag)
        SELECT id, ({_arr(TAGS)})[1 + {zipf_sql('random()', len(TAGS))}]
        FROM (SELECT id, random() AS r FROM subscribers WHERE {bench_range()}) AS s,
             generate_series(1, 3) AS t
        WHERE s.r < 0.30 AND t <= 1 + floor(power(s.r / 0.30, 2) * 3)
        ON CONFLICT DO NOTHING"""))
    conn.execute(text(f"""
        INSERT INTO opt_outs (msisdn, channel, source, created_at)
        SELECT msisdn, 'sms', 'bench', now() FROM subscribers WHERE {bench_range()} AND random() < 0.01
        ON CONFLICT DO NOTHING"""))
    if k == 0:
        return
    rebuilt = _drop_usage_indexes(conn, n * k)
    conn.execute(text(f"""
        CREATE TEMP TABLE bench_ids ON COMMIT DROP AS
        SELECT (substr(msisdn, {len(PREFIX) + 1})::int) AS idx, id FROM subscribers WHERE {bench_range()}"""))
    # in time order, as the network writes them: the heap then follows `at`, like production's, and
    # the (kind, at, ...) index grows at its right edges instead of splitting pages all over
    conn.execute(text(f"""
        INSERT INTO usage_events (subscriber_id, kind, at, amount)
        SELECT b.id, e.kind, e.at, {_amount_sql('e.kind', 'e.ra')}
        FROM (SELECT ((floor(:n * power(r1, 3))::bigint * {SPREAD}) % :n)::int AS idx,
                     {weighted_sql('r2', KIND)} AS kind,
                     now() - ({USAGE_DAYS} * r3) * interval '1 day' AS at, r4 AS ra
              FROM (SELECT random() AS r1, random() AS r2, random() AS r3, random() AS r4
                    FROM generate_series(1, :total)) AS uniform) AS e
        JOIN bench_ids AS b USING (idx)
        ORDER BY e.at"""), {"n": n, "total": n * k})
    for definition in rebuilt:
        conn.execute(text(definition))


def _drop_usage_indexes(conn: Connection, adding: int) -> list[str]:
    """When the events added outnumber those already there, dropping usage_events' secondary indexes
    and building them again afterwards (one sort each) is several times faster than maintaining them
    row by row, and leaves them compact. Returns the definitions to run again; the table is locked
    until the transaction ends, so generate on a bench database."""
    already = conn.execute(text("SELECT count(*) FROM (SELECT 1 FROM usage_events LIMIT :m) AS head"),
                           {"m": adding}).scalar_one()
    if already >= adding:
        return []
    found = conn.execute(text(
        "SELECT i.indexname, i.indexdef FROM pg_indexes AS i WHERE i.schemaname = current_schema() "
        "AND i.tablename = 'usage_events' AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c "
        "WHERE c.conrelid = 'usage_events'::regclass AND c.conname = i.indexname)")).all()
    for name, _ in found:
        conn.execute(text(f'DROP INDEX "{name}"'))  # a name PostgreSQL itself just listed
    return [definition for _, definition in found]


# --- SQLite (and any other database): the same distributions, row by row from Python ---

def subscriber_row(i: int, rng: random.Random, today: date, now: datetime) -> dict[str, Any]:
    r = [rng.random() for _ in range(29)]
    gender, city_i = weighted(r[0], GENDER), zipf(r[25], len(CITIES))
    contract, device_os, tier = weighted(r[26], CONTRACT), weighted(r[27], DEVICE_OS), weighted(r[28], TIER)
    city, region, branch, tz = CITIES[city_i]
    first = FEMALE[zipf(r[1], len(FEMALE))] if gender == "F" else MALE[zipf(r[1], len(MALE))]
    last = SURNAMES[zipf(r[2], len(SURNAMES))]
    models = MODELS[device_os]
    plans = POSTPAID_PLANS if contract == "postpaid" else PREPAID_PLANS
    age = min(max(34 + 12 * normal(r[4], r[5]), 14), 90)
    return {
        "msisdn": f"{PREFIX}{i:07d}", "first_name": first,
        "last_name": last + "a" if gender == "F" and last.endswith("v") else last,
        "language": weighted(r[3], LANGUAGE), "gender": gender,
        "birth_date": today - timedelta(days=int(age * 365.25)), "region": region,
        "city": None if r[6] < 0.02 else city, "branch": branch, "timezone": tz,
        "balance": round(math.exp(1.6 + 1.2 * normal(r[7], r[8])), 2), "network": weighted(r[9], NETWORK),
        "contract_type": contract, "tariff_plan": plans[zipf(r[10], len(plans))], "device_os": device_os,
        "device_model": models[zipf(r[14], len(models))],
        "activation_date": today - timedelta(days=int(min(math.floor(-math.log(1.0 - r[11]) * 1100), 7000))),
        "last_activity_at": None if r[12] < 0.02 else now - timedelta(days=365 * r[13] ** 4),
        "last_recharge_at": None if contract == "postpaid" else now - timedelta(days=180 * r[15] ** 3),
        "last_recharge_amount": None if contract == "postpaid" else weighted(r[16], DENOMINATION),
        "arpu": round(math.exp(1.4 + 0.9 * normal(r[16], r[17])) * (2.5 if contract == "postpaid" else 1), 2),
        "data_mb_month": 0 if device_os in ("kaios", "other") or r[18] < 0.08 else int(min(lomax(r[19], 900, 1.2),
                                                                                           300000)),
        "voice_min_month": int(min(lomax(r[20], 80, 1.3), 30000)), "sms_month": int(min(lomax(r[21], 6, 1.5), 5000)),
        "roaming": r[22] < 0.02, "loyalty_tier": tier,
        "loyalty_points": 0 if tier is None else int(TIER_POINTS[tier] * (0.2 + 1.6 * r[23])),
        "attributes": {"channel": CHANNELS[zipf(r[24], len(CHANNELS))]}, "created_at": now,
        "updated_at": now,
    }


def event_amount(kind: str, u: float) -> float:
    if kind == "call_out":
        return round(min(0.1 + lomax(u, 3, 1.8), 600), 1)
    if kind == "call_in":
        return round(min(0.1 + lomax(u, 2.5, 1.8), 600), 1)
    if kind == "data":
        return round(min(0.01 + lomax(u, 30, 1.2), 20000), 2)
    if kind == "sms_out":
        return float(1 + math.floor(lomax(u, 1, 2.5)))
    if kind == "recharge":
        return float(weighted(u, DENOMINATION))
    return round(0.5 + lomax(u, 5, 2.0), 2)


def _generate_python(conn: Connection, n: int, k: int, seed: int, chunk: int = 5000) -> None:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    rows = [subscriber_row(i, rng, now.date(), now) for i in range(n)]
    for start in range(0, n, chunk):  # through the typed table: dates and JSON stored as the app stores them
        conn.execute(insert(Subscriber.__table__), rows[start:start + chunk])
    ids = dict(conn.execute(text(f"SELECT msisdn, id FROM subscribers WHERE {bench_range()}")).all())
    by_index = [ids[r["msisdn"]] for r in rows]
    tags, opt_outs = [], []
    for i, row in enumerate(rows):
        r = rng.random()
        if r < 0.30:
            picked = {TAGS[zipf(rng.random(), len(TAGS))] for _ in range(1 + math.floor((r / 0.30) ** 2 * 3))}
            tags += [(by_index[i], t) for t in sorted(picked)]
        if rng.random() < 0.01:
            opt_outs.append(row["msisdn"])
    if tags:
        conn.execute(insert(SubscriberTag.__table__), [{"subscriber_id": s, "tag": t} for s, t in tags])
    if opt_outs:  # the range was emptied above, so none of these can be there already
        conn.execute(insert(OptOut.__table__), [{"msisdn": m, "channel": "sms", "source": "bench"} for m in opt_outs])
    events = []
    for _ in range(n * k):
        r1, r2, r3, r4 = rng.random(), rng.random(), rng.random(), rng.random()
        kind = weighted(r2, KIND)
        events.append({"subscriber_id": by_index[(math.floor(n * r1 ** 3) * SPREAD) % n], "kind": kind,
                       "at": now - timedelta(days=USAGE_DAYS * r3), "amount": event_amount(kind, r4)})
    events.sort(key=lambda e: e["at"])
    for start in range(0, len(events), chunk):
        conn.execute(insert(UsageEvent.__table__), events[start:start + chunk])
