"""`engage loyalty partner|settlement|exchange` as an operator types them: a partner added prints a
token the partner API takes, a settlement statement as JSON and CSV, an exchange partner added and a
member's points exchanged once per key; errors name the option."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import insert, select

from engage.cli import main
from engage.engine.loyalty import partner_api, partners
from engage.engine.store.schema import AuditEntry, Subscriber

NUMBER = "+998901000001"


@pytest.fixture
def club(engage_cli, engine) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(insert(Subscriber), [{"msisdn": NUMBER}])
    assert engage_cli("loyalty", "programme", "create", "club", "--name", "Club")[0] == 0
    assert engage_cli("loyalty", "enrol", "club", "--all")[0] == 0


def test_a_partner_added_prints_once_a_token_the_partner_api_takes(engage_cli, engine, club) -> None:  # noqa: ANN001
    code, [made], _ = engage_cli("loyalty", "partner", "add", "club", "shop", "--name", "Corner Shop",
                                 "--earn-rate", "2", "--currency", "USD", "--burn-value", "0.01")
    assert code == 0 and made["token"].startswith("lyp_")
    answer = partner_api.handle(engine, partner_api.authenticate(engine, made["token"]), "earn", "k-1",
                                {"msisdn": NUMBER, "amount": 10, "transaction_id": "t-1"}, region="UZ")
    assert (answer.status, answer.body["points"]) == (200, 20)
    with engine.connect() as conn:
        details = conn.execute(select(AuditEntry.details).where(AuditEntry.action == "loyalty.partner.add")).scalar()
    assert made["token"] not in str(details)


def test_a_new_token_replaces_the_old_one(engage_cli, engine, club) -> None:  # noqa: ANN001
    _, [made], _ = engage_cli("loyalty", "partner", "add", "club", "shop", "--name", "Shop", "--earn-rate", "1",
                              "--currency", "USD", "--burn-value", "0.01")
    _, [renewed], _ = engage_cli("loyalty", "partner", "token", "club", "shop")
    assert partner_api.authenticate(engine, made["token"]) is None
    assert partner_api.authenticate(engine, renewed["token"]).code == "shop"


def test_a_wrong_rate_is_named_by_its_option(engage_cli, club) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as refused:
        engage_cli("loyalty", "partner", "add", "club", "shop", "--name", "Shop", "--earn-rate", "-1",
                   "--currency", "USD", "--burn-value", "0.01")
    assert str(refused.value).startswith("error: --earn-rate:")


def test_the_settlement_statement_is_printed_as_json_or_csv(engage_cli, engine, club, capsys) -> None:  # noqa: ANN001
    engage_cli("loyalty", "partner", "add", "club", "shop", "--name", "Shop", "--earn-rate", "2", "--currency", "USD",
               "--burn-value", "0.01")
    with engine.begin() as conn:
        shop = partners.get(conn, 1, "shop")
        partners.earn(conn, shop, NUMBER, "50", "t-1", "k-1")
    period = ("--from", "2000-01-01", "--to", "2999-12-31")
    _, [made], _ = engage_cli("loyalty", "settlement", "club", "shop", *period)
    assert (made["issued"], made["issued_value"], made["net"]) == (100, "1.00", "1.00")
    assert main(["loyalty", "settlement", "club", "shop", *period, "--csv"]) == 0
    rows = {r["line"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    assert rows["issued_net"]["value"] == "1.00"


def test_a_members_points_are_exchanged_once_per_key_and_show_in_the_statement(engage_cli, engine, club) -> None:  # noqa: ANN001
    assert engage_cli("loyalty", "exchange", "add", "club", "air", "--name", "Air Miles", "--rate-in", "3",
                      "--rate-out", "0.5", "--min-points", "10")[0] == 0
    _, [first], _ = engage_cli("loyalty", "exchange", "in", "club", "air", NUMBER, "100", "--key", "x-1")
    _, [again], _ = engage_cli("loyalty", "exchange", "in", "club", "air", NUMBER, "100", "--key", "x-1")
    assert (first["points"], first["new"], again["new"]) == (300, True, False)
    _, [made], _ = engage_cli("loyalty", "exchange", "statement", "club", "air", "--from", "2000-01-01",
                              "--to", "2999-12-31")
    assert made["in"] == {"exchanges": 1, "points": 300, "their_points": 100}
