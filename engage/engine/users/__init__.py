"""People who use the web UI and the API: accounts (argon2id passwords, roles, branches), sign-in
with lockout and a per-address limit (locally, or by an LDAP / Active Directory directory),
sessions, grants beyond a role, users' API tokens, and the time zone each reads times in (zones). engine/ only: the web
layer calls these."""

from engage.engine.users import api_tokens, grants, ldap_signin, roles, sessions, throttle, zones
from engage.engine.users.accounts import (
    Account,
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

__all__ = ["Account", "SignInError", "UserError", "api_tokens", "authenticate", "create_user", "disable", "enable",
           "ensure_user", "get_user", "grants", "ldap_signin", "list_users", "roles", "sessions", "set_password",
           "throttle", "unlock", "zones"]
