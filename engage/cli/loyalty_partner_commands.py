"""`engage loyalty partner|settlement|exchange ...`: a programme's partners (merchants on the partner
API, each with its token, printed once), their settlement statements per period, and the other
programmes points are exchanged with. They join `engage loyalty` (loyalty_commands registers it; this
group comes after it in COMMAND_GROUPS). Each prints JSON (a statement CSV with --csv); each change is
in the audit log."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from engage.cli.common import emit, engine, subcommands_of


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: a date such as 2027-01-31") from None


def _period(args: argparse.Namespace) -> tuple[datetime, datetime]:
    """--from and --to, both days included, as [start, end) in UTC."""
    if args.to < args.since:
        raise SystemExit("error: --to: the period ends before it starts")
    return (datetime.combine(args.since, time(), UTC), datetime.combine(args.to + timedelta(days=1), time(), UTC))


def _programme(conn: Any, code: str) -> Any:
    from engage.engine.loyalty import programmes

    try:
        return programmes.get(conn, code)
    except LookupError as exc:
        raise SystemExit(f"error: {exc}") from None


def _refused(exc: Any) -> SystemExit:
    return SystemExit(f"error: --{exc.field.replace('_', '-')}: {str(exc).split(': ', 1)[-1]}")


def cmd_partner_add(args: argparse.Namespace) -> int:
    from engage.engine.audit import audit
    from engage.engine.loyalty import partners

    try:
        with engine().begin() as conn:
            programme = _programme(conn, args.programme)
            made, token = partners.add_partner(conn, programme.id, args.code, args.name, args.earn_rate,
                                               args.currency, args.burn_value)
            audit(conn, args.actor, "loyalty.partner.add", "loyalty_partner", made.id, code=made.code,
                  earn_rate=str(made.earn_rate), currency=made.currency, burn_value=str(made.burn_value))
    except partners.PartnerError as exc:
        raise _refused(exc) from None
    emit({"partner": made.code, "name": made.name, "earn_rate": str(made.earn_rate), "currency": made.currency,
          "burn_value": str(made.burn_value), "token": token,
          "note": "the token is shown this once: give it to the partner (Authorization: Bearer <token>)"})
    return 0


def cmd_partner_token(args: argparse.Namespace) -> int:
    from engage.engine.audit import audit
    from engage.engine.loyalty import partners

    with engine().begin() as conn:
        try:
            partner = partners.get(conn, _programme(conn, args.programme).id, args.partner)
        except LookupError as exc:
            raise SystemExit(f"error: {exc}") from None
        token = partners.new_token(conn, partner.id)
        audit(conn, args.actor, "loyalty.partner.token", "loyalty_partner", partner.id, code=partner.code)
    emit({"partner": partner.code, "token": token, "note": "the old token stopped working; this one is shown once"})
    return 0


def cmd_settlement(args: argparse.Namespace) -> int:
    from engage.engine.loyalty import partners, settlement

    start, end = _period(args)
    with engine().connect() as conn:
        try:
            partner = partners.get(conn, _programme(conn, args.programme).id, args.partner)
        except LookupError as exc:
            raise SystemExit(f"error: {exc}") from None
        made = settlement.statement(conn, partner.id, start, end)
    if args.csv:
        sys.stdout.write(settlement.as_csv(made))
    else:
        emit(made.as_json())
    return 0


def cmd_exchange_add(args: argparse.Namespace) -> int:
    from engage.engine.audit import audit
    from engage.engine.loyalty import exchange

    try:
        with engine().begin() as conn:
            programme = _programme(conn, args.programme)
            made = exchange.add(conn, programme.id, args.code, args.name, rate_in=args.rate_in,
                                rate_out=args.rate_out, min_points=args.min_points, daily_limit=args.daily_limit)
            audit(conn, args.actor, "loyalty.exchange.add", "loyalty_exchange_partner", made.id, code=made.code,
                  rate_in=str(made.rate_in), rate_out=str(made.rate_out), min_points=made.min_points,
                  daily_limit=made.daily_limit)
    except exchange.ExchangeError as exc:
        raise _refused(exc) from None
    emit({"exchange_partner": made.code, "name": made.name, "rate_in": str(made.rate_in),
          "rate_out": str(made.rate_out), "min_points": made.min_points, "daily_limit": made.daily_limit})
    return 0


def cmd_exchange_move(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from engage.engine.audit import audit
    from engage.engine.loyalty import exchange, members
    from engage.engine.store.schema import Subscriber

    move = exchange.exchange_out if args.direction == "out" else exchange.exchange_in
    try:
        with engine().begin() as conn:
            programme = _programme(conn, args.programme)
            partner = exchange.get(conn, programme.id, args.partner)
            sid = conn.execute(select(Subscriber.id).where(Subscriber.msisdn == args.msisdn)).scalar()
            member = None if sid is None else members.find(conn, programme.id, sid)
            if member is None:
                raise SystemExit(f"error: {args.msisdn} is not a member of {programme.code}")
            done = move(conn, partner, member.id, args.points, args.key)
            if done.new:
                audit(conn, args.actor, f"loyalty.exchange.{args.direction}", "loyalty_exchange_partner",
                      partner.id, member=member.id, **done.as_json())
    except LookupError as exc:
        raise SystemExit(f"error: {exc}") from None
    except exchange.ExchangeError as exc:
        raise SystemExit(f"error: {exc}") from None
    emit({"exchange_partner": partner.code, "msisdn": args.msisdn, **done.as_json(), "new": done.new})
    return 0


def cmd_exchange_statement(args: argparse.Namespace) -> int:
    from engage.engine.loyalty import exchange

    start, end = _period(args)
    with engine().connect() as conn:
        try:
            partner = exchange.get(conn, _programme(conn, args.programme).id, args.partner)
        except LookupError as exc:
            raise SystemExit(f"error: {exc}") from None
        made = exchange.statement(conn, partner.id, start, end)
    if args.csv:
        sys.stdout.write(exchange.statement_csv(made))
    else:
        emit(made)
    return 0



def _period_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("programme")
    s.add_argument("partner")
    s.add_argument("--from", dest="since", type=_day, required=True, help="the first day (UTC)")
    s.add_argument("--to", type=_day, required=True, help="the last day, included (UTC)")
    s.add_argument("--csv", action="store_true", help="CSV instead of JSON")


def register(sub: argparse._SubParsersAction) -> None:
    loy = subcommands_of(sub, "loyalty")
    partner = loy.add_parser("partner", help="partners on the partner API").add_subparsers(dest="what", required=True)
    s = partner.add_parser("add", help="a partner, and its token (printed once)")
    s.add_argument("programme")
    s.add_argument("code")
    s.add_argument("--name", required=True)
    s.add_argument("--earn-rate", required=True, help="points per 1 of the partner's currency spent, e.g. 0.5")
    s.add_argument("--currency", required=True, help="ISO 4217, e.g. USD")
    s.add_argument("--burn-value", required=True, help="what a point burnt at the partner is worth, e.g. 0.01")
    s.set_defaults(fn=cmd_partner_add)
    s = partner.add_parser("token", help="a new token for a partner (the old one stops working)")
    s.add_argument("programme")
    s.add_argument("partner")
    s.set_defaults(fn=cmd_partner_token)

    s = loy.add_parser("settlement", help="a partner's statement for a period: points issued and burnt, values")
    _period_args(s)
    s.set_defaults(fn=cmd_settlement)

    ex = loy.add_parser("exchange", help="exchange with other loyalty programmes").add_subparsers(
        dest="what", required=True)
    s = ex.add_parser("add", help="a programme exchanged with")
    s.add_argument("programme")
    s.add_argument("code")
    s.add_argument("--name", required=True)
    s.add_argument("--rate-in", required=True, help="our points per one of theirs")
    s.add_argument("--rate-out", required=True, help="their points per one of ours")
    s.add_argument("--min-points", type=int, default=1, help="the least of our points an exchange moves")
    s.add_argument("--daily-limit", type=int, help="our points a member may move per day, each way (default: any)")
    s.set_defaults(fn=cmd_exchange_add)
    for direction, what in (("out", "our points to theirs"), ("in", "their points to ours")):
        s = ex.add_parser(direction, help=f"a member's {what}")
        s.add_argument("programme")
        s.add_argument("partner")
        s.add_argument("msisdn")
        s.add_argument("points", type=int, help="ours" if direction == "out" else "theirs")
        s.add_argument("--key", required=True, help="the request's own id: the same key again exchanges once")
        s.set_defaults(fn=cmd_exchange_move, direction=direction)
    s = ex.add_parser("statement", help="what went each way in a period")
    _period_args(s)
    s.set_defaults(fn=cmd_exchange_statement)
