"""/api/v1/providers and /api/v1/routes over real HTTP: providers with their health and throughput,
added and changed by admins through each kind's own validation, secrets never returned; the prices in
force, filtered; a price table imported from a CSV body with its bad rows reported by line."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from sqlalchemy import select

from engage.engine.providers.records import add_provider, add_smpp
from engage.engine.providers.status import upsert as report_status
from engage.engine.routes.price_tables import import_csv
from engage.engine.routes.router import Router
from engage.engine.store.schema import Provider
from tests.fixtures.web import serving, signed_in
from tests.test_audience_api import _call

KANNEL = {"url": "http://kannel.local:13013/cgi-bin/sendsms?secret=url-secret", "username": "engage",
          "password": "kannel-secret", "callback_base": "https://engage.example.com"}
PRICES = ("provider,prefix,mcc_mnc,network,price,currency,valid_from\n"
          "mts,99890,434-04,Beeline UZ,0.020,USD,2020-01-01\n"
          "mts,998,,,0.050,USD,2020-01-01\n"
          "kannel,99893,434-05,Ucell,0.030,USD,2020-01-01\n"
          "mts,99890,434-04,Beeline UZ,0.010,USD,2099-01-01\n")


@pytest.fixture
def api(engine, tmp_path):
    with engine.begin() as conn:
        ids = {"mts": add_smpp(conn, name="mts", host="10.0.0.5", port=2775, system_id="engage",
                               password="smpp-pw!", actor="t"),
               "kannel": add_provider(conn, name="kannel", kind="kannel", config=KANNEL, actor="t")}
    with serving(engine, tokens="hq-token,north-token@north") as base:
        yield engine, base, ids


def post_csv(base, path, text, token="hq-token"):
    request = urllib.request.Request(base + path, data=text.encode(), method="POST",
                                     headers={"Content-Type": "text/csv", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_providers_are_listed_with_their_health_and_throughput(api):
    engine, base, ids = api
    with engine.begin() as conn:
        report_status(conn, ids["mts"], "sender:1", {"healthy": True, "binds_up": 2, "binds": 2, "tps": 40.5})
    status, body = _call(base, "/api/v1/providers")
    assert status == 200
    mts = next(p["status"] for p in body["providers"] if p["name"] == "mts")
    assert (mts["healthy"], mts["binds_up"], mts["binds"], mts["tps"], mts["workers"]) == (True, 2, 2, 40.5, 1)
    kannel = next(p["status"] for p in body["providers"] if p["name"] == "kannel")
    assert kannel["healthy"] is False  # no sender has reported on it


def test_no_secret_is_ever_returned(api):
    engine, base, _ = api
    with engine.connect() as conn:
        generated = conn.execute(select(Provider.config).where(Provider.name == "kannel")).scalar_one()[
            "callback_token"]
    request = urllib.request.Request(f"{base}/api/v1/providers", headers={"Authorization": "Bearer hq-token"})
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    for secret in ("kannel-secret", "url-secret", generated, "smpp-pw!"):
        assert secret not in text
    config = next(p["config"] for p in json.loads(text)["providers"] if p["name"] == "kannel")
    assert (config["password"], config["callback_token"]) == ("***", "***")
    assert config["url"] == "http://kannel.local:13013/cgi-bin/sendsms?secret=***"


def test_an_admin_adds_a_provider_checked_by_its_kind(api):
    _, base, _ = api
    status, body = _call(base, "/api/v1/providers", {"name": "beeline", "kind": "smpp", "tps": 50, "config": {
        "host": "10.0.0.7", "port": 2775, "system_id": "engage", "password": "p"}})
    assert status == 201 and (body["name"], body["tps"], body["config"]["password"]) == ("beeline", 50, "***")


def test_a_bad_provider_config_is_a_400_naming_the_field(api):
    _, base, _ = api
    status, body = _call(base, "/api/v1/providers", {"name": "x", "kind": "kannel", "config": {"url": "ftp://x"}})
    assert status == 400 and body["error"].startswith("url:")


def test_a_config_given_back_as_it_was_read_keeps_the_stored_secrets(api):
    engine, base, ids = api
    config = _call(base, f"/api/v1/providers/{ids['kannel']}")[1]["config"]
    status, body = _call(base, f"/api/v1/providers/{ids['kannel']}", {"config": {**config, "timeout": 5},
                                                                       "priority": 7}, method="PUT")
    assert status == 200 and (body["priority"], body["config"]["timeout"]) == (7, 5)
    with engine.connect() as conn:
        stored = conn.execute(select(Provider.config).where(Provider.id == ids["kannel"])).scalar_one()
    assert (stored["password"], stored["url"]) == (KANNEL["password"], KANNEL["url"])


def test_a_disabled_provider_gets_no_routes_until_enabled(api):
    engine, base, ids = api
    status, body = _call(base, f"/api/v1/providers/{ids['mts']}/disable", {})
    assert status == 200 and body["enabled"] is False
    with engine.connect() as conn:
        assert {r.provider_name for r in Router(conn).candidates("+998901234567")} == {"kannel"}
    assert _call(base, f"/api/v1/providers/{ids['mts']}/enable", {})[1]["enabled"] is True


def test_a_provider_that_does_not_exist_is_a_404(api):
    _, base, _ = api
    assert _call(base, "/api/v1/providers/999", {"tps": 5}, method="PUT")[0] == 404


def test_a_marketer_reads_providers_without_their_configuration_and_may_not_change_them(api, quick_hashes):
    engine, base, ids = api
    marketer = signed_in(engine, base, "marketer")
    listed = marketer.get("/api/v1/providers").json()["providers"]
    assert {p["name"] for p in listed} == {"mts", "kannel"} and all("config" not in p for p in listed)
    assert marketer.post_json(f"/api/v1/providers/{ids['mts']}/disable", {}).status == 403


def test_support_may_not_read_providers(api, quick_hashes):
    engine, base, _ = api
    assert signed_in(engine, base, "support").get("/api/v1/providers").status == 403


def test_a_branch_token_may_not_change_providers(api):
    _, base, ids = api
    status, body = _call(base, f"/api/v1/providers/{ids['mts']}/disable", {}, token="north-token")
    assert status == 403 and "every branch" in body["error"]


def test_routes_are_the_prices_in_force(api, tmp_path):
    engine, base, _ = api
    (tmp_path / "p.csv").write_text(PRICES, encoding="utf-8")
    import_csv(engine, tmp_path / "p.csv", actor="t")
    routes = _call(base, "/api/v1/routes")[1]["routes"]
    assert sorted((r["provider"], r["prefix"], r["price"]) for r in routes) == [
        ("kannel", "99893", "0.030000"), ("mts", "998", "0.050000"), ("mts", "99890", "0.020000")]


def test_routes_filter_by_provider_and_by_prefix(api, tmp_path):
    engine, base, _ = api
    (tmp_path / "p.csv").write_text(PRICES, encoding="utf-8")
    import_csv(engine, tmp_path / "p.csv", actor="t")
    assert {r["provider"] for r in _call(base, "/api/v1/routes?provider=kannel")[1]["routes"]} == {"kannel"}
    # numbers starting 99890: the 998 row covers them, the 99890 row is theirs; Ucell's is not
    assert sorted(r["prefix"] for r in _call(base, "/api/v1/routes?prefix=%2B99890")[1]["routes"]) == ["998", "99890"]


def test_a_price_table_import_keeps_good_rows_and_reports_bad_ones_by_line(api):
    _, base, _ = api
    status, body = post_csv(base, "/api/v1/routes/import", "provider,prefix,mcc_mnc,network,price,currency\n"
                                                           "mts,99890,,,0.02,USD\n"
                                                           "nobody,99891,,,0.02,USD\n"
                                                           "mts,99897,,,-1,USD\n")
    assert status == 200 and (body["rows"], body["imported"], body["rejected"]) == (3, 1, 2)
    assert [(r["line"], r["field"]) for r in body["rejections"]] == [(3, "provider"), (4, "price")]


def test_an_import_without_the_needed_columns_is_a_400(api):
    _, base, _ = api
    status, body = post_csv(base, "/api/v1/routes/import", "provider,price\nmts,0.02\n")
    assert status == 400 and "currency" in body["error"] and "/tmp" not in body["error"]


def test_a_marketer_may_not_import_prices(api, quick_hashes):
    engine, base, _ = api
    marketer = signed_in(engine, base, "marketer")
    reply = marketer.request("POST", "/api/v1/routes/import", b"provider,prefix,price,currency\nmts,998,1,USD\n",
                             {"Content-Type": "text/csv", "X-XSRFToken": marketer.cookie("_xsrf") or ""})
    assert reply.status == 403
