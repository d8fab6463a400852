"""`engage loyalty open-balances`: the loyalty points and tiers subscribers were imported with moved
into a programme's ledger as opening balances (engine/loyalty/opening_balances.py), once. It joins
`engage loyalty` (loyalty_commands registers it; this group comes after it in COMMAND_GROUPS), prints
JSON, and the run is in the audit log."""

from __future__ import annotations

import argparse

from engage.cli.common import emit, engine, subcommands_of

ACTOR_MAX = 128  # audit_log.actor


def cmd_open_balances(args: argparse.Namespace) -> int:
    from engage.engine.loyalty import opening_balances, programmes

    actor = (args.person or args.actor).strip()
    if not actor or len(actor) > ACTOR_MAX:
        raise SystemExit(f"error: --actor: the person the run is done for, 1 to {ACTOR_MAX} characters")
    if args.batch < 1:
        raise SystemExit("error: --batch: a whole number of subscribers, 1 or more")
    run = engine()
    with run.connect() as conn:
        try:
            programme = programmes.get(conn, args.programme)
        except LookupError as exc:
            raise SystemExit(f"error: --programme: {exc}") from None
    opened = opening_balances.open_balances(run, programme, actor=actor, batch=args.batch)
    emit({"programme": programme.code, **opened.as_dict()})
    return 0



def register(sub: argparse._SubParsersAction) -> None:
    s = subcommands_of(sub, "loyalty").add_parser(
        "open-balances", help="the imported loyalty_points and loyalty_tier as opening balances in a programme (once)")
    s.add_argument("--programme", required=True, help="the programme's code, e.g. club")
    s.add_argument("--actor", dest="person", default="",
                   help="who the run is done for, as the audit log names them (default: cli:<your user name>)")
    s.add_argument("--batch", type=int, default=5_000, help="subscribers per transaction (default 5000)")
    s.set_defaults(fn=cmd_open_balances)
