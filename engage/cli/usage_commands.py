"""`engage usage import|refresh`: subscribers' network usage, which usage criteria read."""

from __future__ import annotations

import argparse
from pathlib import Path

from engage import config
from engage.cli.common import ENCODING_HELP, emit, engine, run_csv_import


def register(sub: argparse._SubParsersAction) -> None:
    use = sub.add_parser("usage", help="usage events (calls, data, recharges...) and their totals").add_subparsers(
        dest="action", required=True)
    s = use.add_parser("import", help="events from CSV or Parquet: msisdn, kind, at, amount")
    s.add_argument("file")
    s.add_argument("--region", help="region for national numbers (default ENGAGE_DEFAULT_REGION)")
    s.add_argument("--report", help="where rejected rows go (default FILE.rejected.csv)")
    s.add_argument("--encoding", help=ENCODING_HELP)
    s.add_argument("--no-refresh", action="store_true", help="leave the usage totals to the next refresh")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(fn=cmd_usage_import)
    use.add_parser("refresh", help="recompute the usage totals that make usage criteria fast").set_defaults(
        fn=cmd_usage_refresh)


def cmd_usage_import(args: argparse.Namespace) -> int:
    from engage.engine.subscribers import RowError, count_rows, write_rejections
    from engage.engine.usage.events_import import import_events

    region = args.region or config.load().default_region
    return run_csv_import(Path(args.file), lambda progress: import_events(
        engine(), Path(args.file), region, refresh=not args.no_refresh, progress=progress, encoding=args.encoding),
        write_rejections, quiet=args.quiet, report=args.report, known_errors=(RowError,), total=count_rows)


def cmd_usage_refresh(args: argparse.Namespace) -> int:
    from engage.engine.usage import totals

    emit(totals.refresh(engine()))
    return 0
