"""`engage export` as a person types it: a run prints its manifests, phone numbers in clear only for a
named active admin into a directory of its own (and audited), the schema in markdown."""

from __future__ import annotations

import duckdb
import pytest
from sqlalchemy import select

from engage.engine.store.schema import AuditEntry
from engage.engine.users import create_user
from tests.campaign_setup import add_subscribers


@pytest.fixture
def cli(engage_cli, engine, tmp_path, monkeypatch):
    monkeypatch.setenv("ENGAGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ENGAGE_EXPORTS_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("ENGAGE_EXPORT_SETTLE", "0")
    add_subscribers(engine, 3)
    with engine.begin() as conn:
        create_user(conn, "root@example.com", "admin", password="a long password 1", actor="test")
        create_user(conn, "mia@example.com", "marketer", password="a long password 2", actor="test")
    return engage_cli


def test_export_run_writes_every_dataset_and_prints_their_manifests(cli, tmp_path):
    code, out, _ = cli("export", "run", "--quiet")
    assert code == 0
    assert {m["dataset"]: m["rows"] for m in out}["subscribers"] == 3
    assert duckdb.sql(f"SELECT count(*) FROM read_parquet('{tmp_path}/exports/subscribers/**/*.parquet', "
                      "hive_partitioning = true)").fetchall()[0][0] == 3


def test_one_dataset_into_another_directory(cli, tmp_path):
    code, out, _ = cli("export", "run", "--quiet", "--dataset", "subscribers", "--to", str(tmp_path / "elsewhere"))
    assert code == 0 and [m["dataset"] for m in out] == ["subscribers"]
    assert (tmp_path / "elsewhere" / "subscribers" / "_manifest.json").is_file()
    assert not (tmp_path / "exports").exists()


def test_an_unknown_dataset_is_named(cli):
    with pytest.raises(SystemExit, match="no export dataset 'mesages'"):
        cli("export", "run", "--dataset", "mesages")


def test_numbers_in_clear_are_refused_without_an_admin(cli, tmp_path):
    with pytest.raises(SystemExit, match="need an admin named with --as"):
        cli("export", "run", "--clear-msisdn", "--to", str(tmp_path / "clear"))
    with pytest.raises(SystemExit, match="not an active admin"):
        cli("export", "run", "--clear-msisdn", "--as", "mia@example.com", "--to", str(tmp_path / "clear"))
    assert not (tmp_path / "clear").exists()


def test_numbers_in_clear_never_go_into_the_directory_bi_reads(cli):
    with pytest.raises(SystemExit, match="directory of their own|own directory"):
        cli("export", "run", "--clear-msisdn", "--as", "root@example.com", "--quiet")


def test_an_admin_gets_numbers_in_clear_and_the_audit_log_says_so(cli, engine, tmp_path):
    code, _, _ = cli("export", "run", "--clear-msisdn", "--as", "root@example.com", "--dataset", "subscribers",
                     "--to", str(tmp_path / "clear"), "--quiet")
    assert code == 0
    numbers = duckdb.sql(f"SELECT msisdn FROM read_parquet('{tmp_path}/clear/subscribers/**/*.parquet') "
                         "ORDER BY 1").fetchall()
    assert [n[0] for n in numbers] == ["+998900000001", "+998900000002", "+998900000003"]
    with engine.connect() as conn:
        entry = conn.execute(select(AuditEntry).where(AuditEntry.action == "export.clear_msisdn")).one()
    assert entry.details["admin"] == "root@example.com" and entry.actor.startswith("cli:")


def test_export_schema_prints_every_dataset_in_markdown(cli, capsys):
    from engage.cli import main

    assert main(["export", "schema"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("# Parquet exports for BI")
    assert "## messages" in printed and "| `msisdn_hash` | string |" in printed
