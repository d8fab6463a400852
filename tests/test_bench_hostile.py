"""`engage bench hostile` throws an attacker's requests at a real `engage serve` and reports, as one
JSON line, each answer's status and time, the slowest sign-in page meanwhile and the growth of the
web process."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_bench_hostile_reports_each_request_refused_quickly_and_small(database_url, tmp_path):
    env = {**os.environ, "ENGAGE_DATABASE_URL": database_url, "ENGAGE_HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "engage.cli", "bench", "hostile", "--only", "10**9",
                           "--only", "prefixes", "--only", "900 deep"], env=env, capture_output=True, text=True,
                          timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert [r["request"] for r in figures["requests"]] == [
        "template 'x'*10**9", "segment 100,000 prefixes", "segment JSON 900 deep"]
    assert figures["statuses"] == [400]
    assert figures["max_seconds"] < 5 and figures["max_sign_in_ms"] < 5000  # generous: the limits are asserted
    assert 0 <= figures["max_rss_growth_mb"] < 100  # where they are enforced; here, that it measures
