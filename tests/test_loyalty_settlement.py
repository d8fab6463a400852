"""Settlement with a partner per period, on both databases: points issued and burnt, less those
reversed in the period, their money value each way, and the net; as JSON and as CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, update

from engage.engine.loyalty import consent_codes, ledger, members, partners, programmes, settlement
from engage.engine.loyalty.ledger import Credit
from engage.engine.store.schema import LoyaltyPartner, Message, Subscriber

NUMBER = "+998901234567"
JAN = datetime(2027, 1, 1, tzinfo=UTC)
FEB = datetime(2027, 2, 1, tzinfo=UTC)


@pytest.fixture
def shop(engine):  # noqa: ANN001, ANN201
    """A partner earning 2 points per USD, points worth 0.05 USD burnt there and 0.01 USD to the
    programme, and a member of 1,000 points."""
    with engine.begin() as conn:
        sid = conn.execute(insert(Subscriber.__table__).values(msisdn=NUMBER, attributes={})).inserted_primary_key[0]
        club = programmes.create(conn, "club", "Club", point_value="0.01")
        members.enrol(conn, club.id, [sid], "api")
        member_id = members.find(conn, club.id, sid).id
        ledger.credit(conn, [Credit(member_id, 1000, JAN, "rule", "usage", "start")])
        partner, _ = partners.add_partner(conn, club.id, "shop", "Corner Shop", "2", "USD", "0.05")
    return partner


def _earn(engine, partner, amount: str, tx: str, at: datetime) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        partners.earn(conn, partner, NUMBER, amount, tx, f"k-{tx}", now=at)


def _burn(engine, partner, points: int, tx: str, at: datetime) -> None:  # noqa: ANN001
    """A burn with the member's consent: the code read from the SMS that carried it."""
    with engine.begin() as conn:
        member_id = partners.member_id_of(conn, partner, NUMBER)
        consent_codes.request(conn, partner.id, partner.name, member_id, now=at)
        body = conn.execute(select(Message.body).order_by(Message.id.desc())).scalars().first()
        partners.burn(conn, partner, NUMBER, points, tx, f"k-{tx}", re.search(r"\d{6}", body).group(0), now=at)


def _reverse(engine, partner, tx: str, at: datetime) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        partners.reverse(conn, partner, tx, f"r-{tx}", now=at)


def _january(engine, partner) -> settlement.Statement:  # noqa: ANN001
    with engine.connect() as conn:
        return settlement.statement(conn, partner.id, JAN, FEB)


def test_points_issued_in_the_period_are_owed_by_the_partner_at_the_point_value(engine, shop) -> None:  # noqa: ANN001
    _earn(engine, shop, "100.25", "t-1", JAN + timedelta(days=3))
    _earn(engine, shop, "50", "t-2", JAN + timedelta(days=9))
    made = _january(engine, shop)
    assert (made.earns, made.sales, made.issued, made.issued_value) == (2, Decimal("150.25"), 300, Decimal("3.00"))


def test_points_burnt_in_the_period_are_owed_to_the_partner_at_its_burn_value(engine, shop) -> None:  # noqa: ANN001
    _burn(engine, shop, 400, "t-1", JAN + timedelta(days=3))
    made = _january(engine, shop)
    assert (made.burns, made.burnt, made.burnt_value, made.net) == (1, 400, Decimal("20.00"), Decimal("-20.00"))


def test_transactions_outside_the_period_are_left_out(engine, shop) -> None:  # noqa: ANN001
    _earn(engine, shop, "100", "t-dec", JAN - timedelta(seconds=1))
    _earn(engine, shop, "100", "t-feb", FEB)
    _earn(engine, shop, "10", "t-jan", JAN)
    assert _january(engine, shop).issued == 20


def test_a_reversal_counts_in_the_period_it_was_made(engine, shop) -> None:  # noqa: ANN001
    _earn(engine, shop, "100", "t-1", JAN - timedelta(days=2))
    _burn(engine, shop, 100, "t-2", JAN - timedelta(days=1))
    _reverse(engine, shop, "t-1", JAN + timedelta(days=1))
    _reverse(engine, shop, "t-2", JAN + timedelta(days=1))
    made = _january(engine, shop)
    assert (made.issued, made.issued_reversed, made.burnt, made.burnt_reversed) == (0, 200, 0, 100)
    assert (made.issued_value, made.burnt_value, made.net) == (Decimal("-2.00"), Decimal("-5.00"), Decimal("3.00"))


def test_no_net_is_given_when_the_partner_settles_in_another_currency(engine, shop) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.execute(update(LoyaltyPartner).values(currency="EUR"))
    with engine.connect() as conn:
        made = settlement.statement(conn, shop.id, JAN, FEB)
    assert (made.currency, made.net) == ("EUR", None)


def test_the_csv_has_a_line_per_figure_with_its_value_and_currency(engine, shop) -> None:  # noqa: ANN001
    _earn(engine, shop, "100", "t-1", JAN + timedelta(days=3))
    _burn(engine, shop, 40, "t-2", JAN + timedelta(days=4))
    rows = {r["line"]: r for r in csv.DictReader(io.StringIO(settlement.as_csv(_january(engine, shop))))}
    assert (rows["issued_net"]["points"], rows["issued_net"]["value"], rows["issued_net"]["currency"]) == (
        "200", "2.00", "USD")
    assert (rows["burnt_net"]["points"], rows["burnt_net"]["value"]) == ("40", "2.00")
    assert rows["net_due_from_partner"]["value"] == "0.00"
    assert rows["sales"]["value"] == "100"
