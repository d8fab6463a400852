"""`engage loyalty ...`: a loyalty programme from the command line: the programme, its earning
rules (and their tester), enrolment, usage fed through the broker or scored at once, a member's
balance, and expiry. Each prints JSON; each change by a person is in the audit log."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engage.cli.common import emit, engine, json_arg


def _moment(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: an ISO 8601 time such as 2027-01-01T00:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _event(value: str) -> tuple[datetime, float]:
    at, _, amount = value.rpartition("=")
    try:
        return _moment(at), float(amount)
    except (ValueError, argparse.ArgumentTypeError):
        raise argparse.ArgumentTypeError(f"{value!r}: TIME=AMOUNT, e.g. 2027-01-05T09:00:00Z=250") from None


def cmd_programme_create(args: argparse.Namespace) -> int:
    from engage.engine.audit import audit
    from engage.engine.loyalty import programmes

    try:
        with engine().begin() as conn:
            made = programmes.create(conn, args.code, args.name, currency=args.currency, point_value=args.point_value,
                                     points_valid_days=None if args.valid_days == 0 else args.valid_days)
            audit(conn, args.actor, "loyalty.programme.create", "loyalty_programme", made.id, code=made.code)
    except programmes.ProgrammeError as exc:
        raise SystemExit(f"error: --{exc.field.replace('_', '-')}: {exc}") from None
    emit({"id": made.id, "code": made.code, "name": made.name, "currency": made.currency,
          "point_value": str(made.point_value), "points_valid_days": made.points_valid_days})
    return 0


def _programme(conn: Any, code: str) -> Any:
    from engage.engine.loyalty import programmes

    try:
        return programmes.get(conn, code)
    except LookupError as exc:
        raise SystemExit(f"error: {exc}") from None


def cmd_rule_set(args: argparse.Namespace) -> int:
    from engage.engine.audit import audit
    from engage.engine.loyalty import rules

    try:
        with engine().begin() as conn:
            programme = _programme(conn, args.programme)
            if args.change:
                version = rules.change(conn, programme.id, args.code, args.json, actor=args.actor,
                                       valid_from=args.valid_from)
            else:
                version = rules.create(conn, programme.id, args.code, args.name or args.code, args.json,
                                       actor=args.actor, valid_from=args.valid_from)
            audit(conn, args.actor, "loyalty.rule.change" if args.change else "loyalty.rule.create", "loyalty_rule",
                  version.rule_id, version=version.version, definition=version.definition.as_json())
    except rules.EarningRuleError as exc:
        raise SystemExit(f"error: {exc}") from None
    emit({"rule": version.code, "version": version.version, "valid_from": version.valid_from.isoformat(),
          "definition": version.definition.as_json()})
    return 0


def cmd_rule_try(args: argparse.Namespace) -> int:
    from engage.engine.loyalty import rules, scoring

    try:
        emit({"events": scoring.trial(args.json, args.event, level=args.level, carried=args.carried)})
    except rules.EarningRuleError as exc:
        raise SystemExit(f"error: {exc}") from None
    return 0


def cmd_enrol(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from engage.engine.audit import audit
    from engage.engine.loyalty import members
    from engage.engine.store.schema import Subscriber

    if args.segment is not None:
        return _enrol_segment(args)
    with engine().begin() as conn:
        programme = _programme(conn, args.programme)
        query = select(Subscriber.id) if args.all else select(Subscriber.id).where(Subscriber.msisdn.in_(args.msisdn))
        ids = list(conn.execute(query).scalars())
        if not args.all and len(ids) != len(set(args.msisdn)):
            known = set(conn.execute(select(Subscriber.msisdn).where(Subscriber.msisdn.in_(args.msisdn))).scalars())
            raise SystemExit(f"error: --msisdn: no subscriber has {', '.join(sorted(set(args.msisdn) - known))}")
        added = members.enrol(conn, programme.id, ids, "person" if args.msisdn else "bulk")
        audit(conn, args.actor, "loyalty.enrol", "loyalty_programme", programme.id, enrolled=added)
    emit({"programme": programme.code, "subscribers": len(ids), "enrolled": added})
    return 0


def _enrol_segment(args: argparse.Namespace) -> int:
    from engage.engine.audit import audit
    from engage.engine.loyalty import auto_enrol
    from engage.engine.segments.errors import SegmentError

    db = engine()
    with db.connect() as conn:
        programme = _programme(conn, args.programme)
    try:
        done = auto_enrol.enrol_segment(db, programme.id, args.segment)
    except SegmentError as exc:
        raise SystemExit(f"error: --segment: {exc.message}") from None
    with db.begin() as conn:
        audit(conn, args.actor, "loyalty.enrol", "loyalty_programme", programme.id, segment=args.segment,
              enrolled=done["enrolled"])
    emit({"programme": programme.code, "segment": args.segment, **done})
    return 0


def cmd_feed(args: argparse.Namespace) -> int:
    from engage import config
    from engage.engine.broker import connect
    from engage.engine.loyalty import feed

    if args.now:
        return _score_now(args)
    broker = connect(config.load().broker_url)
    try:
        broker.declare(feed.usage_queue())
        batches = 0
        for body in feed.file_batches(Path(args.file), args.programme, args.source):
            broker.publish(feed.usage_queue(), body)
            batches += 1
    except feed.FeedError as exc:
        raise SystemExit(f"error: {exc}") from None
    finally:
        broker.close()
    emit({"queue": feed.usage_queue(), "batches": batches})
    return 0


def _score_now(args: argparse.Namespace) -> int:
    from engage.engine.loyalty import feed
    from engage.engine.loyalty.scoring import ScoreReport

    eng = engine()
    total = ScoreReport()
    try:
        for body in feed.file_batches(Path(args.file), args.programme, args.source):
            total.add(feed.score_batch(eng, feed.parse(body)))
    except feed.FeedError as exc:
        raise SystemExit(f"error: {exc}") from None
    emit({**total.as_dict(), "first_rejections": [f"{ref}: {why}" for ref, why in total.rejected[:10]]})
    return 0


def cmd_balance(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from engage.engine.loyalty import ledger, members
    from engage.engine.store.schema import Subscriber

    with engine().connect() as conn:
        programme = _programme(conn, args.programme)
        sid = conn.execute(select(Subscriber.id).where(Subscriber.msisdn == args.msisdn)).scalar()
        member = None if sid is None else members.find(conn, programme.id, sid)
        if member is None:
            raise SystemExit(f"error: {args.msisdn} is not a member of {programme.code}")
        b = ledger.balance(conn, member.id)
    emit({"msisdn": args.msisdn, "status": member.status, "level": member.level, "available": b.available,
          "held": b.held, "earned": b.earned, "redeemed": b.redeemed, "expired": b.expired,
          "expiring": [{"at": at.isoformat(), "points": p} for at, p in b.expiring]})
    return 0


def cmd_levels(args: argparse.Namespace) -> int:
    from engage.engine.audit import audit
    from engage.engine.loyalty import levels

    try:
        with engine().begin() as conn:
            programme = _programme(conn, args.programme)
            made = levels.set_levels(conn, programme.id, args.json)
            audit(conn, args.actor, "loyalty.levels.set", "loyalty_programme", programme.id, levels=made.as_json())
    except levels.LevelsError as exc:
        raise SystemExit(f"error: {exc}") from None
    emit({"programme": programme.code, **made.as_json()})
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from engage.engine.loyalty import levels

    eng = engine()
    with eng.connect() as conn:
        programme = _programme(conn, args.programme)
    emit({"programme": programme.code, **levels.review(eng, programme.id)})
    return 0


def cmd_reward_add(args: argparse.Namespace) -> int:
    from engage.engine.audit import audit
    from engage.engine.loyalty import rewards

    try:
        with engine().begin() as conn:
            programme = _programme(conn, args.programme)
            made = rewards.add(conn, programme.id, args.json)
            added = rewards.add_codes(conn, made.id, Path(args.codes).read_text().splitlines()) if args.codes else 0
            audit(conn, args.actor, "loyalty.reward.add", "loyalty_reward", made.id, code=made.code, codes=added)
    except rewards.RewardError as exc:
        raise SystemExit(f"error: {exc}") from None
    except OSError as exc:
        raise SystemExit(f"error: --codes: {exc.strerror}") from None
    emit({"reward": made.code, "points": made.points, "stock": made.stock, "fulfilment": made.fulfilment,
          "voucher_codes": added})
    return 0


def cmd_redeem(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from engage.engine.loyalty import members, redeeming
    from engage.engine.loyalty.ledger import LedgerError
    from engage.engine.store.schema import Subscriber

    eng = engine()
    with eng.connect() as conn:
        programme = _programme(conn, args.programme)
        sid = conn.execute(select(Subscriber.id).where(Subscriber.msisdn == args.msisdn)).scalar()
        member = None if sid is None else members.find(conn, programme.id, sid)
    if member is None:
        raise SystemExit(f"error: {args.msisdn} is not a member of {programme.code}")
    try:
        done = redeeming.redeem(eng, programme.id, member.id, args.reward, source="person", idem_key=args.key)
    except (LedgerError, LookupError) as exc:
        raise SystemExit(f"error: {exc}") from None
    emit({"redemption": done.hold_id, "state": done.state, "points": done.points, "detail": done.detail})
    return 0


def cmd_expire(args: argparse.Namespace) -> int:
    from engage.engine.loyalty import expiry

    emit(expiry.expire_due(engine()).as_dict())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    loy = sub.add_parser("loyalty", help="the loyalty programme: rules, members, points").add_subparsers(
        dest="action", required=True)
    s = loy.add_parser("programme", help="create a programme").add_subparsers(dest="what", required=True)
    s = s.add_parser("create", help="a new programme")
    s.add_argument("code")
    s.add_argument("--name", required=True)
    s.add_argument("--currency", default="USD")
    s.add_argument("--point-value", default="0.01", help="what a point is worth in the currency (for liability)")
    s.add_argument("--valid-days", type=int, default=365, help="how long earned points live (0: forever)")
    s.set_defaults(fn=cmd_programme_create)

    rule = loy.add_parser("rule", help="earning rules").add_subparsers(dest="what", required=True)
    for name, change in (("add", False), ("change", True)):
        s = rule.add_parser(name, help="a new rule" if not change else "a new version of a rule")
        s.add_argument("programme")
        s.add_argument("code")
        s.add_argument("--json", type=json_arg, required=True, help="the definition (see engine/loyalty/rules.py)")
        s.add_argument("--name")
        s.add_argument("--from", dest="valid_from", type=_moment, help="in force from (default now)")
        s.set_defaults(fn=cmd_rule_set, change=change)
    s = rule.add_parser("try", help="what events would give under a definition")
    s.add_argument("--json", type=json_arg, required=True)
    s.add_argument("--event", type=_event, action="append", required=True, help="TIME=AMOUNT, repeatable")
    s.add_argument("--level")
    s.add_argument("--carried", type=float, default=0.0)
    s.set_defaults(fn=cmd_rule_try)

    s = loy.add_parser("enrol", help="enrol subscribers")
    s.add_argument("programme")
    who = s.add_mutually_exclusive_group(required=True)
    who.add_argument("--msisdn", action="append", help="an E.164 number, repeatable")
    who.add_argument("--all", action="store_true", help="every subscriber")
    who.add_argument("--segment", type=int, help="whoever saved segment N selects now (the programme's enrol_segment "
                                                 "setting does this every hour by itself)")
    s.set_defaults(fn=cmd_enrol)

    s = loy.add_parser("feed", help="usage records from CSV/Parquet (ref, msisdn, kind, at, amount) to scoring")
    s.add_argument("programme")
    s.add_argument("file")
    s.add_argument("--source", required=True, help="the feed's name: a ref is scored once per source")
    s.add_argument("--now", action="store_true", help="score here and now instead of through the broker")
    s.set_defaults(fn=cmd_feed)

    s = loy.add_parser("balance", help="a member's balance and the points expiring soon")
    s.add_argument("programme")
    s.add_argument("msisdn")
    s.set_defaults(fn=cmd_balance)

    s = loy.add_parser("levels", help="a programme's levels (see engine/loyalty/levels.py)")
    s.add_argument("programme")
    s.add_argument("--json", type=json_arg, required=True,
                   help='{"levels": [{"name": "blue", "min": 0}, {"name": "gold", "min": 5000}], "window_days": 365, '
                        '"grace_days": 30, "review_every_days": 90}')
    s.set_defaults(fn=cmd_levels)
    s = loy.add_parser("review", help="review the levels now, if the programme's review date has come")
    s.add_argument("programme")
    s.set_defaults(fn=cmd_review)

    reward = loy.add_parser("reward", help="the rewards catalogue").add_subparsers(dest="what", required=True)
    s = reward.add_parser("add", help="a reward (see engine/loyalty/rewards.py)")
    s.add_argument("programme")
    s.add_argument("--json", type=json_arg, required=True)
    s.add_argument("--codes", help="a file of voucher codes, one a line (fulfilment voucher)")
    s.set_defaults(fn=cmd_reward_add)
    s = loy.add_parser("redeem", help="redeem a reward for a member (support's desk)")
    s.add_argument("programme")
    s.add_argument("msisdn")
    s.add_argument("reward")
    s.add_argument("--key", required=True, help="the request's own id: the same key again redeems once")
    s.set_defaults(fn=cmd_redeem)

    loy.add_parser("expire", help="expire the points that are due").set_defaults(fn=cmd_expire)
