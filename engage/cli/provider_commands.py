"""Commands that manage SMS providers."""

from __future__ import annotations

import argparse

from engage.cli.common import emit, engine


def cmd_provider_add(args: argparse.Namespace) -> int:
    from engage.engine.providers_admin import add_smpp

    with engine().begin() as conn:
        provider_id = add_smpp(conn, name=args.name, host=args.host, port=args.port, system_id=args.system_id,
                               password=args.password, tps=args.tps, binds=args.binds, window=args.window,
                               priority=args.priority, actor=args.actor)
    emit({"provider_id": provider_id})
    return 0


def cmd_provider_list(args: argparse.Namespace) -> int:
    from engage.engine.providers_admin import list_providers

    with engine().connect() as conn:
        for row in list_providers(conn):
            emit(row)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    prov = sub.add_parser("provider", help="SMS providers").add_subparsers(dest="action", required=True)
    s = prov.add_parser("add", help="add an SMPP provider")
    s.add_argument("--name", required=True)
    s.add_argument("--kind", default="smpp", choices=["smpp"])
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=2775)
    s.add_argument("--system-id", required=True)
    s.add_argument("--password", required=True)
    s.add_argument("--tps", type=int, default=500, help="parts per second")
    s.add_argument("--binds", type=int, default=1)
    s.add_argument("--window", type=int, default=32)
    s.add_argument("--priority", type=int, default=100)
    s.set_defaults(fn=cmd_provider_add)
    prov.add_parser("list", help="list providers (passwords masked)").set_defaults(fn=cmd_provider_list)
