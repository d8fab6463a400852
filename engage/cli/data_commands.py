"""Commands that load data: the schema, subscribers, templates."""

from __future__ import annotations

import argparse
from pathlib import Path

from engage import config
from engage.cli.common import ENCODING_HELP, emit, engine, run_csv_import


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from engage.engine.store.migrate import current, upgrade

    url = config.load().database_url
    upgrade(url)
    print(f"database at revision {current(url)}")
    return 0


def cmd_import_subscribers(args: argparse.Namespace) -> int:
    from engage.engine.subscribers import RowError, count_rows, import_file, write_rejections

    region = args.region or config.load().default_region
    return run_csv_import(Path(args.file), lambda progress: import_file(engine(), Path(args.file), region,
                                                                      progress=progress, encoding=args.encoding),
                          write_rejections, quiet=args.quiet, report=args.report, known_errors=(RowError,),
                          total=count_rows)


def cmd_template_create(args: argparse.Namespace) -> int:
    from engage.engine.templates import store

    variants = {args.language: args.body}
    for item in args.variant or []:
        lang, _, body = item.partition("=")
        variants[lang.strip()] = body
    arms: dict[str, dict[str, str]] = {}
    for item in args.arm or []:  # B:en=Hello ...
        arm, _, rest = item.partition(":")
        lang, _, body = rest.partition("=")
        arms.setdefault(arm.strip(), {})[lang.strip()] = body
    try:
        with engine().begin() as conn:
            template_id = store.create(conn, args.name, variants, default_language=args.language, actor=args.actor,
                                       arms=arms or None)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    emit({"template_id": template_id})
    return 0


def cmd_template_preview(args: argparse.Namespace) -> int:
    from engage.engine.templates.preview import preview

    try:
        with engine().connect() as conn:
            emit(preview(conn, args.id, subscriber_id=args.subscriber, msisdn=args.msisdn, arm=args.arm,
                         sender=args.sender or "", region=config.load().default_region))
    except LookupError as exc:
        raise SystemExit(f"error: {exc.args[0] if exc.args else exc}") from None
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="run migrations up to the latest").set_defaults(fn=cmd_db_upgrade)

    imp = sub.add_parser("import", help="import data").add_subparsers(dest="what", required=True)
    s = imp.add_parser("subscribers", help="upsert subscribers from a CSV or Parquet file (msisdn column "
                                                "required; tags/vas: ';'-separated, replace the set)")
    s.add_argument("file")
    s.add_argument("--region", help="default region for numbers without a country code (ENGAGE_DEFAULT_REGION)")
    s.add_argument("--report", help="where to write rejected rows (default FILE.rejected.csv)")
    s.add_argument("--encoding", help=ENCODING_HELP)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(fn=cmd_import_subscribers)

    tpl = sub.add_parser("template", help="message templates").add_subparsers(dest="action", required=True)
    s = tpl.add_parser("create", help="save a template (Jinja2, sandboxed)")
    s.add_argument("--name", required=True)
    s.add_argument("--body", required=True, help="e.g. 'Hello {{ first_name | default(\"friend\") }}'")
    s.add_argument("--language", default="en", help="language of --body, and the default variant")
    s.add_argument("--variant", action="append", help="another language: LANG=BODY (repeatable)")
    s.add_argument("--arm", action="append", help="an A/B arm's variant: ARM:LANG=BODY (repeatable)")
    s.set_defaults(fn=cmd_template_create)
    s = tpl.add_parser("preview", help="a template rendered for a subscriber (or a sample one): text, encoding, parts")
    s.add_argument("id", type=int)
    s.add_argument("--subscriber", type=int)
    s.add_argument("--msisdn")
    s.add_argument("--arm")
    s.add_argument("--sender")
    s.set_defaults(fn=cmd_template_preview)
