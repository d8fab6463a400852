"""`engage bench stop` texts STOP to recipients of a paced campaign while it sends and reports, from
the simulator's log, what reached them after: nothing later than the grace."""

import json
import os
import subprocess
import sys

import pytest


@pytest.mark.parametrize("backend", ["embedded", "production"], indirect=True)
def test_bench_stop_reports_nothing_sent_after_the_grace_and_every_stop_confirmed(backend, tmp_path):
    _, broker_url, url = backend
    env = {**os.environ, "ENGAGE_DATABASE_URL": url, "ENGAGE_BROKER_URL": broker_url}
    done = subprocess.run([sys.executable, "-m", "engage.cli", "bench", "stop", "--recipients", "900", "--rate", "150",
                           "--stops", "8"], env=env, capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["all_final"] and figures["recipients"] == 900
    assert figures["stops"] == 8 and figures["stop_confirmations"] == 8
    assert figures["sent_after_grace"] == 0
    assert figures["set_aside_opted_out"] + figures["sent_before_stop"] + figures["sent_within_grace"] == 8
