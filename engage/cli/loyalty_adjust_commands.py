"""`engage loyalty adjust` and `engage loyalty adjustment list|approve|reject`: a member's points
corrected by a person, with a reason, as on the member's ledger page; above the programme's threshold
the adjustment waits for a second person. They join `engage loyalty` (loyalty_commands registers it;
this group comes after it in COMMAND_GROUPS). Each prints JSON; each request and decision is in the
audit log. --actor names the person (default cli:<login>): the asker cannot approve their own."""

from __future__ import annotations

import argparse

from engage.cli.common import emit, engine, person, person_option, subcommands_of

OPTIONS = {"points": "--points", "reason": "--reason", "msisdn": "--msisdn"}


def _refused(exc: Exception) -> SystemExit:
    """One line naming the option at fault, where there is one."""
    text = str(exc)
    field = getattr(exc, "field", text.split(": ", 1)[0])
    if field in OPTIONS and text.startswith(f"{field}: "):
        return SystemExit(f"error: {OPTIONS[field]}: {text[len(field) + 2:]}")
    return SystemExit(f"error: {text}")


def _limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 10_000:
        raise argparse.ArgumentTypeError(f"{value!r}: a whole number from 1 to 10,000")
    return int(value)


def cmd_adjust(args: argparse.Namespace) -> int:
    from engage.engine.loyalty import adjustments, programmes
    from engage.engine.loyalty.ledger import InsufficientPoints

    try:
        with engine().begin() as conn:
            programme = programmes.get(conn, args.programme)
            member = adjustments.member_of(conn, programme.id, args.msisdn)
            if member is None:
                raise SystemExit(f"error: --msisdn: {args.msisdn} is not a member of {programme.code}")
            made = adjustments.request(conn, programme, member, args.points, args.reason, actor=person(args))
    except (adjustments.AdjustmentError, InsufficientPoints) as exc:
        raise _refused(exc) from None
    except LookupError as exc:
        raise SystemExit(f"error: {exc}") from None
    emit({"programme": programme.code, **made.as_json(),
          "note": "posted" if made.state == "posted" else "waits for a second person: engage loyalty adjustment "
                                                         f"approve {made.id} --actor <someone else>"})
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from engage.engine.loyalty import adjustments, programmes

    with engine().connect() as conn:
        try:
            programme = programmes.get(conn, args.programme)
        except LookupError as exc:
            raise SystemExit(f"error: {exc}") from None
        if args.msisdn:
            member = adjustments.member_of(conn, programme.id, args.msisdn)
            if member is None:
                raise SystemExit(f"error: --msisdn: {args.msisdn} is not a member of {programme.code}")
            listed = adjustments.of_member(conn, member)
        elif args.decided:
            listed = adjustments.decided(conn, programme.id, limit=args.limit)
        else:
            listed = adjustments.pending(conn, programme.id, limit=args.limit)
    emit({"programme": programme.code, "adjustments": [a.as_json() for a in listed]})
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    from engage.engine.loyalty import adjustments
    from engage.engine.loyalty.ledger import InsufficientPoints

    try:
        with engine().begin() as conn:
            if args.decision == "approve":
                done = adjustments.approve(conn, args.id, actor=person(args))
            else:
                done = adjustments.reject(conn, args.id, actor=person(args), reason=args.reason)
    except (adjustments.AdjustmentError, InsufficientPoints) as exc:
        raise _refused(exc) from None
    except LookupError as exc:
        raise SystemExit(f"error: {exc}") from None
    emit(done.as_json())
    return 0




def register(sub: argparse._SubParsersAction) -> None:
    loy = subcommands_of(sub, "loyalty")
    s = loy.add_parser("adjust", help="correct a member's points, with a reason (big ones wait for approval)")
    s.add_argument("--programme", required=True)
    s.add_argument("--msisdn", required=True, help="the member's number, E.164")
    s.add_argument("--points", type=int, required=True, help="a whole number; minus takes points away")
    s.add_argument("--reason", required=True, help="why, at most 200 characters")
    person_option(s, "asks")
    s.set_defaults(fn=cmd_adjust)

    adj = loy.add_parser("adjustment", help="adjustments: list, approve or reject those waiting").add_subparsers(
        dest="what", required=True)
    s = adj.add_parser("list", help="those waiting for a second person, oldest first")
    s.add_argument("--programme", required=True)
    which = s.add_mutually_exclusive_group()
    which.add_argument("--decided", action="store_true", help="the latest posted or rejected instead")
    which.add_argument("--msisdn", help="one member's, whatever their state")
    s.add_argument("--limit", type=_limit, default=200)
    s.set_defaults(fn=cmd_list)
    for decision, what in (("approve", "posts a waiting adjustment (not its asker)"),
                           ("reject", "drops a waiting adjustment, with a reason")):
        s = adj.add_parser(decision, help=what)
        s.add_argument("id", type=int)
        if decision == "reject":
            s.add_argument("--reason", required=True)
        person_option(s, "decides")
        s.set_defaults(fn=cmd_decide, decision=decision)
