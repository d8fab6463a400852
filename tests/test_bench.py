"""`engage bench send` runs a real campaign and reports its figures as one JSON line."""

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("backend", ["embedded", "production"], indirect=True)
def test_bench_send_reports_every_recipient_delivered_none_lost(backend, tmp_path):
    _, broker_url, url = backend
    env = {**os.environ, "ENGAGE_DATABASE_URL": url, "ENGAGE_BROKER_URL": broker_url}
    done = subprocess.run([sys.executable, "-m", "engage.cli", "bench", "send", "--recipients", "300",
                           "--receipt-delay", "0.05", "--quiet"], env=env, capture_output=True, text=True,
                          timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["recipients"] == 300
    assert (figures["delivered"], figures["failed"], figures["lost"], figures["duplicates"]) == (300, 0, 0, 0)
    assert figures["submitted_per_s"] > 0 and figures["receipts_per_s"] > 0
    assert all(mb > 0 for mb in figures["peak_rss_mb"].values())
