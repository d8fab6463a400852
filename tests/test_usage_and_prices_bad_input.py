"""Usage (CDR) imports and price tables read files as subscriber imports do: a bad row (a NUL
byte, a byte the encoding cannot decode, a quote left open) is rejected with its line and the good
rows are kept; a file that is not CSV text is refused with a clear error, in one line from the
CLI and as a 400 from the API, never a traceback or a 500; one event given twice counts once."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, insert, select

from engage.engine.routes.price_tables import PriceTableError, import_csv
from engage.engine.store.schema import Provider, RoutePrice, Subscriber, UsageEvent
from engage.engine.subscribers.rows import RowError
from engage.engine.usage.events_import import import_events
from tests.fixtures.web import serving, signed_in

AT = (datetime.now(UTC) - timedelta(days=1)).replace(microsecond=0).isoformat()


@pytest.fixture
def people(engine):
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__), [{"id": i, "msisdn": f"+99890100000{i}", "attributes": {}}
                                                    for i in (1, 2)])
    return engine


def events(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(UsageEvent)).scalar()


def usage_file(tmp_path: Path, bad: bytes, good: int = 3000) -> Path:
    lines = [f"+998901000001,call_out,{AT},{i}".encode() for i in range(good)]
    lines.insert(good // 2, bad)
    path = tmp_path / "usage.csv"
    path.write_bytes(b"msisdn,kind,at,amount\n" + b"\n".join(lines) + b"\n")
    return path


def test_a_usage_row_with_a_nul_byte_is_rejected_and_the_others_imported(people, tmp_path):
    report = import_events(people, usage_file(tmp_path, f"+998901000002,sms_out,{AT},1\x00".encode()), "UZ",
                           refresh=False)
    assert (report.rows, report.imported, events(people)) == (3001, 3000, 3000)
    assert report.rejected == [(1502, "amount: a control character (U+0000) at character 2")]


def test_a_usage_row_with_a_latin1_byte_is_rejected_naming_the_byte(people, tmp_path):
    report = import_events(people, usage_file(tmp_path, f"+998901000002,sms_out\xe9,{AT},1".encode("latin-1")),
                           "UZ", refresh=False)
    assert (report.imported, [line for line, _ in report.rejected]) == (3000, [1502])
    assert report.rejected[0][1].startswith("kind: not UTF-8 (byte 0xE9 at character 8)")


def test_a_usage_file_in_utf16_with_its_mark_is_read(people, tmp_path):
    path = tmp_path / "usage.csv"
    path.write_bytes(f"msisdn,kind,at,amount\n+998901000001,data,{AT},5\n".encode("utf-16"))
    assert import_events(people, path, "UZ", refresh=False).imported == 1


def test_an_open_quote_in_a_usage_file_rejects_its_row_and_the_rows_after_it_are_imported(people, tmp_path):
    report = import_events(people, usage_file(tmp_path, b'+998901000002,"sms_out,' + AT.encode() + b",1", good=20),
                           "UZ", refresh=False)
    assert (report.imported, [line for line, _ in report.rejected]) == (20, [12])


def test_a_binary_usage_file_is_refused(people, tmp_path):
    path = tmp_path / "usage.csv"
    path.write_bytes(bytes(range(256)) * 64)
    with pytest.raises(RowError, match="not a CSV file"):
        import_events(people, path, "UZ", refresh=False)


def test_a_truncated_usage_parquet_is_refused(people, tmp_path):
    path = tmp_path / "usage.parquet"
    pq.write_table(pa.table({"msisdn": ["+998901000001"] * 20, "kind": ["data"] * 20}), path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(RowError, match="not a readable Parquet file"):
        import_events(people, path, "UZ", refresh=False)


def test_one_event_with_its_number_spelt_three_ways_is_stored_and_counted_once(people, tmp_path):
    path = tmp_path / "usage.csv"
    path.write_text(f"msisdn,kind,at,amount\n+998901000001,data,{AT},5\n998901000001,DATA,{AT},5.0\n"
                    f"+998 90 100 00 01,data,{AT},5\n+998901000001,data,{AT},6\n", encoding="utf-8")
    report = import_events(people, path, "UZ", refresh=False, chunk_rows=2)
    assert (report.rows, report.imported, report.duplicates, report.rejected) == (4, 2, 2, [])
    assert report.as_dict()["duplicates"] == 2
    assert events(people) == 2


@pytest.fixture
def providers(engine):
    with engine.begin() as conn:
        conn.execute(insert(Provider.__table__).values(name="alpha", kind="smpp", config={}, tps=1, priority=1,
                                                       enabled=True))
    return engine


PRICES = "provider,prefix,network,price,currency\nalpha,99890,Beeline,0.02,USD\n"


def prices_file(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "prices.csv"
    path.write_bytes(data)
    return path


def test_a_price_row_with_a_latin1_byte_is_rejected_by_line_and_field_and_the_others_kept(providers, tmp_path):
    data = (PRICES + "alpha,99891,Soci\xe9t\xe9,0.03,USD\nalpha,99893,Ucell,0.04,USD\n").encode("latin-1")
    report = import_csv(providers, prices_file(tmp_path, data), actor="t")
    assert (report.rows, report.imported) == (3, 2)
    [(line, field, reason)] = report.rejected
    assert (line, field) == (3, "network") and reason.startswith("not UTF-8 (byte 0xE9 at character 5)")


def test_a_latin1_price_table_is_read_with_its_declared_encoding(providers, tmp_path):
    data = (PRICES + "alpha,99891,Soci\xe9t\xe9,0.03,USD\n").encode("latin-1")
    report = import_csv(providers, prices_file(tmp_path, data), actor="t", encoding="latin-1")
    assert (report.imported, report.rejected) == (2, [])
    with providers.connect() as conn:
        assert "Soci\xe9t\xe9" in conn.execute(select(RoutePrice.network)).scalars().all()


def test_a_price_row_with_a_nul_byte_is_rejected_not_the_import(providers, tmp_path):
    report = import_csv(providers, prices_file(tmp_path, (PRICES + "alpha,99891,Be\x00e,0.03,USD\n").encode()),
                        actor="t")
    assert (report.imported, report.rejected) == (1, [(3, "network", "a control character (U+0000) at character 3")])


def test_a_binary_price_table_is_refused_whole(providers, tmp_path):
    with pytest.raises(PriceTableError, match="not a CSV file"):
        import_csv(providers, prices_file(tmp_path, bytes(range(256)) * 64), actor="t")


def post(base: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(base + "/api/v1/routes/import", data=body, method="POST",
                                     headers={"Content-Type": "text/csv", "Authorization": "Bearer hq-token"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_api_imports_a_non_utf8_price_table_reporting_the_bad_row(providers):
    with serving(providers, tokens="hq-token") as base:
        status, body = post(base, (PRICES + "alpha,99891,Soci\xe9t\xe9,0.03,USD\n").encode("latin-1"))
    assert status == 200 and (body["imported"], body["rejected"]) == (1, 1)
    assert body["rejections"][0]["field"] == "network"


def test_the_api_refuses_a_binary_price_table_with_a_400(providers):
    with serving(providers, tokens="hq-token") as base:
        status, body = post(base, bytes(range(256)) * 64)
    assert status == 400 and "not a CSV file" in body["error"] and "/tmp" not in body["error"]


def upload_prices(browser, data: bytes):
    boundary = "engage-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"_xsrf\"\r\n\r\n{browser.cookie('_xsrf')}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"prices\"; filename=\"prices.csv\"\r\n"
            "Content-Type: text/csv\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return browser.request("POST", "/providers", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})


@pytest.mark.parametrize(("data", "message"), [(bytes(range(256)) * 64, "not a CSV file"),
                                               (b"provider,price\nalpha,1\n", "the header lacks currency")],
                         ids=["binary", "no-currency"])
def test_the_providers_page_shows_why_a_price_table_was_refused(providers, quick_hashes, data, message):
    with serving(providers) as base:
        admin = signed_in(providers, base, "admin")
        reply = upload_prices(admin, data)
    assert reply.status == 200 and message in reply.body and "/tmp" not in reply.body


@pytest.mark.parametrize("command", [["usage", "import"], ["routes", "import"]], ids=["usage", "routes"])
def test_the_cli_refuses_a_binary_file_in_one_line_without_a_traceback(tmp_path, command):
    path = tmp_path / "data.csv"
    path.write_bytes(bytes(range(256)) * 64)
    subprocess.run([sys.executable, "-m", "engage.cli", "db", "upgrade"], check=True, capture_output=True,
                   env={"ENGAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}", "PATH": "/usr/bin:/bin"})
    done = subprocess.run([sys.executable, "-m", "engage.cli", *command, str(path), "--quiet"],
                          env={"ENGAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}", "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "not a CSV file" in done.stderr


def test_the_cli_reads_a_price_table_in_a_declared_encoding(tmp_path):
    env = {"ENGAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'e.db'}", "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-m", "engage.cli", "db", "upgrade"], check=True, capture_output=True, env=env)
    path = prices_file(tmp_path, "provider,prefix,network,price,currency\nnobody,998,Soci\xe9t\xe9,1,USD\n"
                                 .encode("latin-1"))
    done = subprocess.run([sys.executable, "-m", "engage.cli", "routes", "import", str(path), "--encoding", "latin-1",
                           "--quiet"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rejected"] == 1
    assert "no provider named 'nobody'" in (tmp_path / "prices.rejected.csv").read_text(encoding="utf-8")
