"""`engage bench import`: a realistic subscriber file (15 columns, one row in a thousand bad)
imported into the configured database, measured. Numbers are +99833 followed by a 7-digit
index, a range kept for this bench, and are deleted afterwards unless `keep`."""

from __future__ import annotations

import csv
import random
import resource
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from engage import config
from engage.engine.store.database import make_engine
from engage.engine.store.migrate import upgrade
from engage.engine.store.schema import Subscriber
from engage.engine.subscribers import import_file
from engage.engine.subscribers.storage import delete_subscribers

PREFIX = "99833"
HEADER = ["msisdn", "first_name", "last_name", "language", "gender", "birth_date", "city", "balance",
          "contract_type", "tariff_plan", "device_os", "last_activity_at", "arpu", "roaming", "tags"]
NAMES = ["Aziz", "Anna", "Dilnoza", "Olga", "Rustam", "Sardor", "Malika", "Ivan", "Kamola", "Timur"]
SURNAMES = ["Karimov", "Ivanova", "Rashidova", "Petrov", "Yusupov", "Tursunova", "Aliev", "Smirnova"]
CITIES = ["Tashkent", "Samarkand", "Bukhara", "Namangan", "Andijan", "Fergana", "Nukus", "Karshi"]
PLANS = ["Start", "Smart 20", "Smart 40", "Unlim", "Family", "Business"]
OS = ["android", "ios", "kaios", ""]
TAGS = ["", "", "", "", "", "", "sport", "news;music"]  # a quarter subscribe to a VAS
BAD = ["12345", "not-a-number"]  # and a bad date, a bad gender, in turn


def run(rows: int, *, keep: bool = False) -> dict[str, Any]:
    """Write the file, import it, return the figures. keep: leave the file and the subscribers."""
    url = config.load().database_url
    upgrade(url)
    engine = make_engine(url)
    folder = Path(tempfile.mkdtemp(prefix="engage-import-bench-"))
    try:
        path = write_csv(folder / "subscribers.csv", rows)
        started = time.perf_counter()
        report = import_file(engine, path, "UZ")
        seconds = time.perf_counter() - started
        if not keep:
            with engine.begin() as conn:
                delete_subscribers(conn, Subscriber.msisdn.like(f"+{PREFIX}%"))
            if engine.dialect.name == "postgresql":  # as autovacuum would: the next run starts clean
                with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.exec_driver_sql("VACUUM subscribers, subscriber_tags")
        return {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds) if seconds else 0,
                "imported": report.imported, "rejected": len(report.rejected),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "database": engine.dialect.name, **({"file": str(path)} if keep else {})}
    finally:
        engine.dispose()
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


def write_csv(path: Path, rows: int, *, seed: int = 1) -> Path:
    """Numbers as operators export them (mostly digits without '+', some with, a few national)."""
    rng = random.Random(seed)
    start = date(1960, 1, 1)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for i in range(rows):
            number = f"{PREFIX}{i:07d}"
            form = i % 50
            msisdn = number if form > 4 else f"+{number}" if form > 0 else f"33 {i:07d}"
            gender, birth = rng.choice("MF"), (start + timedelta(days=rng.randrange(16000))).isoformat()
            bad = i % 1000 == 999
            if bad:
                kind = (i // 1000) % 4
                msisdn = BAD[kind] if kind < 2 else msisdn
                birth = "1990-13-01" if kind == 2 else birth
                gender = "Q" if kind == 3 else gender
            writer.writerow([
                msisdn, rng.choice(NAMES), rng.choice(SURNAMES), rng.choice(("uz", "ru", "en")), gender, birth,
                rng.choice(CITIES), f"{rng.randrange(0, 500000) / 100:.2f}", rng.choice(("prepaid", "postpaid")),
                rng.choice(PLANS), rng.choice(OS), f"2026-0{rng.randrange(1, 10)}-{rng.randrange(10, 29)}T10:00:00Z",
                f"{rng.randrange(100, 20000) / 100:.2f}", rng.choice(("0", "1", "")), rng.choice(TAGS)])
    return path
