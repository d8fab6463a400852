"""`engage segment|list|consent ...`: who receives campaigns. Segments are JSON trees of criteria,
lists are uploaded numbers, consent is the opt-out registry per channel."""

from __future__ import annotations

import argparse
from pathlib import Path

from engage import config
from engage.cli.common import ENCODING_HELP, emit, engine, json_arg


def _scope(args: argparse.Namespace):  # noqa: ANN202
    from engage.engine.users.scope import Scope

    return Scope(branch=args.branch, show_numbers=args.show_numbers)


def cmd_segment_create(args: argparse.Namespace) -> int:
    from engage.engine.segments import audience, store
    from engage.engine.segments.criteria import SegmentError

    definition = json_arg(args.definition)
    try:
        with engine().begin() as conn:
            segment_id = store.create(conn, args.name, definition, actor=args.actor, branch=args.branch)
            counted = audience.count(conn, definition, scope=_scope(args), sample=0)
    except SegmentError as exc:
        raise SystemExit(f"error: {exc}") from None
    emit({"segment_id": segment_id, **counted})
    return 0


def cmd_segment_count(args: argparse.Namespace) -> int:
    from engage.engine.segments import audience
    from engage.engine.segments.criteria import SegmentError

    try:
        with engine().connect() as conn:
            emit(audience.count(conn, json_arg(args.definition), scope=_scope(args), channel=args.channel,
                                sample=args.sample))
    except SegmentError as exc:
        raise SystemExit(f"error: {exc}") from None
    return 0


def cmd_segment_kinds(args: argparse.Namespace) -> int:
    from engage.engine.segments.criteria import describe_kinds

    for kind in describe_kinds():
        emit(kind)
    return 0


def cmd_list_import(args: argparse.Namespace) -> int:
    from engage.engine import static_lists
    from engage.engine.subscribers import write_rejections

    path = Path(args.file)
    if not path.is_file():
        raise SystemExit(f"error: {path}: no such file")
    region = args.region or config.load().default_region
    try:
        with engine().begin() as conn:
            report = static_lists.create(conn, args.name, static_lists.read_numbers(path, args.encoding), region=region,
                                         branch=args.branch, actor=args.actor)
    except static_lists.ListError as exc:
        raise SystemExit(f"error: {exc}") from None
    out = report.as_dict()
    if report.rejected:
        rejected = Path(args.report or path.with_suffix(".rejected.csv"))
        write_rejections(report, rejected)
        out["report"] = str(rejected)
    emit(out)
    return 0


def cmd_consent(args: argparse.Namespace) -> int:
    from engage.engine import consent
    from engage.engine.phones import InvalidNumber, to_e164

    region = config.load().default_region
    try:
        numbers = [to_e164(n, region) for n in args.numbers]
    except InvalidNumber as exc:
        raise SystemExit(f"error: {exc}") from None
    change = consent.opt_out if args.action == "opt-out" else consent.opt_in
    try:
        with engine().begin() as conn:
            changed = change(conn, numbers, args.channel, source=args.source, actor=args.actor)
    except consent.ConsentError as exc:
        raise SystemExit(f"error: {exc}") from None
    emit({"action": args.action, "channel": args.channel, "changed": changed})
    return 0


def _scope_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--branch", help="act as a user of this branch: only its subscribers count")
    s.add_argument("--show-numbers", action="store_true",
                   help="show sample numbers unmasked and select by whole numbers (masked, a criterion may "
                        "test no more of a number than the mask shows)")


def register(sub: argparse._SubParsersAction) -> None:
    seg = sub.add_parser("segment", help="audiences").add_subparsers(dest="action", required=True)
    s = seg.add_parser("create", help="save a segment from a JSON tree of criteria and print its count")
    s.add_argument("--name", required=True)
    s.add_argument("--definition", required=True, help='JSON or @file, e.g. {"and": [{"field": "city", "value": "X"}]}')
    _scope_options(s)
    s.set_defaults(fn=cmd_segment_create)
    s = seg.add_parser("count", help="count a definition (and show a sample) without saving it")
    s.add_argument("--definition", required=True, help="JSON or @file")
    s.add_argument("--channel", default="sms", choices=("sms", "ussd"))
    s.add_argument("--sample", type=int, default=10)
    _scope_options(s)
    s.set_defaults(fn=cmd_segment_count)
    seg.add_parser("kinds", help="the criterion kinds, their parameters and operators").set_defaults(
        fn=cmd_segment_kinds)

    lst = sub.add_parser("list", help="static lists of numbers").add_subparsers(dest="action", required=True)
    s = lst.add_parser("import", help="a list from a file of numbers (one per line, or a CSV msisdn column)")
    s.add_argument("name")
    s.add_argument("file")
    s.add_argument("--region", help="default region for numbers without a country code")
    s.add_argument("--branch")
    s.add_argument("--report", help="where to write rejected lines (default NAME.rejected.csv beside FILE)")
    s.add_argument("--encoding", help=ENCODING_HELP)
    s.set_defaults(fn=cmd_list_import)

    con = sub.add_parser("consent", help="the opt-out registry").add_subparsers(dest="action", required=True)
    for action, text in (("opt-out", "take numbers out of every audience of the channel"),
                         ("opt-in", "undo an opt-out (only on the subscriber's own request)")):
        s = con.add_parser(action, help=text)
        s.add_argument("numbers", nargs="+")
        s.add_argument("--channel", default="sms", choices=("sms", "ussd"))
        s.add_argument("--source", default="staff", help="why: keyword, ussd, staff, import ...")
        s.set_defaults(fn=cmd_consent)
