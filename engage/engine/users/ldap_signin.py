"""Signing in with a directory account (LDAP, Active Directory), so that staff use their corporate
password and leaving the company (or a group) takes their access away. Off unless ENGAGE_LDAP_URL
is set; engine.users.signin decides when to ask the directory, this module how.

The flow, per attempt: a search (as the service account of ENGAGE_LDAP_BIND_DN, else anonymously)
for the one entry that ENGAGE_LDAP_USER_FILTER finds with the typed email, escaped; a bind as that
entry's DN with the typed password (an empty password is refused before any bind: to a directory
it is an anonymous bind, which "succeeds"); then the entry's memberOf against
ENGAGE_LDAP_ROLE_GROUPS gives the role (the first in roles.ROLES order that matches, the most
powerful first; a person in none of the groups is refused), and ENGAGE_LDAP_BRANCH_ATTRIBUTE, if
set, the branch. Direct membership only: Active Directory's memberOf does not list nested groups.

The person's local users row is made or brought up to date at each sign-in, marked as the
directory's by a password_hash (MARKER) that no password verifies, so that directory users never
have a local password and their role and branch follow the directory. An administrator's
set-password makes such a user local; without ENGAGE_LDAP_URL a directory user cannot sign in.
While signed in, a person's standing is asked of the directory again (``standing``, by
engine.users.directory_recheck): one taken out of every group, disabled or out of the directory
loses their sessions and tokens at their next request. Connections use ldaps:// (or StartTLS) with
the server's certificate verified (ENGAGE_LDAP_CA_FILE, else the system's CAs), and time out
(ENGAGE_LDAP_TIMEOUT): a directory that is down or silent is a DirectoryError, which signin turns
into a clear refusal. Passwords are never logged.

Tests (and anyone with an unusual directory) may pass a ConnectionFactory; tests/fixtures/ldap.py
runs a real slapd for them."""

from __future__ import annotations

import contextlib
import logging
import math
import os
import ssl
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

with warnings.catch_warnings():  # ldap3 2.9.1 imports pyasn1 names that newer pyasn1 marks deprecated
    warnings.simplefilter("ignore", DeprecationWarning)
    import ldap3
    from ldap3.core.exceptions import LDAPException
    from ldap3.utils.conv import escape_filter_chars
from sqlalchemy import Connection, select, update

from engage import config
from engage.engine.audit import audit
from engage.engine.store.bulk import conflict_insert
from engage.engine.store.schema import User as UserRow
from engage.engine.users.roles import ROLES

log = logging.getLogger(__name__)

MARKER = "!ldap"  # users.password_hash of a directory user: not a PHC string, argon2 verifies nothing against it
ACTOR = "ldap"  # who the audit log names for changes the directory brings
TIMEOUT = 10.0  # s to connect, and to wait for each answer (ENGAGE_LDAP_TIMEOUT)
RECHECK = 60.0  # s a signed-in person's standing in the directory is trusted (ENGAGE_LDAP_RECHECK_SECONDS)

DISABLED_MARKS = ("userAccountControl", "pwdAccountLockedTime", "nsAccountLock")  # see disabled()
# (user DN or None for anonymous, password or None) -> an unopened, unbound connection
ConnectionFactory = Callable[[str | None, str | None], ldap3.Connection]


class DirectoryError(Exception):
    """The directory could not answer: down, slow, or engage's settings for it are wrong. Not the
    person's fault, so it is never counted as a failed sign-in."""


@dataclass(frozen=True)
class DirectorySettings:
    url: str
    base_dn: str
    role_groups: tuple[tuple[str, str], ...]  # (role, group DN), in the order given
    bind_dn: str | None = None
    bind_password: str | None = field(default=None, repr=False)
    user_filter: str = "(|(mail={email})(userPrincipalName={email}))"
    branch_attribute: str | None = None
    start_tls: bool = False
    ca_file: str | None = None
    timeout: float = TIMEOUT
    recheck: float = RECHECK

    @classmethod
    def from_config(cls, settings: config.Settings) -> DirectorySettings | None:
        """The ENGAGE_LDAP_* settings; None when ENGAGE_LDAP_URL is not set; ValueError naming a bad one."""
        if not settings.ldap_url:
            return None
        if not settings.ldap_base_dn:
            raise ValueError("ENGAGE_LDAP_BASE_DN is needed with ENGAGE_LDAP_URL")
        if "{email}" not in settings.ldap_user_filter:
            raise ValueError("ENGAGE_LDAP_USER_FILTER must contain {email}")
        if settings.ldap_ca_file and not os.path.isfile(settings.ldap_ca_file):
            raise ValueError(f"ENGAGE_LDAP_CA_FILE: {settings.ldap_ca_file[:200]!r} is not a file")
        timeout = _seconds("ENGAGE_LDAP_TIMEOUT", settings.ldap_timeout, TIMEOUT, zero=False)
        recheck = _seconds("ENGAGE_LDAP_RECHECK_SECONDS", settings.ldap_recheck_seconds, RECHECK, zero=True)
        return cls(url=settings.ldap_url, base_dn=settings.ldap_base_dn,
                   role_groups=parse_role_groups(settings.ldap_role_groups),
                   bind_dn=settings.ldap_bind_dn or None, bind_password=settings.ldap_bind_password or None,
                   user_filter=settings.ldap_user_filter, branch_attribute=settings.ldap_branch_attribute or None,
                   start_tls=settings.ldap_start_tls, ca_file=settings.ldap_ca_file or None,
                   timeout=timeout, recheck=recheck)


def _seconds(name: str, raw: str, default: float, *, zero: bool) -> float:
    """A number of seconds from the environment, or ValueError naming the setting."""
    try:
        value = float(raw) if raw else default
    except ValueError:
        value = -1.0
    if not (value >= 0 if zero else value > 0) or value == float("inf"):
        raise ValueError(f"{name} must be a {'' if zero else 'positive '}number of seconds, got {raw[:40]!r}")
    return value


def parse_role_groups(spec: str) -> tuple[tuple[str, str], ...]:
    """"admin=CN=engage-admins,OU=Groups,DC=example,DC=com;marketer=CN=..." -> ((role, group DN), ...).
    A role may be named more than once (several groups give it)."""
    pairs = []
    for item in (part.strip() for part in spec.split(";")):
        if not item:
            continue
        role, _, dn = item.partition("=")
        role, dn = role.strip(), dn.strip()
        if role not in ROLES or not dn:
            raise ValueError(f"ENGAGE_LDAP_ROLE_GROUPS: {item[:80]!r} is not role=group DN (roles: {', '.join(ROLES)})")
        pairs.append((role, dn))
    if not pairs:
        raise ValueError("ENGAGE_LDAP_ROLE_GROUPS is needed with ENGAGE_LDAP_URL: role=group DN;...")
    return tuple(pairs)


def normalise_dn(dn: str) -> str:
    """For comparing DNs as directories do: case and spaces around , and = do not matter."""
    return ",".join("=".join(side.strip() for side in part.split("=", 1)) for part in dn.lower().split(","))


@dataclass(frozen=True)
class DirectoryUser:
    """Who the directory says signed in: ``role`` None when they are in none of the mapped groups."""

    dn: str
    name: str | None
    role: str | None
    branch: str | None


def connection_factory(settings: DirectorySettings) -> ConnectionFactory:
    """Production connections: ldap3's SYNC strategy against ENGAGE_LDAP_URL, certificates verified.
    ldap3 waits for answers in whole seconds (SO_RCVTIMEO): the timeout is rounded up for them."""
    tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_file=settings.ca_file)
    server = ldap3.Server(settings.url, get_info=ldap3.NONE, tls=tls, connect_timeout=settings.timeout)

    def connect(user: str | None, password: str | None) -> ldap3.Connection:
        return ldap3.Connection(server, user=user, password=password, client_strategy=ldap3.SYNC,
                                auto_bind=ldap3.AUTO_BIND_NONE, auto_referrals=False, read_only=True,
                                receive_timeout=math.ceil(settings.timeout), raise_exceptions=False)

    return connect


def _values(attributes: Any, name: str) -> list[str]:
    """An attribute's values as texts, whatever the case of its name and whether it came as one or many."""
    for key, value in (attributes or {}).items():
        if key.lower() == name.lower():
            items: Iterable[Any] = value if isinstance(value, list | tuple) else [value]
            texts = (v.decode(errors="replace") if isinstance(v, bytes) else str(v) for v in items if v is not None)
            return [t for t in texts if t]
    return []


class Directory:
    """One configured directory. ``problem``: why the settings cannot work (every attempt is then a
    DirectoryError, so local accounts still sign in)."""

    def __init__(self, settings: DirectorySettings | None, connect: ConnectionFactory | None = None,
                 problem: str | None = None):
        self.settings = settings
        self.problem = problem if settings is not None else (problem or "no directory is configured")
        self.connect = connect
        if connect is None and settings is not None:
            try:
                self.connect = connection_factory(settings)
            except LDAPException as exc:  # a URL ldap3 cannot use (the CA file is checked before)
                self.problem = f"ENGAGE_LDAP_URL: {settings.url[:200]!r}: {exc}"

    def _bound(self, user: str | None, password: str | None) -> ldap3.Connection | None:
        """An open connection bound as this user (None: anonymously); None when the bind is refused."""
        assert self.settings is not None and self.connect is not None
        conn = self.connect(user, password)
        try:
            conn.open()
            if self.settings.start_tls and not conn.start_tls():
                raise DirectoryError(f"the directory refused StartTLS: {conn.result}")
            if conn.bind():
                return conn
        except LDAPException as exc:
            _close(conn)
            raise DirectoryError(f"the directory at {self.settings.url} did not answer: {type(exc).__name__}: {exc}") \
                from None
        _close(conn)
        return None

    def _find(self, email: str) -> Any | None:
        """The one entry the filter finds for this email, or None (none, or several: ambiguous)."""
        assert self.settings is not None
        s = self.settings
        service = self._bound(s.bind_dn, s.bind_password)
        if service is None:
            raise DirectoryError("the directory refused the service account of ENGAGE_LDAP_BIND_DN"
                                 if s.bind_dn else "the directory refused an anonymous search; set ENGAGE_LDAP_BIND_DN")
        try:
            query = s.user_filter.replace("{email}", escape_filter_chars(email))
            attributes = ["memberOf", "displayName", "cn", *DISABLED_MARKS] + (
                [s.branch_attribute] if s.branch_attribute else [])
            service.search(s.base_dn, query, ldap3.SUBTREE, attributes=attributes, size_limit=2)
            code = (service.result or {}).get("result", 0)
            if code not in (0, 4):  # 4: size limit exceeded, i.e. more than one entry
                raise DirectoryError(f"the directory's search failed: {(service.result or {}).get('description')}")
            entries = [e for e in service.response or [] if e.get("type") == "searchResEntry"]
        except LDAPException as exc:
            raise DirectoryError(f"the directory's search failed: {type(exc).__name__}: {exc}") from None
        finally:
            _close(service)
        if len(entries) > 1 or code == 4:
            log.warning("directory sign-in: the filter finds %d entries for one email; refused", len(entries))
            return None
        return entries[0] if entries else None

    def check(self, email: str, password: str) -> DirectoryUser | None:
        """Who these credentials are in the directory, or None (no such person, or the wrong password)."""
        if self.problem is not None or self.settings is None:
            raise DirectoryError(f"directory sign-in is misconfigured: {self.problem}")
        if not password:
            return None  # an empty password would be an anonymous bind, which directories accept
        entry = self._find(email)
        if entry is None:
            return None
        person = self._bound(entry["dn"], password)
        if person is None:
            return None
        _close(person)
        return self._person(entry)

    def standing(self, email: str) -> DirectoryUser | None:
        """Who the directory says this person is now, asked without their password (the service
        account's search): None when no entry (or several) has the email, or the account is disabled."""
        if self.problem is not None or self.settings is None:
            raise DirectoryError(f"directory sign-in is misconfigured: {self.problem}")
        entry = self._find(email)
        if entry is None or disabled(entry.get("attributes") or {}):
            return None
        return self._person(entry)

    def _person(self, entry: Any) -> DirectoryUser:
        assert self.settings is not None
        attributes = entry.get("attributes") or {}
        groups = {normalise_dn(g) for g in _values(attributes, "memberOf")}
        granted = {role for role, dn in self.settings.role_groups if normalise_dn(dn) in groups}
        role = next((r for r in ROLES if r in granted), None)
        branch = None
        if self.settings.branch_attribute:
            found = _values(attributes, self.settings.branch_attribute)
            branch = (found[0].strip()[:64] or None) if found else None
        names = _values(attributes, "displayName") or _values(attributes, "cn")
        return DirectoryUser(dn=entry["dn"], name=(names[0].strip()[:200] or None) if names else None, role=role,
                             branch=branch)


def disabled(attributes: Any) -> bool:
    """Whether the entry's account is switched off: Active Directory's ACCOUNTDISABLE bit of
    userAccountControl, OpenLDAP ppolicy's pwdAccountLockedTime (an administrator's lock, or one
    after failed binds), 389 DS / FreeIPA's nsAccountLock. A sign-in needs no look: the bind fails."""
    if _values(attributes, "pwdAccountLockedTime"):
        return True
    if any(v.strip().upper() == "TRUE" for v in _values(attributes, "nsAccountLock")):
        return True
    flags = _values(attributes, "userAccountControl")
    return bool(flags) and flags[0].strip().lstrip("-").isdigit() and int(flags[0]) & 0x2 != 0


def _close(conn: ldap3.Connection) -> None:
    with contextlib.suppress(LDAPException):
        conn.unbind()


def configured(connect: ConnectionFactory | None = None) -> Directory | None:
    """The directory of the ENGAGE_LDAP_* settings; None when ENGAGE_LDAP_URL is not set."""
    try:
        settings = DirectorySettings.from_config(config.load())
    except ValueError as exc:
        log.error("directory sign-in is misconfigured: %s", exc)
        return Directory(None, problem=str(exc))
    if settings is None:
        return None
    return Directory(settings, connect)


def is_directory_user(password_hash: str | None) -> bool:
    return password_hash == MARKER


def directory_user_ids(conn: Connection) -> set[int]:
    """The users whose accounts the directory keeps (for the users page to say so)."""
    return set(conn.execute(select(UserRow.id).where(UserRow.password_hash == MARKER)).scalars())


def provision(conn: Connection, email: str, found: DirectoryUser, row: Any | None, *, now: datetime) -> int | None:
    """The local users row of a directory user made, or its role, branch and name brought in line with
    the directory (each change audited as the directory's); returns its id. None when the email turns
    out to be a local account's (made while the directory was asked): the directory never takes one over.

    Two first sign-ins of one person at once both find no row: the insert yields to the one that
    made it first (ON CONFLICT DO NOTHING), and the other brings that row up to date instead."""
    assert found.role is not None
    if row is None:
        user_id = conn.execute(conflict_insert(conn, UserRow.__table__).values(
            email=email, name=found.name, role=found.role, branch=found.branch, password_hash=MARKER, active=True,
            failed_logins=0, created_at=now).on_conflict_do_nothing(index_elements=["email"])
            .returning(UserRow.id)).scalar()
        if user_id is not None:
            audit(conn, ACTOR, "user.create", "user", user_id, email=email, role=found.role, branch=found.branch,
                  name=found.name, source="directory")
            return user_id
        row = conn.execute(select(UserRow.id, UserRow.password_hash).where(UserRow.email == email)).one()
        if not is_directory_user(row.password_hash):
            return None
    current = conn.execute(select(UserRow.role, UserRow.branch, UserRow.name).where(UserRow.id == row.id)).one()
    changes = {k: v for k, v in (("role", found.role), ("branch", found.branch), ("name", found.name))
               if getattr(current, k) != v}
    if changes:
        conn.execute(update(UserRow.__table__).where(UserRow.id == row.id).values(**changes))
        audit(conn, ACTOR, "user.update", "user", row.id, email=email, source="directory",
              **{k: [getattr(current, k), v] for k, v in changes.items()})
    return row.id
