"""`engage ussd`: put menus on service codes and try them in the terminal.

    engage ussd menu import examples/ussd/loyalty.yaml --code '*123#'   # validated; errors with their lines, exit 2
    engage ussd menu list
    engage ussd menu off 'Loyalty club'                                # stop serving it (on: serve it again)
    engage ussd try --code '*123#' --msisdn +998901234567              # type answers; Ctrl-D hangs up
"""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

from engage.cli.common import emit, engine


def cmd_menu_import(args: argparse.Namespace) -> int:
    from engage.engine.ussd.menus import MenuInvalid, save

    path = Path(args.file)
    try:
        source = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        print(f"error: {path}: no such file", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: {path}: {getattr(exc, 'strerror', None) or exc}", file=sys.stderr)
        return 2
    try:
        with engine().begin() as conn:
            menu_id = save(conn, source, code=args.code, name=args.name or None, actor=args.actor)
    except MenuInvalid as exc:
        for error in exc.errors:
            where = f"{path}:{error.line}" if error.line else str(path)
            screen = f" screen {error.screen!r}:" if error.screen else ""
            print(f"{where}:{screen} {error.message}", file=sys.stderr)
        print(f"error: {path}: {len(exc.errors)} error{'s' if len(exc.errors) != 1 else ''}; the menu was not saved",
              file=sys.stderr)
        return 2
    from engage.engine.ussd.menus import get

    with engine().connect() as conn:
        menu = get(conn, menu_id) or {}
    emit({"id": menu_id, "name": menu.get("name"), "code": menu.get("code"),
          "screens": len((menu.get("compiled") or {}).get("screens", {}))})
    return 0


def cmd_menu_list(args: argparse.Namespace) -> int:
    from engage.engine.ussd.menus import listed

    with engine().connect() as conn:
        for menu in listed(conn):
            emit(menu)
    return 0


def cmd_menu_switch(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from engage.engine.ussd.menus import MenuInvalid, menus, switch

    with engine().begin() as conn:
        menu_id = conn.execute(select(menus.c.id).where(menus.c.name == args.name)).scalar()
        if menu_id is None and args.name.isdigit():
            menu_id = int(args.name)
        try:
            if menu_id is None:
                raise LookupError(args.name)
            changed = switch(conn, menu_id, args.on, actor=args.actor)
        except LookupError:
            print(f"error: no USSD menu called {args.name!r} (engage ussd menu list names them)", file=sys.stderr)
            return 2
        except MenuInvalid as exc:
            print(f"error: {exc.errors[0].message}", file=sys.stderr)
            return 2
    emit({"menu": args.name, "active": args.on, "changed": changed})
    return 0


def cmd_try(args: argparse.Namespace) -> int:
    """A session in the terminal through the same engine a gateway uses: each screen printed, each
    line typed (or piped) is the answer; end of input hangs up."""
    from engage.engine.ussd import sessions
    from engage.engine.ussd.dialog import Hop, UssdError, step

    eng = engine()
    with eng.begin() as conn:
        gateway_id = sessions.terminal_gateway(conn)
    key = f"try-{uuid.uuid4().hex[:12]}"
    echo = not sys.stdin.isatty()
    answer: str | None = None
    while True:
        try:
            screen = step(eng, Hop(gateway_id, key, args.msisdn, args.code, answer, max_chars=args.max_chars))
        except UssdError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(screen.text)
        if screen.ends:
            print("-- session ended --")
            return 0
        print("> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line:
            print("\n-- hung up --")
            with eng.begin() as conn:
                sessions.end(conn, gateway_id, key, "released")
            return 0
        answer = line.rstrip("\r\n")
        if echo:
            print(answer)


def register(sub: argparse._SubParsersAction) -> None:
    ussd = sub.add_parser("ussd", help="USSD menus: import, list, try in the terminal").add_subparsers(
        dest="ussd_command", required=True)
    menu = ussd.add_parser("menu", help="menus on service codes").add_subparsers(dest="menu_command", required=True)
    s = menu.add_parser("import", help="validate a menu document (YAML or JSON) and put it on a code; a menu "
                                       "of the same name is replaced")
    s.add_argument("file")
    s.add_argument("--code", required=True, help="the service code dialled, e.g. '*123#' (quote it in a shell)")
    s.add_argument("--name", help="the menu's name (default: name: in the document)")
    s.set_defaults(fn=cmd_menu_import)
    s = menu.add_parser("list", help="every menu, as JSON lines")
    s.set_defaults(fn=cmd_menu_list)
    for verb, on in (("on", True), ("off", False)):
        s = menu.add_parser(verb, help="serve the menu on its code again" if on else
                            "stop serving the menu: its code answers 'unavailable', its sessions end at their next hop")
        s.add_argument("name", help="the menu's name (or id)")
        s.set_defaults(fn=cmd_menu_switch, on=on)
    s = ussd.add_parser("try", help="walk a menu in the terminal, as a phone would (answers from stdin)")
    s.add_argument("--code", required=True, help="the code to dial, e.g. '*123#' or a shortcut '*123*1#'")
    s.add_argument("--msisdn", required=True, help="the number dialling (its subscriber's profile and language apply)")
    s.add_argument("--max-chars", type=int, default=182, help="characters per screen (182; 80 as a UCS-2 gateway)")
    s.set_defaults(fn=cmd_try)
