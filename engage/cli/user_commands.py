"""`engage user ...`: the people who sign in to the web UI. A password is never an argument (it
would sit in the shell history and the process list): it comes from an environment variable
(--password-env VAR) or from standard input (--password-stdin; prompted for on a terminal)."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from engage.cli.common import emit, engine


def _password(args: argparse.Namespace) -> str:
    if args.password_env:
        value = os.environ.get(args.password_env)
        if value is None:
            raise SystemExit(f"error: --password-env: the environment variable {args.password_env} is not set")
        return value
    if sys.stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise SystemExit("error: password: the two entries differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def _run(action) -> int:  # noqa: ANN001 - a function of a connection
    from engage.engine.users import UserError

    try:
        with engine().begin() as conn:
            result = action(conn)
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None
    emit(result.as_dict())
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    from engage.engine.users import create_user

    password = _password(args)
    return _run(lambda conn: create_user(conn, args.email, args.role, password=password, branch=args.branch,
                                         name=args.name, actor=args.actor))


def cmd_user_list(args: argparse.Namespace) -> int:
    from engage.engine.users import list_users

    with engine().connect() as conn:
        for user in list_users(conn):
            emit(user.as_dict())
    return 0


def cmd_user_set_password(args: argparse.Namespace) -> int:
    from engage.engine.users import set_password

    password = _password(args)
    return _run(lambda conn: set_password(conn, args.email, password, actor=args.actor))


def _state_command(name: str):  # noqa: ANN202
    def command(args: argparse.Namespace) -> int:
        from engage.engine import users

        return _run(lambda conn: getattr(users, name)(conn, args.email, actor=args.actor))

    return command


def _password_options(s: argparse.ArgumentParser) -> None:
    source = s.add_mutually_exclusive_group(required=True)
    source.add_argument("--password-env", metavar="VAR", help="read the password from environment variable VAR")
    source.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input (asked for on a terminal)")


def register(sub: argparse._SubParsersAction) -> None:
    from engage.engine.users.roles import ROLES

    user = sub.add_parser("user", help="people who sign in to the web UI").add_subparsers(dest="action",
                                                                                           required=True)
    s = user.add_parser("create", help="add a user (the password at least 10 characters)")
    s.add_argument("--email", required=True)
    s.add_argument("--role", required=True, help=", ".join(ROLES))
    s.add_argument("--branch", help="limit the user to this branch's subscribers, segments and campaigns")
    s.add_argument("--name")
    _password_options(s)
    s.set_defaults(fn=cmd_user_create)

    user.add_parser("list", help="users as JSON lines (no password hashes)").set_defaults(fn=cmd_user_list)

    for action, text in (("disable", "stop a user signing in; their sessions end"),
                         ("enable", "let a disabled user sign in again"),
                         ("unlock", "lift the lock that failed sign-ins put on an account")):
        s = user.add_parser(action, help=text)
        s.add_argument("email")
        s.set_defaults(fn=_state_command(action))

    s = user.add_parser("set-password", help="give a user a new password; their sessions end")
    s.add_argument("email")
    _password_options(s)
    s.set_defaults(fn=cmd_user_set_password)
