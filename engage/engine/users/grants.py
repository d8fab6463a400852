"""Grants: a named right an admin gives one person beyond their role, and withdraws, without changing
the role (a marketer who needs the conversion figures stays a marketer). Each grant is declared once
in GRANTS, with the sentence the /users page and `engage user grant` say about it, and the roles that
have it already (to whom it is never given: it would mean nothing, and withdrawing it would not take
the right away). A partner never holds one: its account is for the API, and grants open pages.

Who holds a grant is asked through the function of its right (roles.may_read_analytics), which reads
the user's grants as the request's Account carries them: sessions and API tokens read them from the
database at every request, so a grant withdrawn holds at the next one. Every change is audited, with
the grants before and after."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, update

from engage.engine.audit import audit
from engage.engine.store.schema import User as UserRow
from engage.engine.users.accounts import Account, UserError, get_user
from engage.engine.users.roles import ANALYTICS_GRANT, ANALYTICS_READERS, PAGE_ROLES


@dataclass(frozen=True)
class Grant:
    name: str
    says: str  # what it lets its holder do, as a sentence
    roles: frozenset[str]  # the roles that have this right already


GRANTS: dict[str, Grant] = {g.name: g for g in (
    Grant(ANALYTICS_GRANT, "reads campaigns' effectiveness reports (conversion, uplift against the control group, "
                           "cost per response), their CSV tables and the campaign comparison", ANALYTICS_READERS),
)}


def check_grant(name: object) -> Grant:
    if not isinstance(name, str) or name not in GRANTS:
        raise UserError("grant", f"{name!r} is not a grant; one of {', '.join(GRANTS)}")
    return GRANTS[name]


def grantable(user: Account) -> list[Grant]:
    """The grants this user may be given or have withdrawn: none a role already has, none for a partner."""
    if user.role not in PAGE_ROLES:
        return []
    return [g for g in GRANTS.values() if user.role not in g.roles]


def _article(role: str) -> str:
    return ("an " if role[0] in "aeiou" else "a ") + role


def _refusal(user: Account, grant: Grant) -> str | None:
    """Why this grant means nothing for this user, or None."""
    if user.role not in PAGE_ROLES:
        return f"{user.email} is {_article(user.role)}, an account for the API only, which is given no grants"
    if user.role in grant.roles:
        return (f"{user.email} is {_article(user.role)}, a role that {grant.says} already: the {grant.name} grant "
                "is for other roles")
    return None


def _existing(conn: Connection, email: str) -> Account:
    user = get_user(conn, email) if isinstance(email, str) else None
    if user is None:
        raise UserError("user", f"no user with the email {email!r}")
    return user


def set_grants(conn: Connection, email: str, names: Iterable[str], *, actor: str) -> tuple[Account, bool]:
    """The user holding exactly these grants, and whether that changed anything. Giving a grant that
    their role has already, or any grant to a partner, is refused naming why."""
    user = _existing(conn, email)
    after = frozenset(check_grant(name).name for name in names)
    for name in sorted(after - user.grants):
        refusal = _refusal(user, GRANTS[name])
        if refusal:
            raise UserError("grant", refusal)
    if after == user.grants:
        return user, False
    conn.execute(update(UserRow.__table__).where(UserRow.id == user.id).values(grants=sorted(after) or None))
    audit(conn, actor, "user.grants", "user", user.id, email=user.email, before=sorted(user.grants),
          after=sorted(after))
    return _existing(conn, user.email), True


def grant(conn: Connection, email: str, name: str, *, actor: str) -> tuple[Account, bool]:
    """Give one grant; (the user, False) when they hold it already."""
    user = _existing(conn, email)
    return set_grants(conn, user.email, user.grants | {check_grant(name).name}, actor=actor)


def revoke(conn: Connection, email: str, name: str, *, actor: str) -> tuple[Account, bool]:
    """Withdraw one grant; (the user, False) when they did not hold it. Refused for a role that has
    the right anyway: withdrawing would not take it away, and saying nothing would suggest it had."""
    user = _existing(conn, email)
    found = check_grant(name)
    if found.name not in user.grants and (refusal := _refusal(user, found)):
        raise UserError("grant", refusal)
    return set_grants(conn, user.email, user.grants - {found.name}, actor=actor)
