"""`engage`: the one command line. Every command works against ENGAGE_DATABASE_URL and
ENGAGE_BROKER_URL (SQLite file and in-process broker by default).

Each command group lives in its own module with a `register(sub)` function; add a module
to COMMAND_GROUPS to add a group.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import sys

from sqlalchemy import make_url
from sqlalchemy.exc import OperationalError, ProgrammingError

from engage import config
from engage.cli import (
    audience_commands,
    bench_commands,
    campaign_commands,
    data_commands,
    dlq_commands,
    export_commands,
    keyword_commands,
    loyalty_adjust_commands,
    loyalty_commands,
    loyalty_load_commands,
    loyalty_opening_commands,
    loyalty_partner_commands,
    loyalty_report_commands,
    process_commands,
    provider_commands,
    route_commands,
    usage_commands,
    user_commands,
    ussd_commands,
    ussd_gateway_commands,
)
from engage.cli.common import check_args

COMMAND_GROUPS = [data_commands, audience_commands, usage_commands, provider_commands, route_commands,
                  campaign_commands, dlq_commands, process_commands, bench_commands, user_commands,
                  ussd_commands, ussd_gateway_commands, keyword_commands, export_commands, loyalty_commands,
                  loyalty_adjust_commands,
                  loyalty_partner_commands, loyalty_opening_commands, loyalty_load_commands,
                  loyalty_report_commands]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="engage", description=__doc__.split("\n\n")[0])
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = p.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["smsc-sim"]:  # the simulator parses its own options, --help included
        return process_commands.cmd_smsc_sim(argparse.Namespace(rest=argv[1:]))
    args = build_parser().parse_args(argv)
    check_args(args)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.actor = f"cli:{getpass.getuser()}"
    try:
        return args.fn(args)
    except (OperationalError, ProgrammingError) as exc:
        text = str(exc.orig)
        where = make_url(config.load().database_url).render_as_string(hide_password=True)
        if "no such table" in text or ("relation" in text and "does not exist" in text):
            print(f"error: the database {where} has no engage schema yet; run `engage db upgrade`", file=sys.stderr)
        else:
            print(f"error: database {where}: {text.strip().splitlines()[0]}", file=sys.stderr)
        return 1
