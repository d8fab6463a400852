"""`engage loyalty adjust` and `engage loyalty adjustment list|approve|reject`: a small adjustment
posted at once, a big one waiting for a second person, errors naming their option."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from engage.engine.store.schema import Subscriber


@pytest.fixture
def club(engage_cli, engine) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(insert(Subscriber), [{"msisdn": "+998901000001"}])
    assert engage_cli("loyalty", "programme", "create", "club", "--name", "Club")[0] == 0
    assert engage_cli("loyalty", "enrol", "club", "--all")[0] == 0


def adjust(engage_cli, points: str, actor: str = "sam@example.com") -> dict:  # noqa: ANN001
    code, [made], _ = engage_cli("loyalty", "adjust", "--programme", "club", "--msisdn", "+998901000001",
                                 "--points", points, "--reason", "goodwill", "--actor", actor)
    assert code == 0
    return made


def test_a_small_adjustment_is_posted_and_shows_in_the_balance(engage_cli, club) -> None:  # noqa: ANN001
    made = adjust(engage_cli, "50")
    assert (made["state"], made["requested_by"], made["points"]) == ("posted", "sam@example.com", 50)
    assert engage_cli("loyalty", "balance", "club", "+998901000001")[1][0]["available"] == 50


def test_a_big_one_waits_is_listed_and_another_person_approves_it(engage_cli, club) -> None:  # noqa: ANN001
    made = adjust(engage_cli, "5000")
    _, [listed], _ = engage_cli("loyalty", "adjustment", "list", "--programme", "club")
    assert made["state"] == "pending" and [a["id"] for a in listed["adjustments"]] == [made["id"]]
    with pytest.raises(SystemExit, match="a second person approves"):
        engage_cli("loyalty", "adjustment", "approve", str(made["id"]), "--actor", "sam@example.com")
    _, [done], _ = engage_cli("loyalty", "adjustment", "approve", str(made["id"]), "--actor", "ann@example.com")
    assert (done["state"], done["decided_by"]) == ("posted", "ann@example.com")
    assert engage_cli("loyalty", "balance", "club", "+998901000001")[1][0]["available"] == 5000


def test_a_rejection_keeps_the_balance(engage_cli, club) -> None:  # noqa: ANN001
    made = adjust(engage_cli, "5000")
    _, [done], _ = engage_cli("loyalty", "adjustment", "reject", str(made["id"]), "--reason", "no",
                              "--actor", "ann@example.com")
    assert (done["state"], done["decision_reason"]) == ("rejected", "no")
    assert engage_cli("loyalty", "balance", "club", "+998901000001")[1][0]["available"] == 0


def test_a_debit_beyond_the_balance_is_named_by_its_option(engage_cli, club) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit) as refused:
        adjust(engage_cli, "-10")
    assert str(refused.value).startswith("error: --points: the member has 0 points available")
