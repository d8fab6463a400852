"""`engage ussd gateway add|list`: the USSD gateways hops arrive through (Africa's Talking and
Hubtel callbacks, an SMPP provider's binds).

The `ussd` command is shared: engage/cli/ussd_commands.py makes it (with `menu ...` and `try`), and
this module adds `gateway ...` to it through :func:`ussd_commands`, which finds the `ussd`
sub-commands wherever they were made (or makes them, when this group registers first); so the
order of COMMAND_GROUPS does not matter as long as ussd_commands.py uses it too.
"""

from __future__ import annotations

import argparse
import sys

from engage.cli.common import emit, engine


def ussd_commands(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """The sub-commands of `engage ussd`, made on first use."""
    parser = sub.choices.get("ussd")
    if parser is None:
        parser = sub.add_parser("ussd", help="USSD menus, gateways and sessions")
        return parser.add_subparsers(dest="ussd_command", required=True)
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))


def cmd_gateway_add(args: argparse.Namespace) -> int:
    from engage.engine.ussd.gateways.records import add_gateway, callback_path

    config: dict[str, object] = {}
    if args.max_chars is not None:
        config["max_chars"] = args.max_chars
    if args.provider is not None:
        if args.kind != "smpp":
            print("error: --provider: only an smpp gateway rides on a provider's binds", file=sys.stderr)
            return 2
        config["provider"] = args.provider
    try:
        with engine().begin() as conn:
            gateway_id, token = add_gateway(conn, args.kind, args.name, config, actor=args.actor)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out: dict[str, object] = {"id": gateway_id, "name": args.name, "kind": args.kind, "config": config}
    if args.kind == "smpp":
        out["hops"] = f"on the binds of provider {args.provider}: run `engage worker send`"
    else:
        out["callback_path"] = callback_path(args.name, token)
        out["note"] = ("give the gateway https://<your engage host> + callback_path; the token is shown only now "
                       "(engage keeps its hash)")
    emit(out)
    return 0


def cmd_gateway_list(args: argparse.Namespace) -> int:
    from engage.engine.ussd.gateways.records import gateway_rows

    with engine().connect() as conn:
        for row in gateway_rows(conn):
            emit(row)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    gateway = ussd_commands(sub).add_parser("gateway", help="USSD gateways: aggregators' callbacks, SMPP binds")
    verbs = gateway.add_subparsers(dest="gateway_command", required=True)
    s = verbs.add_parser("add", help="add a gateway; prints its callback path with its token")
    s.add_argument("--kind", required=True, help="africastalking, hubtel or smpp")
    s.add_argument("--name", required=True, help="the gateway's name, the <name> of /ussd/<name>")
    s.add_argument("--provider", help="smpp: the SMPP provider whose binds carry the hops")
    s.add_argument("--max-chars", type=int, default=None,
                   help="characters per screen (default 182; 80 for gateways that send UCS-2)")
    s.set_defaults(fn=cmd_gateway_add)
    s = verbs.add_parser("list", help="the gateways, one JSON line each (tokens are not kept)")
    s.set_defaults(fn=cmd_gateway_list)
