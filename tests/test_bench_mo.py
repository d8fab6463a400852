"""`engage bench mo` sends subscribers' messages through SMPP and reports them stored and handled,
as one JSON line."""

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("backend", ["embedded", "production"], indirect=True)
def test_bench_mo_reports_every_message_handled_every_stop_opted_out_and_every_reply_sent(backend, tmp_path):
    _, broker_url, url = backend
    env = {**os.environ, "ENGAGE_DATABASE_URL": url, "ENGAGE_BROKER_URL": broker_url}
    done = subprocess.run([sys.executable, "-m", "engage.cli", "bench", "mo", "--messages", "500",
                           "--stop-share", "0.1", "--keyword-share", "0.2"], env=env, capture_output=True, text=True,
                          timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert (figures["stored"], figures["handled"], figures["lost"]) == (500, 500, 0)
    assert (figures["stop"], figures["opted_out"]) == (50, 50)
    assert (figures["keyword"], figures["replies_due"], figures["replies_sent"]) == (100, 150, 150)
    assert figures["handled_per_s"] > 0
    assert all(mb > 0 for mb in figures["peak_rss_mb"].values())
