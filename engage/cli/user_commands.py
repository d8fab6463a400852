"""`engage user ...`: the people who sign in to the web UI. A password is never an argument (it
would sit in the shell history and the process list): it comes from an environment variable
(--password-env VAR) or from standard input (--password-stdin; prompted for on a terminal).

`engage user grant EMAIL GRANT` and `engage user revoke EMAIL GRANT` give and withdraw a right beyond
the user's role (engine.users.grants: "analytics" lets a marketer read the effectiveness reports).

`engage user token ...` gives a user API tokens for /api/v1 that act with the user's role and
branch (engine.users.api_tokens): the secret is printed once, by `create`, and never again."""

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


def cmd_user_set_timezone(args: argparse.Namespace) -> int:
    from engage.engine.users.zones import set_timezone

    zone = None if args.zone.strip().lower() in ("", "default") else args.zone
    return _run(lambda conn: set_timezone(conn, args.email, zone, actor=args.actor))


def _grant_command(give: bool):  # noqa: ANN202
    def command(args: argparse.Namespace) -> int:
        from engage.engine.users import grants

        def change(conn):  # noqa: ANN001, ANN202
            user, changed = (grants.grant if give else grants.revoke)(conn, args.email, args.grant, actor=args.actor)
            if not changed:
                held = "holds it already" if give else "does not hold it"
                print(f"nothing changed: {user.email} {held} (the {args.grant} grant)", file=sys.stderr)
            return user.as_dict()

        return _run_json(change)

    return command


def _state_command(name: str):  # noqa: ANN202
    def command(args: argparse.Namespace) -> int:
        from engage.engine import users

        return _run(lambda conn: getattr(users, name)(conn, args.email, actor=args.actor))

    return command


def _owner(conn, email: str):  # noqa: ANN001, ANN202 - a connection; an Account
    from engage.engine.users import UserError, get_user

    user = get_user(conn, email) if isinstance(email, str) and email.strip() else None
    if user is None:
        raise UserError("user", f"no user with the email {email!r}")
    return user


def cmd_token_create(args: argparse.Namespace) -> int:
    """Prints the token with its secret: the only time the secret is shown."""
    from engage.engine.users import api_tokens

    def create(conn):  # noqa: ANN001, ANN202
        user = _owner(conn, args.email)
        secret = api_tokens.issue(conn, user.id, args.name, expires_days=args.expires_days, created_by=args.actor)
        token = api_tokens.find(conn, secret)
        assert token is not None
        return {**token.as_dict(), "user": user.email, "secret": secret}

    return _run_json(create, note="the secret is shown only now: keep it where the integration reads it")


def cmd_token_list(args: argparse.Namespace) -> int:
    from engage.engine.users import api_tokens

    with engine().connect() as conn:
        try:
            user = _owner(conn, args.email)
        except ValueError as exc:
            raise SystemExit(f"error: {exc}") from None
        for token in api_tokens.list_for(conn, user.id):
            emit({**token.as_dict(), "user": user.email})
    return 0


def cmd_token_revoke(args: argparse.Namespace) -> int:
    from engage.engine.users import api_tokens

    return _run_json(lambda conn: api_tokens.revoke(conn, args.id, actor=args.actor).as_dict())


def _run_json(action, note: str | None = None) -> int:  # noqa: ANN001 - a function of a connection
    from engage.engine.users import UserError

    try:
        with engine().begin() as conn:
            result = action(conn)
    except UserError as exc:
        raise SystemExit(f"error: {exc}") from None
    emit(result)
    if note:
        print(note, file=sys.stderr)
    return 0


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

    from engage.engine.users.grants import GRANTS

    for action, text in (("grant", "give a user a right beyond their role, from their next request on"),
                         ("revoke", "withdraw a grant, from the user's next request on")):
        s = user.add_parser(action, help=text)
        s.add_argument("email")
        s.add_argument("grant", help="; ".join(f"{g.name}: {g.says}" for g in GRANTS.values()))
        s.set_defaults(fn=_grant_command(action == "grant"))

    s = user.add_parser("set-password", help="give a user a new password; their sessions end")
    s.add_argument("email")
    _password_options(s)
    s.set_defaults(fn=cmd_user_set_password)

    s = user.add_parser("set-timezone", help="the zone a user's pages show times in (an IANA name such as "
                                             "Europe/Berlin; 'default': the installation's, ENGAGE_DEFAULT_TIMEZONE)")
    s.add_argument("email")
    s.add_argument("zone")
    s.set_defaults(fn=cmd_user_set_timezone)

    token = user.add_parser("token", help="a user's API tokens for /api/v1 (acting with the user's role and branch)"
                            ).add_subparsers(dest="token_action", required=True)
    s = token.add_parser("create", help="issue a token; its secret is printed once, never again")
    s.add_argument("email")
    s.add_argument("--name", required=True, help="what uses it, e.g. 'CRM sync'")
    s.add_argument("--expires-days", type=int, metavar="N", help="stop working N days from now (default: never)")
    s.set_defaults(fn=cmd_token_create)
    s = token.add_parser("list", help="a user's tokens as JSON lines (never their secrets)")
    s.add_argument("email")
    s.set_defaults(fn=cmd_token_list)
    s = token.add_parser("revoke", help="stop a token working at once")
    s.add_argument("id", type=int)
    s.set_defaults(fn=cmd_token_revoke)
