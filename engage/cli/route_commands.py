"""Commands for least-cost routing: import and list providers' price tables, and quote the route
a number would take now."""

from __future__ import annotations

import argparse
from pathlib import Path

from engage import config
from engage.cli.common import ENCODING_HELP, emit, engine, run_csv_import


def cmd_routes_import(args: argparse.Namespace) -> int:
    from engage.engine.routes.price_tables import PriceTableError, import_csv, write_rejections

    return run_csv_import(Path(args.file), lambda progress: import_csv(engine(), Path(args.file), actor=args.actor,
                                                                     progress=progress, encoding=args.encoding),
                          write_rejections, quiet=args.quiet, report=args.report, known_errors=(PriceTableError,))


def cmd_routes_list(args: argparse.Namespace) -> int:
    from engage.engine.routes.price_tables import list_prices

    with engine().connect() as conn:
        for row in list_prices(conn, args.provider):
            emit(row)
    return 0


def cmd_routes_quote(args: argparse.Namespace) -> int:
    from engage.engine.phones import InvalidNumber, to_e164
    from engage.engine.routes.router import Router

    try:
        msisdn = to_e164(args.msisdn, args.region or config.load().default_region)
    except InvalidNumber as exc:
        raise SystemExit(f"error: {exc}") from None
    with engine().connect() as conn:
        routes = Router(conn).candidates(msisdn)
    if not routes:
        raise SystemExit(f"error: no route to {msisdn}: no enabled provider covers it")
    for rank, r in enumerate(routes, 1):
        emit({"rank": rank, "provider": r.provider_name, "provider_id": r.provider_id,
              "price": None if r.price is None else str(r.price), "currency": r.currency,
              "network": r.network, "priced_on": r.priced_on, "healthy": r.healthy})
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    routes = sub.add_parser("routes", help="price tables and least-cost routes").add_subparsers(
        dest="action", required=True)
    s = routes.add_parser("import", help="upsert price table rows from CSV (provider, prefix, mcc_mnc, network, "
                                         "price, currency, valid_from)")
    s.add_argument("file")
    s.add_argument("--report", help="where to write rejected rows (default FILE.rejected.csv)")
    s.add_argument("--encoding", help=ENCODING_HELP)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(fn=cmd_routes_import)
    s = routes.add_parser("list", help="price table rows, with whether each is in force now")
    s.add_argument("--provider", help="only this provider's rows (by name)")
    s.set_defaults(fn=cmd_routes_list)
    s = routes.add_parser("quote", help="the providers a number would go to now, best first")
    s.add_argument("msisdn")
    s.add_argument("--region", help="region for a number without a country code (ENGAGE_DEFAULT_REGION)")
    s.set_defaults(fn=cmd_routes_quote)
