"""`engage`: the one command line. Every command works against ENGAGE_DATABASE_URL and
ENGAGE_BROKER_URL (SQLite file and in-process broker by default)."""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from pathlib import Path
from typing import Any

from engage import config


def _engine():  # noqa: ANN202
    from engage.engine.store.database import make_engine

    return make_engine(config.load().database_url)


def _json_arg(text: str) -> Any:
    """A JSON value given inline or as @path/to/file.json."""
    raw = Path(text[1:]).read_text(encoding="utf-8") if text.startswith("@") else text
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"error: not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}") from None


def _print(data: Any) -> None:
    print(json.dumps(data, default=str))


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from engage.engine.store.migrate import current, upgrade

    url = config.load().database_url
    upgrade(url)
    print(f"database at revision {current(url)}")
    return 0


def cmd_import_subscribers(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from engage.engine.subscribers_import import RowError, import_csv, write_rejections

    settings = config.load()
    path = Path(args.file)
    if not path.exists():
        raise SystemExit(f"error: {path}: no such file")
    total = max(sum(1 for _ in path.open(encoding="utf-8-sig")) - 1, 0)
    with Progress(disable=args.quiet, transient=True) as progress:
        task = progress.add_task(f"importing {path.name}", total=total)
        try:
            report = import_csv(_engine(), path, args.region or settings.default_region,
                                progress=lambda n: progress.update(task, completed=n))
        except RowError as exc:
            raise SystemExit(f"error: {exc}") from None
    out = report.as_dict()
    if report.rejected:
        report_path = Path(args.report or path.with_suffix(".rejected.csv"))
        write_rejections(report, report_path)
        out["report"] = str(report_path)
    _print(out)
    return 0


def cmd_segment_create(args: argparse.Namespace) -> int:
    from engage.engine.segments import audience, store
    from engage.engine.segments.criteria import SegmentError

    engine = _engine()
    definition = _json_arg(args.definition)
    try:
        with engine.begin() as conn:
            segment_id = store.create(conn, args.name, definition, actor=args.actor)
            counted = audience.count(conn, definition)
    except SegmentError as exc:
        raise SystemExit(f"error: {exc}") from None
    _print({"segment_id": segment_id, **counted})
    return 0


def cmd_template_create(args: argparse.Namespace) -> int:
    from engage.engine.templates import store

    variants = {args.language: args.body}
    for item in args.variant or []:
        lang, _, body = item.partition("=")
        variants[lang.strip()] = body
    try:
        with _engine().begin() as conn:
            template_id = store.create(conn, args.name, variants, default_language=args.language, actor=args.actor)
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    _print({"template_id": template_id})
    return 0


def cmd_provider_add(args: argparse.Namespace) -> int:
    from engage.engine.providers_admin import add_smpp

    with _engine().begin() as conn:
        provider_id = add_smpp(conn, name=args.name, host=args.host, port=args.port, system_id=args.system_id,
                               password=args.password, tps=args.tps, binds=args.binds, window=args.window,
                               priority=args.priority, actor=args.actor)
    _print({"provider_id": provider_id})
    return 0


def cmd_provider_list(args: argparse.Namespace) -> int:
    from engage.engine.providers_admin import list_providers

    with _engine().connect() as conn:
        for row in list_providers(conn):
            _print(row)
    return 0


def cmd_campaign_create(args: argparse.Namespace) -> int:
    from engage.engine import campaigns

    try:
        with _engine().begin() as conn:
            campaign_id = campaigns.create(conn, name=args.name, segment_id=args.segment,
                                           template_id=args.template, sender_id=args.sender, actor=args.actor)
    except campaigns.CampaignError as exc:
        raise SystemExit(f"error: {exc}") from None
    _print({"campaign_id": campaign_id})
    return 0


def cmd_campaign_launch(args: argparse.Namespace) -> int:
    from engage.engine import campaigns

    try:
        _print(campaigns.launch(_engine(), args.id, actor=args.actor))
    except campaigns.CampaignError as exc:
        raise SystemExit(f"error: {exc}") from None
    return 0


def cmd_campaign_show(args: argparse.Namespace) -> int:
    from engage.engine import campaigns

    with _engine().connect() as conn:
        summary = campaigns.summary(conn, args.id)
    if summary is None:
        raise SystemExit(f"error: campaign {args.id} does not exist")
    _print(summary)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from engage.web.server import serve

    serve(_engine(), args.host, args.port)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from engage.workers.runner import WORKERS, run_forever

    names = list(WORKERS) if args.name == "all" else [args.name]
    run_forever(names, _engine(), config.load().broker_url)
    return 0


def cmd_smsc_sim(args: argparse.Namespace) -> int:
    from engage.engine.smpp.simulator import main as sim_main

    return sim_main(args.rest)


def cmd_demo(args: argparse.Namespace) -> int:
    from engage.demo import run_demo

    return run_demo(recipients=args.recipients, headless=args.headless, exit_when_done=args.exit_when_done,
                    port=args.port, fresh=not args.keep)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="engage", description=__doc__)
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema").add_subparsers(dest="action", required=True)
    db.add_parser("upgrade", help="run migrations up to the latest").set_defaults(fn=cmd_db_upgrade)

    imp = sub.add_parser("import", help="import data").add_subparsers(dest="what", required=True)
    s = imp.add_parser("subscribers", help="upsert subscribers from a CSV file (msisdn column required)")
    s.add_argument("file")
    s.add_argument("--region", help="default region for numbers without a country code (ENGAGE_DEFAULT_REGION)")
    s.add_argument("--report", help="where to write rejected rows (default FILE.rejected.csv)")
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(fn=cmd_import_subscribers)

    seg = sub.add_parser("segment", help="audiences").add_subparsers(dest="action", required=True)
    s = seg.add_parser("create", help="save a segment from a JSON tree of criteria and print its count")
    s.add_argument("--name", required=True)
    s.add_argument("--definition", required=True, help='JSON or @file, e.g. {"and": [{"field": "city", "value": "X"}]}')
    s.set_defaults(fn=cmd_segment_create)

    tpl = sub.add_parser("template", help="message templates").add_subparsers(dest="action", required=True)
    s = tpl.add_parser("create", help="save a template (Jinja2, sandboxed)")
    s.add_argument("--name", required=True)
    s.add_argument("--body", required=True, help="e.g. 'Hello {{ first_name | default(\"friend\") }}'")
    s.add_argument("--language", default="en", help="language of --body, and the default variant")
    s.add_argument("--variant", action="append", help="another language: LANG=BODY (repeatable)")
    s.set_defaults(fn=cmd_template_create)

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

    camp = sub.add_parser("campaign", help="campaigns").add_subparsers(dest="action", required=True)
    s = camp.add_parser("create", help="create a draft campaign")
    s.add_argument("--name", required=True)
    s.add_argument("--segment", type=int, required=True)
    s.add_argument("--template", type=int, required=True)
    s.add_argument("--sender", required=True, help="sender ID shown to recipients")
    s.set_defaults(fn=cmd_campaign_create)
    s = camp.add_parser("launch", help="freeze the audience and start sending now")
    s.add_argument("id", type=int)
    s.set_defaults(fn=cmd_campaign_launch)
    s = camp.add_parser("show", help="a campaign and its counts by status, as JSON")
    s.add_argument("id", type=int)
    s.set_defaults(fn=cmd_campaign_show)

    s = sub.add_parser("serve", help="run the web UI and API")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8888)
    s.set_defaults(fn=cmd_serve)

    s = sub.add_parser("worker", help="run a worker process")
    s.add_argument("name", choices=["dispatch", "send", "receipts", "all"])
    s.set_defaults(fn=cmd_worker)

    s = sub.add_parser("smsc-sim", help="run the SMSC simulator (see `engage smsc-sim --help`)", add_help=False)
    s.add_argument("rest", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_smsc_sim)

    s = sub.add_parser("demo", help="run the whole system in one process with sample data")
    s.add_argument("--headless", action="store_true", help="no web UI")
    s.add_argument("--recipients", type=int, default=200)
    s.add_argument("--exit-when-done", action="store_true", help="print the counts as JSON and exit when done")
    s.add_argument("--port", type=int, default=8888)
    s.add_argument("--keep", action="store_true", help="keep the previous demo database instead of starting fresh")
    s.set_defaults(fn=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["smsc-sim"]:  # the simulator parses its own options, --help included
        return cmd_smsc_sim(argparse.Namespace(rest=argv[1:]))
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.actor = f"cli:{getpass.getuser()}"
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
