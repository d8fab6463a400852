"""A programme's reports, on both databases: each movement of points in its period, rule, cause and
partner (earns by scoring, a redemption, an expiry, adjustments, a reversal, a partner's earn and
burn), the liability now, members by level and status, and how subscribers use the programme
(USSD sessions through the dialog, JOIN and BAL texted through keyword handling, campaigns sent and
awarded through the awards consumer); periods drawn in the reader's time zone; each table as CSV."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from engage.engine.analytics import consumers
from engage.engine.events import record
from engage.engine.keywords import editing
from engage.engine.keywords.handling import handle_pending
from engage.engine.loyalty import (
    consent_codes,
    expiry,
    ledger,
    levels,
    members,
    partners,
    programmes,
    redemption,
    reports,
    rules,
    scoring,
)
from engage.engine.loyalty.ledger import Credit
from engage.engine.loyalty.report_periods import ReportError
from engage.engine.loyalty.scoring import Record
from engage.engine.store.schema import InboundMessage, LoyaltyEntry, LoyaltyMember, Message, Subscriber
from engage.engine.ussd import emulator, menus
from engage.engine.ussd.dialog import Hop, step
from engage.engine.ussd.gateways.records import add_gateway
from tests.campaign_setup import make_campaign

A, B, C = "+998900000001", "+998900000002", "+998900000003"  # C is no member until it texts JOIN
MENU = Path(__file__).resolve().parent.parent / "examples" / "ussd" / "loyalty.yaml"
NOV_30_LATE = datetime(2026, 11, 30, 22, tzinfo=UTC)  # 1 December 03:00 in Tashkent (UTC+5)


@pytest.fixture
def club(engine):  # noqa: ANN001, ANN201
    """A and B members of club (a point worth 0.01 USD; blue from 0 points, silver from 40), a rule of
    10 points per 100 minutes of calls, and C a subscriber only."""
    with engine.begin() as conn:
        conn.execute(insert(Subscriber), [{"msisdn": n, "language": "en"} for n in (A, B, C)])
        made = programmes.create(conn, "club", "Club", point_value="0.01")
        members.enrol(conn, made.id, [_sid(conn, A), _sid(conn, B)], "api")
        levels.set_levels(conn, made.id, {"levels": [{"name": "blue", "min": 0}, {"name": "silver", "min": 40}]})
        rules.create(conn, made.id, "calls", "Outgoing calls", {"kind": "call_out", "every": 100, "points": 10},
                     actor="ana", valid_from=datetime.now(UTC) - timedelta(days=30))
    return made


def _sid(conn, number: str) -> int:  # noqa: ANN001
    return conn.execute(select(Subscriber.id).where(Subscriber.msisdn == number)).scalar_one()


def _member(engine, number: str) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(select(LoyaltyMember.id).join(Subscriber, Subscriber.id == LoyaltyMember.subscriber_id)
                            .where(Subscriber.msisdn == number)).scalar_one()


def _calls(engine, club, number: str, ref: str, minutes: float) -> None:  # noqa: ANN001
    scoring.score(engine, club, "cdr", [Record(ref, number, "call_out", datetime.now(UTC) - timedelta(minutes=5),
                                               minutes)])


@pytest.fixture
def movements(engine, club):  # noqa: ANN001, ANN201
    """A: 20 by calls, +30 and -4 adjusted, 20 earned at the shop and 6 burnt there, 5 redeemed.
    B: 10 by calls then reversed, 7 of a bulk load expired. Outstanding: A 55, B 0."""
    a, b = _member(engine, A), _member(engine, B)
    _calls(engine, club, A, "a1", 250)
    _calls(engine, club, B, "b1", 100)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        ledger.credit(conn, [Credit(a, 30, now, "person", "desk", "adj-1", kind="adjust", actor="ana",
                                    reason="goodwill"),
                             Credit(b, 7, now - timedelta(days=2), "bulk", "load:1", "row-1",
                                    expires_at=now - timedelta(days=1))])
        ledger.debit(conn, a, 4, kind="adjust", cause="person", source="desk", idem_key="adj-2", actor="ana",
                     reason="double credit")
    expiry.expire_due(engine)  # B's 7 of the bulk load, before the reversal could take them
    with engine.begin() as conn:
        calls_b = conn.execute(select(LoyaltyEntry.id).where(LoyaltyEntry.member_id == b,
                                                             LoyaltyEntry.cause == "rule")).scalar_one()
        ledger.reverse(conn, calls_b, actor="ana", reason="fraudulent calls", source="desk", idem_key="rev-1")
        shop, _ = partners.add_partner(conn, club.id, "shop", "Corner Shop", "2", "USD", "0.05")
        partners.earn(conn, shop, A, "10", "t-1", "k-1", now=now)
        consent_codes.request(conn, shop.id, shop.name, a, now=now)
        code = re.search(r"\d{6}", conn.execute(select(Message.body).order_by(Message.id.desc())).scalar()).group(0)
        partners.burn(conn, shop, A, 6, "t-2", "k-2", code, now=now)
    held = redemption.hold(engine, a, 5, source="desk", idem_key="r-1")
    with engine.begin() as conn:
        redemption.confirm(conn, held.id)
    return engine


def _today() -> date:
    return datetime.now(UTC).date()


def _report(engine, club, *tables: str, first: date | None = None, last: date | None = None, by: str = "day",  # noqa: ANN001
            zone: str = "UTC", branch: str | None = None) -> dict:
    first, last = first or _today() - timedelta(days=1), last or _today() + timedelta(days=1)
    with engine.connect() as conn:
        return reports.report(conn, club.id, first, last, by=by, zone=zone, tables=tables or None, branch=branch)


def _total(made: dict, key: str) -> int:
    return sum(r[key] for r in made["tables"]["periods"]["rows"])


def test_each_movement_is_in_its_column_of_the_periods(movements, club) -> None:  # noqa: ANN001
    made = _report(movements, club, "periods")
    assert {k: _total(made, k) for k in ("earned", "adjusted_in", "adjusted_out", "burnt", "redeemed", "expired",
                                         "reversed_out", "reversed_in")} == {
        "earned": 20 + 10 + 7 + 20, "adjusted_in": 30, "adjusted_out": 4, "burnt": 6, "redeemed": 5, "expired": 7,
        "reversed_out": 10, "reversed_in": 0}


def test_points_issued_are_every_credit_but_reversals(movements, club) -> None:  # noqa: ANN001
    assert _total(_report(movements, club, "periods"), "issued") == 57 + 30


def test_the_net_of_the_periods_is_what_the_outstanding_points_moved_by(movements, club) -> None:  # noqa: ANN001
    made = _report(movements, club, "periods", "liability")
    assert _total(made, "net") == made["tables"]["liability"]["rows"][0]["outstanding"] == 55


def test_every_period_of_the_range_has_a_row_those_without_entries_too(movements, club) -> None:  # noqa: ANN001
    rows = _report(movements, club, "periods")["tables"]["periods"]["rows"]
    assert [r["period"] for r in rows] == [_today() + timedelta(days=d) for d in (-1, 0, 1)]
    assert rows[-1]["entries"] == 0


def test_an_entry_is_in_the_period_of_the_readers_time_zone(engine, club) -> None:  # noqa: ANN001
    _calls(engine, club, A, "a1", 100)
    with engine.begin() as conn:
        conn.execute(update(LoyaltyEntry).values(posted_at=NOV_30_LATE))  # posted then, as the database keeps it
    nov, dec = date(2026, 11, 1), date(2026, 12, 31)
    tashkent = _report(engine, club, "periods", first=nov, last=dec, by="month", zone="Asia/Tashkent")
    utc = _report(engine, club, "periods", first=nov, last=dec, by="month", zone="UTC")
    assert [r["earned"] for r in tashkent["tables"]["periods"]["rows"]] == [0, 10]
    assert [r["earned"] for r in utc["tables"]["periods"]["rows"]] == [10, 0]


def test_days_follow_summer_time_within_the_range(engine, club) -> None:  # noqa: ANN001
    _calls(engine, club, A, "a1", 100)
    _calls(engine, club, B, "b1", 200)
    with engine.begin() as conn:  # Berlin: 25 October 00:30 (summer time), then 1 November 23:30 (winter time)
        conn.execute(update(LoyaltyEntry).where(LoyaltyEntry.points == 10).values(
            posted_at=datetime(2026, 10, 24, 22, 30, tzinfo=UTC)))
        conn.execute(update(LoyaltyEntry).where(LoyaltyEntry.points == 20).values(
            posted_at=datetime(2026, 11, 1, 22, 30, tzinfo=UTC)))
    rows = _report(engine, club, "periods", first=date(2026, 10, 1), last=date(2026, 11, 30),
                   zone="Europe/Berlin")["tables"]["periods"]["rows"]
    earned = {r["period"]: r["earned"] for r in rows if r["earned"]}
    assert earned == {date(2026, 10, 25): 10, date(2026, 11, 1): 20}


def test_weeks_start_on_monday(engine, club) -> None:  # noqa: ANN001
    _calls(engine, club, A, "a1", 100)
    with engine.begin() as conn:
        conn.execute(update(LoyaltyEntry).values(posted_at=datetime(2026, 11, 29, 12, tzinfo=UTC)))  # a Sunday
    rows = _report(engine, club, "periods", first=date(2026, 11, 18), last=date(2026, 12, 2), by="week")
    assert [(r["period"], r["earned"]) for r in rows["tables"]["periods"]["rows"]] == [
        (date(2026, 11, 16), 0), (date(2026, 11, 23), 10), (date(2026, 11, 30), 0)]


def test_entries_outside_the_range_are_left_out(engine, club) -> None:  # noqa: ANN001
    _calls(engine, club, A, "a1", 100)
    with engine.begin() as conn:
        conn.execute(update(LoyaltyEntry).values(posted_at=datetime(2026, 12, 1, tzinfo=UTC)))
    made = _report(engine, club, "periods", first=date(2026, 11, 1), last=date(2026, 11, 30), by="month")
    assert _total(made, "entries") == 0


def test_points_earned_per_rule_version_with_those_reversed(movements, club) -> None:  # noqa: ANN001
    rows = _report(movements, club, "per_rule")["tables"]["per_rule"]["rows"]
    assert rows == [{"rule": "calls", "name": "Outgoing calls", "version": 1, "points": 30, "reversed": 10,
                     "members": 2, "entries": 2}]


def test_movements_per_cause(movements, club) -> None:  # noqa: ANN001
    rows = {(r["cause"], r["kind"]): r["points"] for r in _report(movements, club, "per_cause")["tables"]["per_cause"]
            ["rows"]}
    assert (rows[("partner", "earn")], rows[("partner", "partner_burn")], rows[("bulk", "earn")]) == (20, -6, 7)
    assert (rows[("person", "adjust")], rows[("person", "reversal")], rows[("expiry", "expire")]) == (26, -10, -7)


def test_the_liability_is_the_outstanding_points_at_the_point_value(movements, club) -> None:  # noqa: ANN001
    row = _report(movements, club, "liability")["tables"]["liability"]["rows"][0]
    assert (row["members"], row["available"], row["held"], row["liability"]) == (1, 55, 0, Decimal("0.55"))


def test_points_held_in_a_redemption_are_outstanding(engine, club) -> None:  # noqa: ANN001
    _calls(engine, club, A, "a1", 500)
    redemption.hold(engine, _member(engine, A), 20, source="desk", idem_key="r-1")
    row = _report(engine, club, "liability")["tables"]["liability"]["rows"][0]
    assert (row["available"], row["held"], row["outstanding"]) == (30, 20, 50)


def test_members_by_level_and_status(movements, club) -> None:  # noqa: ANN001
    b = _member(movements, B)
    with movements.begin() as conn:
        members.set_status(conn, b, "suspended")
    rows = {r["level"]: r for r in _report(movements, club, "levels")["tables"]["levels"]["rows"]}
    assert (rows["silver"]["active"], rows["silver"]["outstanding"]) == (1, 55)
    assert (rows["blue"]["active"], rows["blue"]["suspended"]) == (0, 1)
    assert rows["all"]["members"] == 2


def test_a_partners_figures_are_its_settlement_for_the_range(movements, club) -> None:  # noqa: ANN001
    row = _report(movements, club, "partners")["tables"]["partners"]["rows"][0]
    assert (row["partner"], row["issued"], row["issued_value"], row["burnt"], row["burnt_value"], row["net"]) == (
        "shop", 20, Decimal("0.20"), 6, Decimal("0.30"), Decimal("-0.10"))


def test_keyword_use_counts_each_mo_once_and_its_senders(engine, club) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        for word, kind in (("join", "loyalty_join"), ("bal", "loyalty_balance")):
            editing.save(conn, {"word": word, "short_code": "4455", "steps": [{"kind": kind, "programme": "club"}]},
                         actor="ana")
        editing.save(conn, {"word": "news", "short_code": "4455", "steps": []}, actor="ana")
    for number, text in ((C, "JOIN"), (A, "BAL"), (C, "bal"), (C, "bal"), (A, "NEWS")):  # C's second BAL: a repeat
        with engine.begin() as conn:
            conn.execute(insert(InboundMessage.__table__).values(provider_id=1, source=number.lstrip("+"),
                                                                 destination="4455", text=text, handled=False))
        handle_pending(engine)
    rows = _report(engine, club, "keywords")["tables"]["keywords"]["rows"]
    assert [(r["keyword"], r["steps"], r["messages"], r["senders"]) for r in rows] == [
        ("BAL", "loyalty_balance", 2, 2), ("JOIN", "loyalty_join", 1, 1)]


def test_ussd_visits_count_sessions_on_menus_running_the_programmes_actions(engine, club) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        menus.save(conn, MENU.read_text(), code="*123#", actor="test")
        gateway, _ = add_gateway(conn, "africastalking", "at", {}, actor="test")
    for key, number, answers in (("s1", A, ["3"]), ("s2", A, []), ("s3", C, ["3"])):
        step(engine, Hop(gateway, key, number, "*123#", None))
        for answer in answers:
            step(engine, Hop(gateway, key, number, "*123#", answer))
    tried = emulator.dial(engine, caller="ana@x", code="*123#", msisdn=B)  # staff trying the menu: left out
    emulator.answer(engine, caller="ana@x", session=tried.session, code="*123#", msisdn=B, text="3")
    row = _report(engine, club, "ussd")["tables"]["ussd"]["rows"][0]
    assert (row["menu"], row["sessions"], row["subscribers"], row["loyalty"], row["loyalty_balance"]) == (
        "Loyalty club", 3, 2, 2, 2)


def test_campaign_participation_counts_members_sent_and_awarded(engine, club) -> None:  # noqa: ANN001
    campaign = make_campaign(engine, name="Winter offer")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        rules.create(conn, club.id, "answer", "Answer", {"on": "reply", "points": 50, "campaigns": [campaign]},
                     actor="ana", valid_from=now - timedelta(days=1))
        conn.execute(insert(Message), [
            {"campaign_id": campaign, "subscriber_id": _sid(conn, n), "msisdn": n, "status": "delivered",
             "submitted_at": now, "done_at": now} for n in (A, B, C)])  # C: no member, not counted
    consumers.run_once(engine, only=["loyalty_awards"], grace=0)  # the consumer starts at the stream's end
    with engine.begin() as conn:
        message = conn.execute(select(Message.id).where(Message.msisdn == A)).scalar_one()
        record(conn, "replied", [{"campaign_id": campaign, "message_id": message, "data": {"inbound_id": 1}}])
    consumers.run_once(engine, only=["loyalty_awards"], grace=0)
    rows = _report(engine, club, "campaigns")["tables"]["campaigns"]["rows"]
    assert rows == [{"campaign": campaign, "name": "Winter offer", "members_sent": 2, "members_awarded": 1,
                     "points_awarded": 50}]


def test_another_branchs_campaign_is_counted_but_not_named(engine, club) -> None:  # noqa: ANN001
    campaign = make_campaign(engine, name="South offer", branch="south")
    with engine.begin() as conn:
        conn.execute(insert(Message).values(campaign_id=campaign, subscriber_id=_sid(conn, A), msisdn=A,
                                            status="delivered", submitted_at=datetime.now(UTC)))
    row = _report(engine, club, "campaigns", branch="north")["tables"]["campaigns"]["rows"][0]
    assert (row["name"], row["members_sent"]) == ("a campaign of another branch", 1)


def test_a_table_as_csv_has_its_keys_then_its_rows(movements, club) -> None:  # noqa: ANN001
    made = _report(movements, club, "per_rule", "liability")
    assert list(csv.reader(io.StringIO(reports.as_csv(made, "liability"))))[1][:6] == [
        "1", "55", "0", "55", "0.01", "0.55"]
    assert reports.as_csv(made, "per_rule").splitlines()[0] == "rule,name,version,points,reversed,members,entries"


@pytest.mark.parametrize(("args", "field"), [
    ({"by": "year"}, "by"), ({"zone": "Mars/Olympus"}, "timezone"), ({"tables": ["nope"]}, "table"),
    ({"first": date(2026, 12, 1), "last": date(2026, 11, 1)}, "to"),
    ({"first": date(2020, 1, 1), "last": date(2026, 1, 1), "by": "day"}, "by")])
def test_a_report_asked_wrongly_names_what(engine, club, args, field) -> None:  # noqa: ANN001
    args = dict(args)
    first, last = args.pop("first", date(2026, 11, 1)), args.pop("last", date(2026, 11, 30))
    with pytest.raises(ReportError) as refused, engine.connect() as conn:
        reports.report(conn, club.id, first, last, **args)
    assert refused.value.field == field
