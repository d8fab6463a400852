"""`engage loyalty load|load-approve|load-reject|loads`: bulk point loads from the command line, as on
the programme's Point loads page. A file (CSV or Parquet of msisdn, points, reason, external_id) is
read into a load that waits for a second person; its report (the counts and the rows with a problem,
by line) is printed as JSON. They join `engage loyalty` (loyalty_commands registers it; this group
comes after it in COMMAND_GROUPS). --actor names the person (default cli:<login>), as the audit log
names them: the uploader cannot approve their own load."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from engage.cli.common import emit, engine, person, person_option, subcommands_of

SHOWN_PROBLEMS = 1_000  # rows with a problem printed; --report writes them all


def cmd_load(args: argparse.Namespace) -> int:
    from engage.engine.loyalty import loads

    path = Path(args.file)
    if not path.is_file():
        raise SystemExit(f"error: {path}: no such file")
    data = path.read_bytes()
    try:
        with engine().begin() as conn:
            made = loads.read(conn, args.programme, path.name, data, actor=person(args), enrol=args.enrol)
            problems = loads.report(conn, made["load"], 0, SHOWN_PROBLEMS)
            if args.report:
                Path(args.report).write_text(loads.report_csv(conn, made["load"]), encoding="utf-8")
    except loads.LoadError as exc:
        raise SystemExit(f"error: {exc}") from None
    except LookupError as exc:
        raise SystemExit(f"error: --programme: {exc}") from None
    emit({**_shown(made), "problems": problems,
          **({"problems_shown": SHOWN_PROBLEMS} if made["bad"] > SHOWN_PROBLEMS else {}),
          "note": f"waits for a second person: engage loyalty load-approve {made['load']} --actor <someone else>"})
    return 0


def cmd_decide(args: argparse.Namespace) -> int:
    from engage.engine.loyalty import load_posting, loads

    try:
        if args.decision == "approve":
            done = load_posting.approve(engine(), args.id, actor=person(args))
        else:
            with engine().begin() as conn:
                done = load_posting.reject(conn, args.id, actor=person(args), reason=args.reason)
    except loads.LoadError as exc:
        raise SystemExit(f"error: {exc}") from None
    emit(_shown(done))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from engage.engine.loyalty import loads, programmes

    with engine().connect() as conn:
        try:
            programme = programmes.get(conn, args.programme)
        except LookupError as exc:
            raise SystemExit(f"error: --programme: {exc}") from None
        emit({"programme": programme.code, "loads": [_shown(row) for row in loads.listed(conn, programme.id)]})
    return 0


def _shown(load: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in load.items() if k != "programme_id"}




def register(sub: argparse._SubParsersAction) -> None:
    loy = subcommands_of(sub, "loyalty")
    s = loy.add_parser("load", help="a file of points for many members (msisdn, points, reason, external_id), "
                                    "checked row by row; posted once another person approves it")
    s.add_argument("file", help="CSV (UTF-8) or Parquet")
    s.add_argument("--programme", required=True)
    s.add_argument("--enrol", action="store_true", help="enrol subscribers not yet members when it is posted")
    s.add_argument("--report", metavar="CSV", help="write every row with a problem here (line, ..., problem)")
    person_option(s, "uploads")
    s.set_defaults(fn=cmd_load)
    for decision, what in (("approve", "post a waiting load (not by its uploader)"),
                           ("reject", "drop a waiting load, with a reason")):
        s = loy.add_parser(f"load-{decision}", help=what)
        s.add_argument("id", type=int)
        if decision == "reject":
            s.add_argument("--reason", required=True)
        person_option(s, "decides")
        s.set_defaults(fn=cmd_decide, decision=decision)
    s = loy.add_parser("loads", help="a programme's loads, newest first")
    s.add_argument("--programme", required=True)
    s.set_defaults(fn=cmd_list)
