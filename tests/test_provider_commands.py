"""`engage provider ...` as an operator uses it: every kind checked by its own rules before it is
stored, secrets never shown or audit-logged, and a status that says how each provider is doing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

from rich.console import Console
from sqlalchemy import select

from engage.cli.provider_commands import status_table
from engage.engine.broker import connect
from engage.engine.broker.queues import send_queue
from engage.engine.providers.status import upsert
from engage.engine.store.schema import AuditEntry, Provider

HTTP = {"url": "https://api.example.com/sms", "callback_base": "https://engage.example.com",
        "body": {"to": "{to}", "text": "{text}"}, "headers": {"Authorization": "Bearer s3cret-bearer"},
        "callback": {"id_field": "id", "status_field": "status", "status_map": {"delivered": "DELIVRD"}}}




def _stored(engine, name: str):
    with engine.connect() as conn:
        return conn.execute(select(Provider.__table__).where(Provider.name == name)).one()


def _audit(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(AuditEntry.__table__).order_by(AuditEntry.id)).all()


def test_smpp_flags_become_the_stored_config(engage_cli, engine):
    code, out, _ = engage_cli("provider", "add", "--name", "beeline", "--host", "smsc.example", "--port", "2776",
                       "--system-id", "acct", "--password", "pw", "--system-type", "VMA", "--bind-mode",
                       "transmitter_receiver", "--long-messages", "sar", "--data-coding", "1", "--source-ton", "1",
                       "--source-npi", "1", "--enquire-link", "15", "--binds", "3", "--window", "20",
                       "--tps", "250", "--priority", "5")
    assert code == 0 and out[0]["provider_id"] > 0
    row = _stored(engine, "beeline")
    assert (row.kind, row.tps, row.priority, row.enabled) == ("smpp", 250, 5, True)
    assert {k: row.config.get(k) for k in ("host", "port", "system_id", "password", "system_type", "bind_mode",
                                           "long_messages", "data_coding", "source_ton", "source_npi",
                                           "enquire_link_interval", "binds", "window")} == {
        "host": "smsc.example", "port": 2776, "system_id": "acct", "password": "pw", "system_type": "VMA",
        "bind_mode": "transmitter_receiver", "long_messages": "sar", "data_coding": 1, "source_ton": 1,
        "source_npi": 1, "enquire_link_interval": 15.0, "binds": 3, "window": 20}


def test_config_json_is_merged_over_the_flags(engage_cli, engine, tmp_path):
    extra = tmp_path / "smpp.json"
    extra.write_text('{"window": 64, "system_type": "X"}')
    code, _, _ = engage_cli("provider", "add", "--name", "p", "--system-id", "a", "--password", "pw", "--window", "8",
                     "--config", f"@{extra}")
    assert code == 0
    assert _stored(engine, "p").config["window"] == 64 and _stored(engine, "p").config["system_type"] == "X"


def test_the_password_can_come_from_the_environment(engage_cli, engine, monkeypatch):
    monkeypatch.setenv("SMSC_PW", "from-env")
    assert engage_cli("provider", "add", "--name", "p", "--system-id", "a", "--password-env", "SMSC_PW")[0] == 0
    assert _stored(engine, "p").config["password"] == "from-env"


def test_a_password_variable_that_is_not_set_is_an_error(engage_cli, engine):
    code, out, err = engage_cli("provider", "add", "--name", "p", "--system-id", "a", "--password-env", "NO_SUCH_VAR_X")
    assert code == 2 and out == []
    assert "error: environment variable NO_SUCH_VAR_X (for password) is not set" in err


def test_a_config_the_kind_refuses_is_reported_and_not_stored(engage_cli, engine):
    code, _, err = engage_cli("provider", "add", "--name", "k", "--kind", "kannel", "--config",
                       '{"url": "http://kannel:13013/cgi-bin/sendsms", "callback_base": "http://engage:8888"}')
    assert code == 2
    assert err.strip() == "error: username: required, the sendsms-user's username"
    with engine.connect() as conn:
        assert conn.execute(select(Provider.id)).first() is None


def test_smpp_flags_are_refused_for_other_kinds(engage_cli):
    code, _, err = engage_cli("provider", "add", "--name", "k", "--kind", "kannel", "--host", "x", "--config", "{}")
    assert code == 2 and "--host: SMPP options; give kannel settings with --config" in err


def test_an_unknown_kind_names_the_known_ones(engage_cli):
    code, _, err = engage_cli("provider", "add", "--name", "x", "--kind", "smtp", "--config", "{}")
    assert code == 2 and "unknown provider kind 'smtp': expected one of" in err and "kannel" in err


def test_two_providers_cannot_share_a_name(engage_cli):
    assert engage_cli("provider", "add", "--name", "p", "--system-id", "a", "--password", "pw")[0] == 0
    code, _, err = engage_cli("provider", "add", "--name", "p", "--system-id", "b", "--password", "pw")
    assert code == 2 and "a provider named 'p' already exists" in err


def test_list_masks_the_smpp_password(engage_cli):
    engage_cli("provider", "add", "--name", "smpp", "--system-id", "a", "--password", "s3cretpw")
    code, out, _ = engage_cli("provider", "list")
    assert code == 0 and out[0]["config"]["password"] == "***" and "s3cret" not in json.dumps(out)


def test_secrets_of_any_key_can_come_from_the_environment(engage_cli, engine, monkeypatch):
    monkeypatch.setenv("KANNEL_PW", "s3cret-kannel")
    code, _, _ = engage_cli("provider", "add", "--name", "k", "--kind", "kannel", "--secret-env", "password=KANNEL_PW",
                     "--config", json.dumps({"url": "http://kannel:13013/cgi-bin/sendsms",
                                             "callback_base": "http://engage:8888", "username": "u"}))
    assert code == 0 and _stored(engine, "k").config["password"] == "s3cret-kannel"


def test_list_masks_http_tokens_and_authorization_headers(engage_cli):
    assert engage_cli("provider", "add", "--name", "json", "--kind", "http_json", "--config", json.dumps(HTTP))[0] == 0
    _, out, _ = engage_cli("provider", "list")
    config = out[0]["config"]
    assert config["headers"]["Authorization"] == "***" and config["callback_token"] == "***"
    assert "s3cret" not in json.dumps(out)


def test_update_merges_config_keys_and_keeps_the_password(engage_cli, engine):
    engage_cli("provider", "add", "--name", "p", "--system-id", "a", "--password", "pw", "--window", "8")
    code, out, _ = engage_cli("provider", "update", "p", "--window", "50", "--tps", "900",
                              "--config", '{"system_type": "Q"}')
    assert code == 0 and out[0]["config"]["password"] == "***" and out[0]["tps"] == 900
    row = _stored(engine, "p")
    assert (row.config["window"], row.config["system_type"], row.config["password"]) == (50, "Q", "pw")


def test_update_by_id_changes_the_password_when_given(engage_cli, engine):
    _, out, _ = engage_cli("provider", "add", "--name", "p", "--system-id", "a", "--password", "old")
    assert engage_cli("provider", "update", str(out[0]["provider_id"]), "--password", "new")[0] == 0
    assert _stored(engine, "p").config["password"] == "new"


def test_a_listed_config_given_back_keeps_its_secrets(engage_cli, engine):
    engage_cli("provider", "add", "--name", "p", "--system-id", "a", "--password", "pw")
    _, listed, _ = engage_cli("provider", "list")
    config = {**listed[0]["config"], "window": 99}
    assert engage_cli("provider", "update", "p", "--config", json.dumps(config))[0] == 0
    assert _stored(engine, "p").config["password"] == "pw" and _stored(engine, "p").config["window"] == 99


def test_update_checks_the_merged_config_with_the_kind(engage_cli, engine):
    engage_cli("provider", "add", "--name", "k", "--kind", "kannel", "--config", json.dumps(
        {"url": "http://kannel:13013/cgi-bin/sendsms", "callback_base": "http://engage:8888", "username": "u",
         "password": "p"}))
    code, _, err = engage_cli("provider", "update", "k", "--config", '{"dlr_mask": 99}')
    assert code == 2 and err.startswith("error: dlr_mask:")
    assert "dlr_mask" not in _stored(engine, "k").config or _stored(engine, "k").config["dlr_mask"] != 99


def test_updating_a_provider_that_does_not_exist_is_an_error(engage_cli):
    code, _, err = engage_cli("provider", "update", "nope", "--tps", "5")
    assert code == 2 and "no provider named or numbered 'nope'" in err


def test_disable_and_enable_switch_the_provider(engage_cli, engine):
    engage_cli("provider", "add", "--name", "p", "--system-id", "a", "--password", "pw")
    assert engage_cli("provider", "disable", "p")[1][0]["enabled"] is False
    assert _stored(engine, "p").enabled is False
    assert engage_cli("provider", "enable", "p")[1][0]["enabled"] is True
    assert [a.action for a in _audit(engine)] == ["provider.add", "provider.disable", "provider.enable"]


def test_every_change_is_audited_without_secrets(engage_cli, engine, monkeypatch):
    monkeypatch.setenv("PW2", "s3cret-2")
    engage_cli("provider", "add", "--name", "p", "--system-id", "a", "--password", "s3cret-1")
    engage_cli("provider", "update", "p", "--password-env", "PW2", "--window", "3")
    engage_cli("provider", "add", "--name", "json", "--kind", "http_json", "--config", json.dumps(HTTP))
    entries = _audit(engine)
    assert [a.action for a in entries] == ["provider.add", "provider.update", "provider.add"]
    assert all(a.actor.startswith("cli:") for a in entries)
    assert entries[1].details["changes"]["config"] == {"password": "***", "window": 3}
    assert "s3cret" not in json.dumps([a.details for a in entries])


def test_status_reports_health_window_queue_depth_and_error_rates(engage_cli, engine, monkeypatch):
    monkeypatch.setenv("ENGAGE_QUEUE_PREFIX", f"t{uuid.uuid4().hex[:8]}")
    _, out, _ = engage_cli("provider", "add", "--name", "p", "--system-id", "a", "--password", "pw")
    pid = out[0]["provider_id"]
    with engine.begin() as conn:
        upsert(conn, pid, "host:1", {"healthy": True, "binds_up": 1, "binds": 2, "in_flight": 8, "window": 64,
                                     "tps": 42.5, "submitted": 200, "throttled": 2, "temporary_errors": 1,
                                     "permanent_errors": 0, "detail": {}})
    with connect(os.environ["ENGAGE_BROKER_URL"]) as broker:
        for _ in range(3):
            broker.publish(send_queue(pid), b"{}")
        code, out, _ = engage_cli("provider", "status")
    assert code == 0 and len(out) == 1
    s = out[0]
    assert (s["name"], s["enabled"], s["healthy"], s["binds_up"], s["binds"]) == ("p", True, True, 1, 2)
    assert (s["tps"], s["in_flight"], s["window"], s["window_use"], s["queue_depth"]) == (42.5, 8, 64, 0.125, 3)
    assert s["error_rates"] == {"throttled": 0.01, "temporary": 0.005, "permanent": 0.0}
    assert s["last_heartbeat_age"] is not None and s["last_heartbeat_age"] < 5


def test_status_watch_renders_a_table():
    row = {"name": "beeline", "kind": "smpp", "enabled": True, "healthy": False, "binds_up": 1, "binds": 2,
           "tps": 12.5, "in_flight": 3, "window": 32, "queue_depth": 7, "last_heartbeat_age": 20.0,
           "error_rates": {"throttled": 0.5, "temporary": None, "permanent": 0.0}}
    console = Console(record=True, width=160)
    console.print(status_table([row]))
    text = console.export_text()
    assert "beeline" in text and "1/2" in text and "3/32" in text and "50.00%" in text and "20s ago" in text


def test_status_shows_a_running_sender_and_forgets_it_when_it_stops(engine, database_url, rabbitmq_url, smsc):
    env = {**os.environ, "ENGAGE_DATABASE_URL": database_url, "ENGAGE_BROKER_URL": rabbitmq_url,
           "ENGAGE_QUEUE_PREFIX": f"t{uuid.uuid4().hex[:8]}"}
    engage = [sys.executable, "-m", "engage.cli"]

    def status() -> dict:
        done = subprocess.run([*engage, "provider", "status"], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    subprocess.run([*engage, "provider", "add", "--name", "sim", "--port", str(smsc.port), "--system-id", "engage",
                    "--password", "secret", "--binds", "2"], env=env, check=True, capture_output=True)
    worker = subprocess.Popen([*engage, "worker", "send"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not (shown := status())["healthy"] and time.monotonic() < deadline:
            time.sleep(0.3)
        assert (shown["binds_up"], shown["binds"], shown["workers"], shown["queue_depth"]) == (2, 2, 1, 0)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=60)
        with connect(rabbitmq_url) as broker:
            for queue in ("send.1", "receipts"):
                broker.delete(f"{env['ENGAGE_QUEUE_PREFIX']}.{queue}")
    assert worker.returncode == 0, err
    gone = status()
    assert gone["healthy"] is False and gone["workers"] == 0 and gone["last_heartbeat_age"] is None
