"""A provider's configured TPS may be "none": its rate is not known, and the sender finds what the
SMSC accepts (engine.providers.pacing). Stored as NULL, set and cleared from the command line
and the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engage.engine.providers.records import add_smpp, update_provider
from engage.engine.store.schema import Provider
from tests.fixtures.web import serving
from tests.test_audience_api import _call

SMPP = ("--host", "smsc.example", "--system-id", "acct", "--password", "pw")




def stored_tps(engine, name: str) -> int | None:
    with engine.connect() as conn:
        return conn.execute(select(Provider.tps).where(Provider.name == name)).scalar_one()


def test_a_provider_added_with_tps_none_has_no_configured_rate(engage_cli, engine) -> None:
    code, _, _ = engage_cli("provider", "add", "--name", "unknown-rate", "--tps", "none", *SMPP)
    assert code == 0 and stored_tps(engine, "unknown-rate") is None
    assert engage_cli("provider", "list")[1][0]["tps"] is None


def test_tps_none_on_update_forgets_the_configured_rate_and_a_number_sets_it_again(engage_cli, engine) -> None:
    engage_cli("provider", "add", "--name", "mts", "--tps", "300", *SMPP)
    assert engage_cli("provider", "update", "mts", "--tps", "none")[0] == 0
    assert stored_tps(engine, "mts") is None
    assert engage_cli("provider", "update", "mts", "--tps", "800")[0] == 0
    assert stored_tps(engine, "mts") == 800


def test_a_tps_that_is_neither_a_whole_number_nor_none_is_refused_naming_it(engage_cli, engine, capsys) -> None:
    with pytest.raises(SystemExit):
        engage_cli("provider", "add", "--name", "fast", "--tps", "fast", *SMPP)
    assert "'fast': a whole number of parts per second, or 'none'" in capsys.readouterr().err
    with engine.begin() as conn, pytest.raises(ValueError, match="tps must be a whole number .* or 'none'"):
        add_smpp(conn, name="zero", host="h", port=2775, system_id="s", password="p", tps=0, actor="t")


def test_a_tps_of_null_through_the_api_forgets_the_configured_rate(engine) -> None:
    with engine.begin() as conn:
        provider_id = add_smpp(conn, name="mts", host="h", port=2775, system_id="s", password="p", tps=300,
                               actor="t")
    with serving(engine, tokens="hq-token") as base:
        status, body = _call(base, f"/api/v1/providers/{provider_id}", {"tps": None}, method="PUT")
    assert (status, body["tps"], stored_tps(engine, "mts")) == (200, None, None)


def test_an_update_that_does_not_name_the_tps_keeps_it(engine) -> None:
    with engine.begin() as conn:
        add_smpp(conn, name="mts", host="h", port=2775, system_id="s", password="p", tps=300, actor="t")
        update_provider(conn, "mts", priority=5, actor="t")
    assert stored_tps(engine, "mts") == 300
