"""`engage loyalty ...` as the README sets a programme up: a programme, a rule, members, usage fed
and scored, a balance, the tester; clear errors naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import insert, select

from engage.engine.store.schema import AuditEntry, Subscriber

RULE = '{"kind": "call_out", "every": 100, "points": 10}'


@pytest.fixture
def club(engage_cli, engine) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(insert(Subscriber), [{"msisdn": "+998901000001"}, {"msisdn": "+998901000002"}])
    assert engage_cli("loyalty", "programme", "create", "club", "--name", "Club")[0] == 0
    assert engage_cli("loyalty", "rule", "add", "club", "calls", "--json", RULE, "--from", "2026-01-01")[0] == 0
    assert engage_cli("loyalty", "enrol", "club", "--all")[1] == [{"programme": "club", "subscribers": 2,
                                                                   "enrolled": 2}]


def cdr(tmp_path: Path) -> Path:
    path = tmp_path / "cdr.csv"
    path.write_text("ref,msisdn,kind,at,amount\n"
                    "c1,+998901000001,call_out,2026-12-01T10:00:00Z,250\n"
                    "c2,+998901000001,call_out,2026-12-01T11:00:00Z,50\n"
                    "c3,12345,call_out,2026-12-01T11:00:00Z,50\n")
    return path


def test_usage_scored_from_a_file_shows_in_the_balance_and_a_second_feed_adds_nothing(engage_cli, club,  # noqa: ANN001
                                                                                       tmp_path) -> None:
    _, [first], _ = engage_cli("loyalty", "feed", "club", str(cdr(tmp_path)), "--source", "cdr", "--now")
    _, [again], _ = engage_cli("loyalty", "feed", "club", str(cdr(tmp_path)), "--source", "cdr", "--now")
    assert (first["points"], first["rejected"], again["points"], again["duplicates"]) == (30, 1, 0, 2)
    assert "msisdn: '12345'" in first["first_rejections"][0]
    _, [balance], _ = engage_cli("loyalty", "balance", "club", "+998901000001")
    assert (balance["available"], balance["earned"]) == (30, 30)


def test_feeding_through_the_broker_publishes_the_file_in_batches(engage_cli, club, tmp_path) -> None:  # noqa: ANN001
    code, [fed], _ = engage_cli("loyalty", "feed", "club", str(cdr(tmp_path)), "--source", "cdr")
    assert code == 0 and fed["batches"] == 1 and fed["queue"].endswith(".loyalty.usage")


def test_the_tester_answers_what_each_event_gives(engage_cli) -> None:  # noqa: ANN001
    _, [tried], _ = engage_cli("loyalty", "rule", "try", "--json", RULE, "--event", "2026-12-01T10:00:00Z=250",
                               "--event", "2026-12-01T11:00:00Z=50")
    assert [e["points"] for e in tried["events"]] == [20, 10]


def test_a_rule_change_is_a_new_version_and_is_audited(engage_cli, club, engine) -> None:  # noqa: ANN001
    _, [changed], _ = engage_cli("loyalty", "rule", "change", "club", "calls", "--json",
                                 '{"kind": "call_out", "every": 100, "points": 15}')
    assert changed["version"] == 2
    with engine.connect() as conn:
        actions = list(conn.execute(select(AuditEntry.action).where(AuditEntry.action.like("loyalty.%"))
                                    .order_by(AuditEntry.id)).scalars())
    assert actions == ["loyalty.programme.create", "loyalty.rule.create", "loyalty.enrol", "loyalty.rule.change"]


def test_a_bad_rule_is_refused_naming_its_field(engage_cli, club) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit, match="every: "):
        engage_cli("loyalty", "rule", "add", "club", "data", "--json", '{"kind": "data", "every": -1, "points": 1}')


def test_a_balance_for_a_number_that_is_no_member_says_so(engage_cli, club) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit, match=r"\+998909999999 is not a member of club"):
        engage_cli("loyalty", "balance", "club", "+998909999999")


def test_a_reward_is_added_with_its_codes_and_redeemed_at_the_desk(engage_cli, club, tmp_path) -> None:  # noqa: ANN001
    engage_cli("loyalty", "feed", "club", str(cdr(tmp_path)), "--source", "cdr", "--now")
    codes = tmp_path / "codes.txt"
    codes.write_text("T-1\nT-2\n")
    _, [added], _ = engage_cli("loyalty", "reward", "add", "club", "--json",
                               '{"code": "tickets", "names": {"en": "Tickets"}, "points": 20, "fulfilment": "voucher"}',
                               "--codes", str(codes))
    assert added["voucher_codes"] == 2
    _, [done], _ = engage_cli("loyalty", "redeem", "club", "+998901000001", "tickets", "--key", "desk-1")
    assert (done["state"], done["detail"]["voucher"]) == ("confirmed", "T-1")
    _, [balance], _ = engage_cli("loyalty", "balance", "club", "+998901000001")
    assert (balance["available"], balance["redeemed"]) == (10, 20)
