"""The `engage` command as a user runs it: the README's walkthrough, and the demo."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

ENGAGE = [sys.executable, "-m", "engage.cli"]


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "ENGAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'engage.db'}",
            "ENGAGE_BROKER_URL": "memory://", "ENGAGE_HOME": str(tmp_path / ".engage")}


def engage(env, *args: str) -> dict:
    done = subprocess.run([*ENGAGE, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_readme_walkthrough_sends_a_campaign(env, tmp_path, smsc):
    subprocess.run([*ENGAGE, "db", "upgrade"], env=env, check=True, capture_output=True)
    csv = tmp_path / "subscribers.csv"
    csv.write_text("msisdn,first_name,language,city\n+998901000001,Aziz,uz,Tashkent\n"
                   "+998901000002,Anna,ru,Tashkent\n+998901000003,Sam,en,Bukhara\nbad,Row,en,Tashkent\n")
    imported = engage(env, "import", "subscribers", str(csv), "--region", "UZ", "--quiet")
    assert imported == {"rows": 4, "imported": 3, "rejected": 1, "report": str(tmp_path / "subscribers.rejected.csv")}
    assert "line" in (tmp_path / "subscribers.rejected.csv").read_text()
    segment = engage(env, "segment", "create", "--name", "Tashkent",
                     "--definition", '{"and": [{"field": "city", "value": "Tashkent"}]}')
    assert segment["reachable"] == 2
    template = engage(env, "template", "create", "--name", "welcome", "--body", "Hi {{ first_name }}!",
                      "--variant", "ru=Привет, {{ first_name }}!")
    engage(env, "provider", "add", "--name", "sim", "--port", str(smsc.port), "--system-id", "engage",
           "--password", "secret")
    campaign = engage(env, "campaign", "create", "--name", "Welcome", "--segment", str(segment["segment_id"]),
                      "--template", str(template["template_id"]), "--sender", "Engage")
    assert engage(env, "campaign", "launch", str(campaign["campaign_id"]))["recipients"] == 2
    worker = subprocess.Popen([*ENGAGE, "worker", "all"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            shown = engage(env, "campaign", "show", str(campaign["campaign_id"]))
            if shown["status"] == "completed":
                break
            time.sleep(0.3)
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=60)
    assert shown["counts"]["delivered"] == 2
    assert sorted(r.destination for r in smsc.received) == ["998901000001", "998901000002"]


def test_a_bad_segment_definition_is_refused_with_where_and_why(env):
    subprocess.run([*ENGAGE, "db", "upgrade"], env=env, check=True, capture_output=True)
    done = subprocess.run([*ENGAGE, "segment", "create", "--name", "x", "--definition",
                           '{"or": [{"field": "cty", "value": 1}]}'], env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "segment.or[0]: unknown field 'cty'" in done.stderr


def test_provider_list_never_shows_the_password(env):
    subprocess.run([*ENGAGE, "db", "upgrade"], env=env, check=True, capture_output=True)
    engage(env, "provider", "add", "--name", "p", "--system-id", "acct", "--password", "s3cr3tpw")
    listed = subprocess.run([*ENGAGE, "provider", "list"], env=env, capture_output=True, text=True, check=True)
    assert "s3cr3tpw" not in listed.stdout
    assert json.loads(listed.stdout)["config"]["password"] == "***"


def test_headless_demo_prints_final_counts_and_exits_zero(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ENGAGE_")}
    env["ENGAGE_HOME"] = str(tmp_path / ".engage")
    done = subprocess.run([*ENGAGE, "demo", "--headless", "--recipients", "150", "--exit-when-done"], env=env,
                          capture_output=True, text=True, timeout=240, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    # one in fifty is opted out; of the rest, the control group is held back and sent nothing
    assert result["counts"]["delivered"] + result["counts"]["control"] == result["recipients"] == 147
    assert 0 < result["counts"]["control"] < 147 * 0.3
    assert result["recharges"] > 0 and result["effectiveness_rows"] > 0  # the Analytics page has a report
    assert not any(result["counts"][s] for s in ("pending", "queued", "submitted"))
    assert result["inbound_handled"] == 10  # a few recipients texted back (STOP, JOIN, HELP, ...)
    assert result["ussd_code"] == "*123#" and result["ussd_callback"].startswith("/ussd/demo-africastalking")
    # the recharges went through the loyalty worker: every subscriber a member, points earned
    assert result["loyalty_enrolled"] > 0 and result["loyalty_scored"] == result["recharges"]
    assert result["loyalty_points"] > 0
    with sqlite3.connect(tmp_path / ".engage" / "demo.db") as db:  # JOIN texts a welcome of its own, not HELP's
        assert db.execute("SELECT t.name FROM keywords k JOIN templates t ON t.id = k.reply_template_id "
                          "WHERE k.word = 'JOIN'").fetchall() == [("Keyword reply: JOIN (demo)",)]


def test_a_command_on_a_database_without_the_schema_says_to_run_db_upgrade(env):
    done = subprocess.run([*ENGAGE, "segment", "count", "--definition", '{"field": "city", "value": "X"}'],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "has no engage schema yet; run `engage db upgrade`" in done.stderr
    assert "Traceback" not in done.stderr
