"""People who use the web UI: accounts (argon2id passwords, roles, branches), sign-in with
lockout and a per-address limit, and sessions. engine/ only: the web layer calls these."""

from engage.engine.users import roles, sessions, throttle
from engage.engine.users.accounts import (
    User,
    UserError,
    create_user,
    disable,
    enable,
    ensure_user,
    get_user,
    list_users,
    set_password,
    unlock,
)
from engage.engine.users.signin import SignInError, authenticate

__all__ = ["SignInError", "User", "UserError", "authenticate", "create_user", "disable", "enable", "ensure_user",
           "get_user", "list_users", "roles", "sessions", "set_password", "throttle", "unlock"]
