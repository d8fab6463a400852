"""The campaign lifecycle from the command line: options checked on create, submit, maker-checker
approval, a template preview, usage imports; each error a one-line message naming the problem."""

from __future__ import annotations

import subprocess

import pytest

from tests.test_cli import ENGAGE, engage


@pytest.fixture
def env(tmp_path):
    import os

    env = {**os.environ, "ENGAGE_DATABASE_URL": f"sqlite:///{tmp_path / 'engage.db'}",
           "ENGAGE_BROKER_URL": "memory://", "ENGAGE_HOME": str(tmp_path / ".engage")}
    subprocess.run([*ENGAGE, "db", "upgrade"], env=env, check=True, capture_output=True)
    (tmp_path / "subs.csv").write_text("msisdn,first_name,language\n998901234567,Ann,en\n998901234568,,ru\n")
    engage(env, "import", "subscribers", str(tmp_path / "subs.csv"), "--quiet")
    engage(env, "segment", "create", "--name", "all", "--definition",
           '{"field": "msisdn", "op": "starts_with", "value": "+998"}')
    engage(env, "template", "create", "--name", "t", "--body", "Hi {{ first_name | default('friend') }}",
           "--arm", "B:en=Hello {{ first_name }}")
    return env


def fails(env, *args: str) -> str:
    done = subprocess.run([*ENGAGE, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    return done.stderr.strip()


def test_a_scheduled_campaign_needing_approval_is_approved_by_someone_else(env):
    env = {**env, "ENGAGE_APPROVAL_ABOVE": "1"}
    created = engage(env, "campaign", "create", "--name", "c", "--segment", "1", "--template", "1", "--sender",
                     "Shop", "--schedule", '{"kind": "daily", "time": "10:00"}', "--quiet-hours", "21:00-09:00",
                     "--arms", '[{"arm": "A", "share": 50}, {"arm": "B", "share": 50}]')
    assert engage(env, "campaign", "submit", str(created["campaign_id"]))["status"] == "awaiting_approval"
    assert "another person must approve" in fails(env, "campaign", "approve", str(created["campaign_id"]))
    shown = engage(env, "campaign", "show", str(created["campaign_id"]))
    assert shown["status"] == "awaiting_approval" and shown["schedule"]["kind"] == "daily"


def test_a_bad_option_is_refused_naming_it(env):
    err = fails(env, "campaign", "create", "--name", "c", "--segment", "1", "--template", "1", "--sender", "Shop",
                "--schedule", '{"kind": "cron", "cron": "61 * * * *"}')
    assert err.startswith("error: schedule:")


def test_a_template_preview_shows_text_encoding_and_parts(env):
    shown = engage(env, "template", "preview", "1", "--msisdn", "998901234568")
    assert shown["text"] == "Hi friend" and shown["encoding"] == "gsm7" and shown["parts"] == 1


def test_usage_events_are_imported_and_bad_rows_reported(env, tmp_path):
    (tmp_path / "cdr.csv").write_text("msisdn,kind,at,amount\n998901234567,call_out,2026-11-01T10:00:00,12\n"
                                      "998901234567,calls,2026-11-01T10:00:00,1\n")
    out = engage(env, "usage", "import", str(tmp_path / "cdr.csv"), "--quiet")
    assert (out["imported"], out["rejected"]) == (1, 1) and out["report"].endswith("cdr.rejected.csv")
