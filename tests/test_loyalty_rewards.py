"""Rewards and redemption: the catalogue's conditions (offer, level, stock, a limit per member), the
points held with the stock, fulfilment through its adapter (nothing to call, a partner's voucher
code, the provisioning system over real HTTP), then spent, or given back with the stock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import insert, select

from engage.engine.loyalty import ledger, levels, members, programmes, redeeming, rewards
from engage.engine.loyalty.ledger import Credit, InsufficientPoints
from engage.engine.loyalty.redeeming import NotRedeemable
from engage.engine.store.schema import LoyaltyMember, LoyaltyReward, Subscriber


class Provisioning:
    """A provisioning system over HTTP answering with `status`; it keeps what it was asked."""

    def __init__(self) -> None:
        self.status, self.asked = 200, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                outer.asked.append((self.headers["Idempotency-Key"], json.loads(self.rfile.read(
                    int(self.headers["Content-Length"])))))
                body = json.dumps({"bundle": "B-77"}).encode()
                self.send_response(outer.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/bundles"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def provisioning() -> Iterator[Provisioning]:
    p = Provisioning()
    yield p
    p.server.shutdown()


@pytest.fixture
def club(engine):  # noqa: ANN001, ANN201
    """(programme, member) with 1,000 points."""
    with engine.begin() as conn:
        conn.execute(insert(Subscriber.__table__).values(id=1, msisdn="+998900000001", attributes={}))
        club = programmes.create(conn, "club", "Club")
        members.enrol(conn, club.id, [1], "api")
        member = conn.execute(select(LoyaltyMember.id)).scalar_one()
        ledger.credit(conn, [Credit(member, 1000, datetime.now(UTC), "rule", "usage", "a")])
    return club, member


def add(engine, club, **reward) -> rewards.Reward:  # noqa: ANN001, ANN003
    with engine.begin() as conn:
        return rewards.add(conn, club.id, {"names": {"en": reward.get("code", "r")}, **reward})


def available(engine, member: int) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return ledger.balance(conn, member).available


def stock(engine, code: str) -> int | None:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(LoyaltyReward.stock).where(LoyaltyReward.code == code)).scalar_one()


def redeem(engine, club, code: str, key: str = "k1") -> redeeming.Redemption:  # noqa: ANN001
    programme, member = club
    return redeeming.redeem(engine, programme.id, member, code, source="ussd", idem_key=key)


def test_a_reward_with_nothing_to_call_spends_its_points_and_its_stock(engine, club) -> None:  # noqa: ANN001
    add(engine, club[0], code="cinema", points=300, stock=5)
    assert redeem(engine, club, "cinema").state == "confirmed"
    assert (available(engine, club[1]), stock(engine, "cinema")) == (700, 4)


def test_the_same_request_twice_redeems_once(engine, club) -> None:  # noqa: ANN001
    add(engine, club[0], code="cinema", points=300)
    first, again = redeem(engine, club, "cinema"), redeem(engine, club, "cinema")
    assert again.hold_id == first.hold_id and available(engine, club[1]) == 700


def test_a_voucher_reward_hands_out_a_partners_code(engine, club) -> None:  # noqa: ANN001
    reward = add(engine, club[0], code="tickets", points=200, fulfilment="voucher")
    with engine.begin() as conn:
        assert rewards.add_codes(conn, reward.id, ["T-1", "T-2", "T-1"]) == 2
    assert redeem(engine, club, "tickets", "a").detail["voucher"] == "T-1"
    assert redeem(engine, club, "tickets", "b").detail["voucher"] == "T-2"
    out = redeem(engine, club, "tickets", "c")
    assert (out.state, out.detail["error"]) == ("released", "no voucher codes left")
    assert available(engine, club[1]) == 600


def test_the_provisioning_system_fulfils_over_http_with_an_idempotency_key(engine, club, provisioning) -> None:  # noqa: ANN001
    add(engine, club[0], code="data", points=500, fulfilment="http", config={"url": provisioning.url})
    out = redeem(engine, club, "data")
    assert (out.state, out.detail["bundle"]) == ("confirmed", "B-77")
    key, body = provisioning.asked[0]
    assert key == f"engage-redemption-{out.hold_id}" and body["msisdn"] == "+998900000001"


def test_a_refusal_gives_the_points_and_the_stock_back(engine, club, provisioning) -> None:  # noqa: ANN001
    provisioning.status = 409
    add(engine, club[0], code="data", points=500, stock=3, fulfilment="http", config={"url": provisioning.url})
    assert redeem(engine, club, "data").state == "released"
    assert (available(engine, club[1]), stock(engine, "data")) == (1000, 3)


def test_an_undecided_fulfilment_stays_held_and_the_sweeper_finishes_it(engine, club, provisioning) -> None:  # noqa: ANN001
    provisioning.status = 503
    add(engine, club[0], code="data", points=500, fulfilment="http", config={"url": provisioning.url})
    out = redeem(engine, club, "data")
    assert out.state == "held" and available(engine, club[1]) == 500
    provisioning.status = 200
    later = datetime.now(UTC) + timedelta(minutes=3)
    assert redeeming.settle_open(engine, later) == {"tried": 1, "confirmed": 1, "released": 0}
    assert len({key for key, _ in provisioning.asked}) == 1  # asked again under the same key


def test_a_fulfilment_never_decided_is_released_after_the_last_attempt(engine, club, provisioning) -> None:  # noqa: ANN001
    provisioning.status = 503
    add(engine, club[0], code="data", points=500, fulfilment="http", config={"url": provisioning.url})
    redeem(engine, club, "data")
    later = datetime.now(UTC) + timedelta(minutes=3)
    for _ in range(redeeming.MAX_ATTEMPTS - 1):
        redeeming.settle_open(engine, later)
    assert available(engine, club[1]) == 1000


def test_a_reward_above_the_members_level_is_refused(engine, club) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        levels.set_levels(conn, club[0].id, {"levels": [{"name": "blue", "min": 0}, {"name": "gold", "min": 5000}]})
    add(engine, club[0], code="lounge", points=100, level="gold")
    with pytest.raises(NotRedeemable, match="for gold members"):
        redeem(engine, club, "lounge")


def test_a_member_redeems_no_more_than_the_limit(engine, club) -> None:  # noqa: ANN001
    add(engine, club[0], code="cinema", points=100, per_member=1)
    redeem(engine, club, "cinema", "a")
    with pytest.raises(NotRedeemable, match="1 time"):
        redeem(engine, club, "cinema", "b")
    assert available(engine, club[1]) == 900


def test_out_of_stock_is_refused_and_holds_nothing(engine, club) -> None:  # noqa: ANN001
    add(engine, club[0], code="phone", points=100, stock=1)
    redeem(engine, club, "phone", "a")
    with pytest.raises(NotRedeemable, match="out of stock"):
        redeem(engine, club, "phone", "b")
    assert available(engine, club[1]) == 900


def test_too_few_points_hold_nothing_and_keep_the_stock(engine, club) -> None:  # noqa: ANN001
    add(engine, club[0], code="phone", points=5000, stock=1)
    with pytest.raises(InsufficientPoints):
        redeem(engine, club, "phone")
    assert stock(engine, "phone") == 1


@pytest.mark.parametrize(("raw", "field"), [
    ({"code": "Bad Code", "names": {"en": "x"}, "points": 1}, "code"),
    ({"code": "x", "names": {}, "points": 1}, "names"),
    ({"code": "x", "names": {"en": "x"}, "points": 0}, "points"),
    ({"code": "x", "names": {"en": "x"}, "points": 1, "fulfilment": "fax"}, "fulfilment"),
    ({"code": "x", "names": {"en": "x"}, "points": 1, "fulfilment": "http", "config": {"url": "ftp://x"}}, "config"),
    ({"code": "x", "names": {"en": "x"}, "points": 1, "valid_until": "soon"}, "valid_until"),
])
def test_a_bad_reward_is_refused_naming_its_field(raw, field) -> None:  # noqa: ANN001
    with pytest.raises(rewards.RewardError) as refused:
        rewards.parse(raw)
    assert refused.value.field == field
