"""`engage loyalty report`: a programme's reports for a range of days (engine/loyalty/reports.py), every
table as one JSON document, or one table (--table) as CSV. It joins `engage loyalty` (loyalty_commands
registers it; this group comes after it in COMMAND_GROUPS). Days are those of --tz, the installation's
zone by default; --to is the last day, included, as in `engage loyalty settlement`."""

from __future__ import annotations

import argparse
import sys

from engage.cli.common import emit, engine, subcommands_of


def cmd_report(args: argparse.Namespace) -> int:
    from engage import config
    from engage.engine.loyalty import programmes, reports
    from engage.engine.loyalty.report_periods import ReportError, day

    if args.csv and not args.table:
        raise SystemExit(f"error: --csv: name the table to write with --table ({', '.join(reports.TABLES)})")
    try:
        first, last = day(args.since, "from"), day(args.to, "to")
        with engine().connect() as conn:
            try:
                programme = programmes.get(conn, args.programme)
            except LookupError as exc:
                raise SystemExit(f"error: --programme: {exc}") from None
            made = reports.report(conn, programme.id, first, last, by=args.by,
                                  zone=args.tz or config.load().default_timezone,
                                  tables=[args.table] if args.table else None)
    except ReportError as exc:
        option = {"from": "--from", "to": "--to", "by": "--by", "timezone": "--tz", "table": "--table"}[exc.field]
        raise SystemExit(f"error: {option}: {str(exc).split(': ', 1)[-1]}") from None
    if args.csv:
        sys.stdout.write(reports.as_csv(made, args.table))
    else:
        emit(reports.as_json(made))
    return 0



def register(sub: argparse._SubParsersAction) -> None:
    s = subcommands_of(sub, "loyalty").add_parser(
        "report", help="a programme's reports for a range of days: per period, rule, cause, partner; liability, "
                       "levels, usage")
    s.add_argument("--programme", required=True, help="the programme's code")
    s.add_argument("--from", dest="since", metavar="DAY", required=True, help="the first day, e.g. 2026-11-01")
    s.add_argument("--to", metavar="DAY", required=True, help="the last day, included, e.g. 2026-12-31")
    s.add_argument("--by", default="month", help="the periods' length: day, week (from Monday) or month (default)")
    s.add_argument("--tz", help="the time zone the days are drawn in (default: the installation's)")
    s.add_argument("--table", help="only this table: periods, per_rule, per_cause, liability, levels, partners, "
                                   "exchange, ussd, keywords or campaigns")
    s.add_argument("--csv", action="store_true", help="the table as CSV instead of JSON (needs --table)")
    s.set_defaults(fn=cmd_report)
