"""The partner API over real HTTP with partners' tokens, on both databases: earning for a purchase,
burning with the member's consent code (sent by SMS through the dispatcher), a balance read with
consent, reversals; the Idempotency-Key on every request; only a partner's own token is taken."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select, update

from engage.engine import statuses as st
from engage.engine.broker import Broker, connect
from engage.engine.broker.memory import reset
from engage.engine.delivery.dispatch import Dispatcher
from engage.engine.loyalty import consent_codes, ledger, members, partners, programmes
from engage.engine.loyalty.consent_codes import ConsentRefused
from engage.engine.loyalty.ledger import Credit
from engage.engine.providers.records import add_smpp
from engage.engine.store.schema import (
    Campaign,
    LoyaltyConsentCode,
    LoyaltyMember,
    LoyaltyPartnerRequest,
    Message,
    Subscriber,
)
from engage.web.openapi import document
from tests.branch_people import token_for

NUMBER = "+998901234567"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Club:
    engine: Engine
    base: str
    member_id: int
    token: str  # the shop's
    other_token: str  # another partner's, of the same programme


@pytest.fixture
def club(site) -> Club:  # noqa: ANN001
    """A programme, a member with 500 points, a shop earning 1.5 points per USD with points worth 0.02 USD
    when burnt there, and another partner."""
    engine, base = site
    with engine.begin() as conn:
        sid = conn.execute(insert(Subscriber.__table__).values(msisdn=NUMBER, language="en", attributes={})
                           ).inserted_primary_key[0]
        programme = programmes.create(conn, "club", "Club", point_value="0.01")
        members.enrol(conn, programme.id, [sid], "api")
        member_id = members.find(conn, programme.id, sid).id
        ledger.credit(conn, [Credit(member_id, 500, T0, "rule", "usage", "start")])
        _, token = partners.add_partner(conn, programme.id, "shop", "Corner Shop", "1.5", "USD", "0.02")
        _, other = partners.add_partner(conn, programme.id, "cafe", "Cafe", "1", "USD", "0.01")
    return Club(engine, base, member_id, token, other)


def call(club: Club, operation: str, body: Any, *, key: str | None = "auto", token: str | None = "shop",
         ) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {club.token if token == 'shop' else token}"
    if key is not None:
        headers["Idempotency-Key"] = uuid.uuid4().hex if key == "auto" else key
    request = urllib.request.Request(f"{club.base}/api/v1/loyalty/{operation}", data=json.dumps(body).encode(),
                                     method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def available(club: Club) -> int:
    with club.engine.connect() as conn:
        return ledger.balance(conn, club.member_id).available


def code_sent(club: Club, token: str | None = "shop") -> str:
    """Ask for consent, and read the code from the SMS queued to the member."""
    status, answer = call(club, "consent", {"msisdn": NUMBER}, token=token)
    assert status == 200, answer
    with club.engine.connect() as conn:
        body = conn.execute(select(Message.body).where(Message.msisdn == NUMBER).order_by(Message.id.desc())
                            ).scalars().first()
    return re.search(r"\b(\d{6})\b", body).group(1)


def burn(club: Club, points: int, code: str, transaction: str = "t-9", **kwargs: Any) -> tuple[int, dict[str, Any]]:
    return call(club, "burn", {"msisdn": NUMBER, "points": points, "transaction_id": transaction, "code": code},
                **kwargs)


def test_an_earn_credits_the_purchase_times_the_partners_rate_rounded_down(club) -> None:  # noqa: ANN001
    status, answer = call(club, "earn", {"msisdn": NUMBER, "amount": "10.50", "transaction_id": "t-1"})
    assert (status, answer["points"], answer["amount"], answer["currency"]) == (200, 15, "10.5", "USD")
    assert available(club) == 515


def test_an_earn_sent_twice_with_one_key_credits_once_and_answers_the_same(club) -> None:  # noqa: ANN001
    body = {"msisdn": NUMBER, "amount": 100, "transaction_id": "t-1"}
    first = call(club, "earn", body, key="k-1")
    assert call(club, "earn", body, key="k-1") == first
    assert first[0] == 200 and available(club) == 650


def test_a_transaction_earned_already_under_another_key_is_refused(club) -> None:  # noqa: ANN001
    call(club, "earn", {"msisdn": NUMBER, "amount": 100, "transaction_id": "t-1"})
    status, answer = call(club, "earn", {"msisdn": NUMBER, "amount": 100, "transaction_id": "t-1"})
    assert (status, answer["field"]) == (409, "transaction_id")
    assert available(club) == 650


def test_a_key_used_for_another_request_is_refused(club) -> None:  # noqa: ANN001
    call(club, "earn", {"msisdn": NUMBER, "amount": 100, "transaction_id": "t-1"}, key="k-1")
    status, answer = call(club, "earn", {"msisdn": NUMBER, "amount": 200, "transaction_id": "t-2"}, key="k-1")
    assert (status, answer["field"]) == (422, "Idempotency-Key")
    assert available(club) == 650


def test_a_request_without_an_idempotency_key_is_refused_naming_the_header(club) -> None:  # noqa: ANN001
    status, answer = call(club, "earn", {"msisdn": NUMBER, "amount": 100, "transaction_id": "t-1"}, key=None)
    assert (status, answer["field"]) == (400, "Idempotency-Key")
    assert available(club) == 500


def test_a_field_that_is_wrong_is_named(club) -> None:  # noqa: ANN001
    status, answer = call(club, "earn", {"msisdn": NUMBER, "amount": "lots", "transaction_id": "t-1"})
    assert (status, answer["field"]) == (400, "amount")


def test_only_a_partners_own_token_is_taken(club, quick_hashes) -> None:  # noqa: ANN001
    body = {"msisdn": NUMBER, "amount": 100, "transaction_id": "t-1"}
    user_token = token_for(club.engine, "admin")
    for token in (None, "lyp_not-a-token", user_token):
        status, answer = call(club, "earn", body, token=token)
        assert (status, answer["field"]) == (401, "Authorization")
    assert available(club) == 500


def test_a_number_that_is_no_member_is_not_found(club) -> None:  # noqa: ANN001
    status, answer = call(club, "earn", {"msisdn": "+998901111111", "amount": 100, "transaction_id": "t-1"})
    assert (status, answer["field"]) == (404, "msisdn")


def test_another_partners_token_cannot_reverse_this_partners_transaction(club) -> None:  # noqa: ANN001
    call(club, "earn", {"msisdn": NUMBER, "amount": 100, "transaction_id": "t-1"})
    status, answer = call(club, "reversal", {"transaction_id": "t-1"}, token=club.other_token)
    assert (status, answer["field"]) == (404, "transaction_id")
    assert available(club) == 650


def test_a_code_sent_for_one_partner_is_no_consent_for_another(club) -> None:  # noqa: ANN001
    code = code_sent(club)
    status, answer = burn(club, 100, code, token=club.other_token)
    assert (status, answer["field"]) == (403, "code")
    assert available(club) == 500


def test_a_burn_without_a_code_sent_is_refused(club) -> None:  # noqa: ANN001
    status, answer = burn(club, 100, "123456")
    assert (status, answer["field"]) == (403, "code")
    assert available(club) == 500


def test_a_burn_with_the_right_code_takes_the_points_and_tells_their_value(club) -> None:  # noqa: ANN001
    status, answer = burn(club, 200, code_sent(club))
    assert status == 200, answer
    assert (answer["points"], answer["value"], answer["currency"], answer["available"]) == (200, "4.00", "USD", 300)
    assert available(club) == 300


def test_a_wrong_code_is_refused_and_five_wrong_ones_end_the_code(club) -> None:  # noqa: ANN001
    code = code_sent(club)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(consent_codes.MAX_ATTEMPTS):
        assert burn(club, 100, wrong)[0] == 403
    status, answer = burn(club, 100, code)
    assert status == 403 and "too many" in answer["error"]
    assert available(club) == 500


def test_an_expired_code_is_refused(club) -> None:  # noqa: ANN001
    code = code_sent(club)
    with club.engine.begin() as conn:
        conn.execute(update(LoyaltyConsentCode).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    status, answer = burn(club, 100, code)
    assert status == 403 and "expired" in answer["error"]
    assert available(club) == 500


def test_a_used_code_cannot_be_used_again(club) -> None:  # noqa: ANN001
    code = code_sent(club)
    assert burn(club, 100, code, "t-1")[0] == 200
    status, answer = burn(club, 100, code, "t-2")
    assert status == 403 and "used" in answer["error"]
    assert available(club) == 400


def test_a_burn_never_overdraws_and_leaves_the_code_usable(club) -> None:  # noqa: ANN001
    code = code_sent(club)
    status, answer = burn(club, 501, code)
    assert (status, answer["field"]) == (409, "points")
    assert available(club) == 500
    assert burn(club, 500, code)[0] == 200
    assert available(club) == 0


def test_the_balance_is_read_with_the_members_consent(club) -> None:  # noqa: ANN001
    assert call(club, "balance", {"msisdn": NUMBER, "code": "000000"})[0] == 403
    status, answer = call(club, "balance", {"msisdn": NUMBER, "code": code_sent(club)})
    assert (status, answer["available"]) == (200, 500)


def test_a_reversed_earn_takes_its_points_back(club) -> None:  # noqa: ANN001
    call(club, "earn", {"msisdn": NUMBER, "amount": 100, "transaction_id": "t-1"})
    status, answer = call(club, "reversal", {"transaction_id": "t-1"})
    assert (status, answer["reversed"]) == (200, [{"undoes": "earn", "points": 150}])
    assert available(club) == 500


def test_a_reversed_burn_gives_its_points_back(club) -> None:  # noqa: ANN001
    burn(club, 200, code_sent(club), "t-1")
    status, answer = call(club, "reversal", {"transaction_id": "t-1", "kind": "burn"})
    assert (status, answer["reversed"]) == (200, [{"undoes": "burn", "points": 200}])
    assert available(club) == 500


def test_a_reversal_sent_twice_reverses_once_and_another_key_is_refused(club) -> None:  # noqa: ANN001
    call(club, "earn", {"msisdn": NUMBER, "amount": 100, "transaction_id": "t-1"})
    first = call(club, "reversal", {"transaction_id": "t-1"}, key="r-1")
    assert call(club, "reversal", {"transaction_id": "t-1"}, key="r-1") == first
    assert call(club, "reversal", {"transaction_id": "t-1"}, key="r-2")[0] == 409
    assert available(club) == 500


def test_an_earn_whose_points_were_spent_cannot_be_reversed(club) -> None:  # noqa: ANN001
    call(club, "earn", {"msisdn": NUMBER, "amount": 100, "transaction_id": "t-1"})
    burn(club, 600, code_sent(club), "t-2")
    status, answer = call(club, "reversal", {"transaction_id": "t-1"})
    assert (status, answer["field"]) == (409, "transaction_id")
    assert available(club) == 50


def test_a_refused_request_is_not_kept_so_its_key_may_be_sent_again_fixed(club) -> None:  # noqa: ANN001
    code = code_sent(club)
    assert burn(club, 501, code, key="b-1")[0] == 409
    assert burn(club, 100, code, key="b-1")[0] == 200
    with club.engine.connect() as conn:
        assert conn.execute(select(LoyaltyPartnerRequest.operation).where(
            LoyaltyPartnerRequest.idem_key == "b-1")).scalars().all() == ["burn"]


# -- the consent code's SMS, and the engine below HTTP -------------------------------------------------------------

@pytest.fixture
def broker(engine) -> Iterator[Broker]:  # noqa: ANN001
    """One provider, so that the dispatcher has a route; its queue in an in-process broker."""
    with engine.begin() as conn:
        add_smpp(conn, name="sim", host="127.0.0.1", port=2775, system_id="engage", password="secret", actor="t")
    name = f"test-{uuid.uuid4().hex}"
    made = connect(f"memory://{name}")
    yield made
    made.close()
    reset(name)


@pytest.fixture
def shop(engine):  # noqa: ANN001, ANN201
    """(partner, member id) of a programme with a member of 500 points and a partner."""
    with engine.begin() as conn:
        sid = conn.execute(insert(Subscriber.__table__).values(msisdn=NUMBER, language="ru", attributes={})
                           ).inserted_primary_key[0]
        programme = programmes.create(conn, "club", "Club")
        members.enrol(conn, programme.id, [sid], "api")
        member_id = conn.execute(select(LoyaltyMember.id)).scalar_one()
        ledger.credit(conn, [Credit(member_id, 500, T0, "rule", "usage", "start")])
        partner, _ = partners.add_partner(conn, programme.id, "shop", "Corner Shop", "1", "USD", "0.01")
    return partner, member_id


def test_the_code_goes_out_by_sms_in_the_members_language_and_only_its_hash_is_kept(engine, broker, shop) -> None:  # noqa: ANN001
    partner, member_id = shop
    with engine.begin() as conn:
        consent_codes.request(conn, partner.id, partner.name, member_id)
    assert Dispatcher(engine, broker).run_once() == 1
    with engine.connect() as conn:
        sent = conn.execute(select(Message.body, Message.status, Campaign.kind).join(
            Campaign, Campaign.id == Message.campaign_id)).one()
        kept = conn.execute(select(LoyaltyConsentCode)).one()
    assert (sent.status, sent.kind) == (st.QUEUED, "reply")
    assert sent.body.startswith("Ваш код для Corner Shop: ")
    code = re.search(r"\d{6}", sent.body).group(0)
    assert code not in (kept.code_hash, kept.salt)
    with engine.begin() as conn:
        consent_codes.use(conn, partner.id, member_id, code)


def test_codes_asked_for_a_member_are_capped_per_hour(engine, shop) -> None:  # noqa: ANN001
    partner, member_id = shop
    with engine.begin() as conn:
        for _ in range(consent_codes.MAX_PER_HOUR):
            consent_codes.request(conn, partner.id, partner.name, member_id)
        with pytest.raises(ConsentRefused) as refused:
            consent_codes.request(conn, partner.id, partner.name, member_id)
    assert refused.value.status == 429


def test_only_the_latest_code_asked_for_counts(engine, shop) -> None:  # noqa: ANN001
    partner, member_id = shop
    with engine.begin() as conn:
        consent_codes.request(conn, partner.id, partner.name, member_id)
        first = re.search(r"\d{6}", conn.execute(select(Message.body)).scalar_one()).group(0)
        consent_codes.request(conn, partner.id, partner.name, member_id)
        with pytest.raises(ConsentRefused):
            partners.balance(conn, partner, NUMBER, first)


def test_the_partner_api_is_documented_with_its_token_and_idempotency_key() -> None:
    operation = document()["paths"]["/api/v1/loyalty/burn"]["post"]
    assert operation["security"] == [{"partner": []}]
    assert [p["name"] for p in operation["parameters"]] == ["Idempotency-Key"]
    assert set(operation["requestBody"]["content"]["application/json"]["schema"]["required"]) == {
        "msisdn", "points", "transaction_id", "code"}


def test_a_burn_sent_twice_at_the_same_moment_burns_once_and_both_get_its_answer(club) -> None:  # noqa: ANN001
    code = code_sent(club)
    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(lambda _: burn(club, 100, code, key="same"), range(2)))
    assert answers[0] == answers[1] and answers[0][0] == 200, answers
    assert available(club) == 400
