"""`engage routes ...` as an operator runs it: import a price table, list it, quote a number."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ENGAGE = [sys.executable, "-m", "engage.cli"]

PRICES = """provider,prefix,mcc_mnc,network,price,currency,valid_from
cheap,99890,434-04,Beeline,0.015,USD,2025-01-01
dear,998,,,0.030,USD,2025-01-01
cheap,99x,,,0.01,USD,
ghost,998,,,0.01,USD,
"""


@pytest.fixture
def bare_env(tmp_path):
    env = {**os.environ, "ENGAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'engage.db'}",
           "ENGAGE_BROKER_URL": "memory://", "ENGAGE_HOME": str(tmp_path / ".engage")}
    env.pop("ENGAGE_CURRENCY_RATES", None)
    return env


@pytest.fixture
def env(bare_env, database_url):
    """A migrated database of each kind with two providers: cheap (priority 50) and dear (priority 10)."""
    env = {**bare_env, "ENGAGE_DATABASE_URL": database_url}
    run(env, "db", "upgrade")
    for name, priority in (("cheap", "50"), ("dear", "10")):
        run(env, "provider", "add", "--name", name, "--system-id", name, "--password", "secret",
            "--priority", priority)
    return env


def run(env, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([*ENGAGE, *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done


def lines(done: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_import_reports_counts_and_writes_rejected_rows_with_reasons(env, tmp_path):
    csv = tmp_path / "prices.csv"
    csv.write_text(PRICES)
    report = lines(run(env, "routes", "import", str(csv), "--quiet"))[-1]
    assert report == {"rows": 4, "imported": 2, "rejected": 2, "report": str(tmp_path / "prices.rejected.csv")}
    rejected = (tmp_path / "prices.rejected.csv").read_text().splitlines()
    assert rejected[0] == "line,field,reason"
    assert rejected[1].startswith("4,prefix,")
    assert rejected[2].startswith("5,provider,\"no provider named 'ghost' (the providers are ")  # quoted: a list


def test_list_shows_a_providers_rows(env, tmp_path):
    csv = tmp_path / "prices.csv"
    csv.write_text(PRICES)
    run(env, "routes", "import", str(csv), "--quiet")
    listed = lines(run(env, "routes", "list", "--provider", "cheap"))
    assert [(r["prefix"], r["mcc_mnc"], r["price"], r["current"]) for r in listed] == [
        ("99890", "434-04", "0.015000", True)]


def test_quote_lists_the_candidates_cheapest_first(env, tmp_path):
    csv = tmp_path / "prices.csv"
    csv.write_text(PRICES)
    run(env, "routes", "import", str(csv), "--quiet")
    quoted = lines(run(env, "routes", "quote", "+998 90 123 45 67"))
    assert [(q["rank"], q["provider"], q["price"], q["network"], q["healthy"]) for q in quoted] == [
        (1, "cheap", "0.015000", "434-04", True), (2, "dear", "0.030000", "434-04", True)]


def test_quote_without_a_covering_route_says_so(env, tmp_path):
    csv = tmp_path / "prices.csv"
    csv.write_text(PRICES)
    run(env, "routes", "import", str(csv), "--quiet")
    done = fail(env, "routes", "quote", "+79031234567")
    assert "no route to +79031234567" in done.stderr


def test_quote_of_an_invalid_number_is_a_clear_error(bare_env):
    assert "not a valid phone number" in fail(bare_env, "routes", "quote", "not a number").stderr


def test_import_of_a_missing_file_is_a_clear_error(bare_env, tmp_path):
    assert "nope.csv: no such file" in fail(bare_env, "routes", "import", str(tmp_path / "nope.csv")).stderr


def fail(env, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([*ENGAGE, *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0, done.stdout
    return done
