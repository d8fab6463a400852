"""Commands for SMS keywords: list them, add or change one, and test a text against them (what the
Keywords page does, for scripts and a terminal)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from engage.cli.common import emit, engine, json_arg


def cmd_keyword_list(args: argparse.Namespace) -> int:
    from engage.engine.keywords import editing

    with engine().begin() as conn:  # begin: the built-in keywords are written on first use
        for k in editing.list_all(conn):
            emit({key: k[key] for key in ("id", "word", "short_code", "aliases", "steps", "reply_template",
                                          "builtin", "enabled")})
    return 0


def cmd_keyword_add(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from engage.engine.keywords import definitions, editing
    from engage.engine.store.schema import Keyword, Template

    steps: list[dict[str, Any]] = [{"kind": "tag", "tag": t} for t in args.tag]
    steps += [{"kind": "list", "list_id": i} for i in args.list]
    for spec in args.field:
        name, _, value = spec.partition("=")
        steps.append({"kind": "field", "field": name, "value": value or None})
    steps += [{"kind": "webhook", "url": u} for u in args.webhook]
    if args.answered:
        steps.append({"kind": "answered"})
    steps += args.step  # any registered step, e.g. {"kind": "loyalty_join", "programme": "club"}
    with engine().begin() as conn:
        definitions.load(conn)  # the built-in keywords and their reply templates, written on first use
        values: dict[str, Any] = {"word": args.word, "short_code": args.short_code or "", "aliases": args.alias,
                                  "steps": steps, "enabled": not args.off}
        if args.reply:
            template_id = conn.execute(select(Template.id).where(Template.name == args.reply)).scalar()
            values["reply_template_id"] = template_id if template_id is not None else -1
        existing = conn.execute(select(Keyword.id).where(Keyword.word == args.word.upper(),
                                                         Keyword.short_code == (args.short_code or ""))).scalar()
        try:
            keyword_id = editing.save(conn, values, actor=args.actor, keyword_id=existing)
        except editing.KeywordError as exc:
            for field, why in exc.problems.items():
                print(f"error: {field}: {why}" + (f" (no template named {args.reply!r})"
                                                  if field == "reply_template_id" else ""), file=sys.stderr)
            return 2
    emit({"id": keyword_id, "word": args.word.upper(), "short_code": args.short_code or "", "steps": steps})
    return 0


def cmd_keyword_test(args: argparse.Namespace) -> int:
    from engage.engine.keywords import trial

    with engine().begin() as conn:
        emit(trial.explain(conn, args.text, args.short_code or "", args.language))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    keywords = sub.add_parser("keyword", help="SMS keywords: list, add, test a text").add_subparsers(
        dest="action", required=True)
    s = keywords.add_parser("list", help="every keyword, built-in ones first")
    s.set_defaults(fn=cmd_keyword_list)
    s = keywords.add_parser("add", help="add a keyword, or change the one with this word on this short code")
    s.add_argument("word")
    s.add_argument("--short-code", help="answer only on this short code or sender id (default: all)")
    s.add_argument("--alias", action="append", default=[], help="another word for it (repeatable)")
    s.add_argument("--reply", help="the name of the template it texts back")
    s.add_argument("--tag", action="append", default=[], help="tag the subscriber (repeatable)")
    s.add_argument("--list", action="append", default=[], type=int, help="add the number to this static list id")
    s.add_argument("--field", action="append", default=[],
                   help="set a profile field: NAME=VALUE, or NAME for the words after the keyword")
    s.add_argument("--webhook", action="append", default=[], help="POST the MO as JSON to this URL")
    s.add_argument("--answered", action="store_true", help="count it as an answer to the campaign it replies to")
    s.add_argument("--step", action="append", default=[], type=json_arg,
                   help='any step as JSON, e.g. \'{"kind": "loyalty_join", "programme": "club"}\' (repeatable)')
    s.add_argument("--off", action="store_true", help="saved but not answering yet")
    s.set_defaults(fn=cmd_keyword_add)
    s = keywords.add_parser("test", help="what engage would do with this text, without doing it")
    s.add_argument("text")
    s.add_argument("--short-code")
    s.add_argument("--language", help="the reply in this language")
    s.set_defaults(fn=cmd_keyword_test)
