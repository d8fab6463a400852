"""`engage export ...`: Parquet exports for BI (engine.analytics.exports; docs/exports.md).

`engage export run` writes what changed since the last run, each dataset with a progress bar, and
prints each run's manifest as a JSON line; `engage export schema` prints the datasets' columns."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from engage import config
from engage.cli.common import emit, engine


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r}: a date, YYYY-MM-DD") from None


def cmd_export_run(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from engage.engine.analytics import exports
    from engage.engine.analytics.exports.clear_numbers import ClearNumbersRefused, allow
    from engage.engine.analytics.exports.personal import ExportKeyError

    settings = config.load()
    directory = Path(args.to) if args.to else settings.exports_dir
    names = args.dataset or [d.name for d in exports.all_datasets()]
    try:
        for name in names:
            exports.get(name)
    except KeyError as exc:
        raise SystemExit(f"error: --dataset: {exc.args[0]}") from None
    eng = engine()
    if args.clear_msisdn:
        try:
            allow(eng, args.as_admin, actor=args.actor, datasets=names, directory=directory)
        except ClearNumbersRefused as exc:
            raise SystemExit(f"error: --clear-msisdn: {exc}") from None
    options = exports.ExportOptions(directory=directory, since=args.since, settle=settings.export_settle,
                                    text=settings.export_text, clear_msisdn=args.clear_msisdn)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed:,} rows"),
                  TimeElapsedColumn(), disable=args.quiet, transient=True) as progress:
        def bar(name: str):  # noqa: ANN202 - a progress callback
            task = progress.add_task(f"export {name}", total=None)
            return lambda rows: progress.update(task, completed=rows)

        try:
            manifests = exports.run(eng, options, names, on_dataset=bar)
        except (exports.ExportError, ExportKeyError) as exc:
            raise SystemExit(f"error: {exc}") from None
    for manifest in manifests:
        emit({k: v for k, v in manifest.items() if k != "state"})
    return 0


def cmd_export_schema(args: argparse.Namespace) -> int:
    from engage.engine.analytics.exports import get
    from engage.engine.analytics.exports.schema_doc import dataset_markdown, markdown

    if args.dataset:
        try:
            print(dataset_markdown(get(args.dataset)), end="")
        except KeyError as exc:
            raise SystemExit(f"error: --dataset: {exc.args[0]}") from None
    else:
        print(markdown(), end="")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="Parquet exports for BI").add_subparsers(dest="what", required=True)
    s = export.add_parser("run", help="export what changed since the last run (every dataset, or --dataset)")
    s.add_argument("--dataset", action="append", help="only this dataset (repeatable); see `engage export schema`")
    s.add_argument("--to", metavar="DIR", help="the export directory (default: ENGAGE_EXPORTS_DIR, exports/)")
    s.add_argument("--since", type=_date, metavar="YYYY-MM-DD",
                   help="rebuild every partition from this date on (a backfill), then carry on incrementally")
    s.add_argument("--clear-msisdn", action="store_true",
                   help="phone numbers in clear instead of their keyed hash: needs --as an admin and --to a "
                        "directory of its own; recorded in the audit log")
    s.add_argument("--as", dest="as_admin", metavar="EMAIL", help="the admin who asks for --clear-msisdn")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(fn=cmd_export_run)
    s = export.add_parser("schema", help="the datasets' columns, types and meaning (markdown)")
    s.add_argument("--dataset", help="only this dataset")
    s.set_defaults(fn=cmd_export_schema)
