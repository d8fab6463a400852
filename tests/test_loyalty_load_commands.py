"""`engage loyalty load FILE --programme club --actor ...` prints the load's report as JSON and posts
nothing; `load-approve` by another person posts it, once; `load-reject` needs a reason; `loads` lists
them; every refusal is one line naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert

from engage.engine.store.schema import Subscriber

ANA = "+998901000001"


@pytest.fixture
def club(engage_cli, engine) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(insert(Subscriber), [{"msisdn": ANA}, {"msisdn": "+998901000002"}])
    assert engage_cli("loyalty", "programme", "create", "club", "--name", "Club")[0] == 0
    assert engage_cli("loyalty", "enrol", "club", "--msisdn", ANA)[0] == 0


def gifts(tmp_path: Path) -> Path:
    path = tmp_path / "gifts.csv"
    path.write_text(f"msisdn,points,reason,external_id\n{ANA},100,Gift,g-1\n+998901000002,50,Gift,g-2\n")
    return path


def balance(engage_cli, msisdn: str) -> int:  # noqa: ANN001
    return engage_cli("loyalty", "balance", "club", msisdn)[1][0]["available"]


def test_a_load_prints_its_report_and_waits_for_another_person(engage_cli, club, tmp_path) -> None:  # noqa: ANN001
    code, [read], _ = engage_cli("loyalty", "load", str(gifts(tmp_path)), "--programme", "club", "--actor", "a@x")
    assert code == 0
    assert (read["state"], read["rows"], read["good"], read["bad"], read["uploaded_by"]) == ("pending", 2, 1, 1, "a@x")
    assert read["problems"] == [{"line": 3, "msisdn": "+998901000002", "points": 50, "reason": "Gift",
                                 "external_id": "g-2", "problem": "msisdn: not a member of club (upload with enrol "
                                                                  "to enrol existing subscribers)"}]
    assert balance(engage_cli, ANA) == 0


def test_approved_by_another_person_the_load_is_posted_once(engage_cli, club, tmp_path) -> None:  # noqa: ANN001
    _, [read], _ = engage_cli("loyalty", "load", str(gifts(tmp_path)), "--programme", "club", "--actor", "a@x",
                              "--enrol")
    _, [done], _ = engage_cli("loyalty", "load-approve", str(read["load"]), "--actor", "b@x")
    assert (done["state"], done["posted"]) == ("posted", 2)
    assert balance(engage_cli, "+998901000002") == 50
    with pytest.raises(SystemExit, match="not pending: posted by b@x"):
        engage_cli("loyalty", "load-approve", str(read["load"]), "--actor", "c@x")
    assert balance(engage_cli, ANA) == 100


def test_the_uploader_cannot_approve_their_own_load(engage_cli, club, tmp_path) -> None:  # noqa: ANN001
    _, [read], _ = engage_cli("loyalty", "load", str(gifts(tmp_path)), "--programme", "club", "--actor", "a@x")
    with pytest.raises(SystemExit, match="a@x uploaded it; another person approves it"):
        engage_cli("loyalty", "load-approve", str(read["load"]), "--actor", "a@x")


def test_a_rejected_load_is_listed_with_its_reason(engage_cli, club, tmp_path) -> None:  # noqa: ANN001
    _, [read], _ = engage_cli("loyalty", "load", str(gifts(tmp_path)), "--programme", "club", "--actor", "a@x")
    _, [done], _ = engage_cli("loyalty", "load-reject", str(read["load"]), "--reason", "wrong month", "--actor", "b@x")
    assert (done["state"], done["decision_reason"]) == ("rejected", "wrong month")
    _, [listed], _ = engage_cli("loyalty", "loads", "--programme", "club")
    assert [(x["load"], x["state"]) for x in listed["loads"]] == [(read["load"], "rejected")]


def test_the_same_file_again_is_refused_naming_its_load(engage_cli, club, tmp_path) -> None:  # noqa: ANN001
    engage_cli("loyalty", "load", str(gifts(tmp_path)), "--programme", "club")
    with pytest.raises(SystemExit, match="error: gifts.csv: this file was uploaded as load 1 on "):
        engage_cli("loyalty", "load", str(gifts(tmp_path)), "--programme", "club")


def test_the_report_option_writes_every_row_with_a_problem(engage_cli, club, tmp_path) -> None:  # noqa: ANN001
    report = tmp_path / "problems.csv"
    engage_cli("loyalty", "load", str(gifts(tmp_path)), "--programme", "club", "--report", str(report))
    assert report.read_text().splitlines()[1].startswith("3,+998901000002,50,Gift,g-2,")
