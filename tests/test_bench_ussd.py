"""`engage bench ussd` walks USSD sessions through a real `engage serve` over HTTP and reports the
time per hop, as one JSON line: on both databases, with tiny numbers."""

import json
import os
import subprocess
import sys


def test_bench_ussd_walks_every_session_to_its_end_and_reports_the_time_per_hop(database_url, tmp_path):
    env = {**os.environ, "ENGAGE_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "engage.cli", "bench", "ussd", "--sessions", "6", "--hops", "5",
                           "--think", "0.05"], env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert (figures["requests"], figures["errors"], figures["sessions_ended"]) == (30, 0, 6), figures["error_samples"]
    assert [hop["hop"] for hop in figures["by_hop"]] == [1, 2, 3, 4, 5]
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    assert figures["hops_per_s"] > 0


def test_bench_ussd_refuses_sessions_below_one(database_url, tmp_path):
    env = {**os.environ, "ENGAGE_DATABASE_URL": database_url}
    done = subprocess.run([sys.executable, "-m", "engage.cli", "bench", "ussd", "--sessions", "0"], env=env,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and "--sessions and --hops must be at least 1" in done.stderr
