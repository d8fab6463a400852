"""Access follows the directory while a person is signed in, not only at sign-in.

A directory user's session or API token is checked against the directory again at a request once
ENGAGE_LDAP_RECHECK_SECONDS (60; 0: at every request) have passed since this process last
confirmed them. A person the directory no longer lets in (removed, disabled or locked, or in none
of the mapped groups) loses access at that request: their sessions are ended, so that every web
process sees it at once, and the request is refused, as their API tokens are for as long as the
directory says so (a token is not revoked: a person put back in a group has it again). A changed
role, branch or name is applied as at a sign-in.

A directory that cannot answer leaves access as it was (the person proved themselves at sign-in,
and a session ends after ENGAGE_SESSION_MAX_HOURS regardless) and is not asked by re-checks again
for PAUSE_AFTER_FAILURE: a down directory costs one bounded wait per process, not one per request.
The session is resolved on the web process's IO loop, so the question goes to a thread of its own
and the request waits for its answer at most ANSWER_WAIT: a healthy directory answers in
milliseconds and its verdict applies at once; a slow one's answer (which may take RECHECK_TIMEOUT)
applies at the person's first request after it came."""

from __future__ import annotations

import dataclasses
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as NoAnswerYet
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select

from engage import config
from engage.engine.audit import audit
from engage.engine.store.schema import User as UserRow
from engage.engine.store.schema import UserSession
from engage.engine.users import ldap_signin
from engage.engine.users.accounts import Account, get_user_by_id

log = logging.getLogger(__name__)

RECHECK_TIMEOUT = 2.0  # s: a healthy directory answers a search in milliseconds
ANSWER_WAIT = 0.5  # s a request waits for the re-check's answer, on the IO loop
PAUSE_AFTER_FAILURE = timedelta(seconds=30)
_ASKING = ThreadPoolExecutor(max_workers=4, thread_name_prefix="engage-directory")


Key = tuple[str, int]  # (the database's URL, the user's id): a process may serve more than one database


class _Verdicts:
    """What this process last heard from the directory about each user, and when."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.allowed: dict[Key, datetime] = {}  # when confirmed (local users: when found local)
        self.denied: dict[Key, datetime] = {}  # when refused; a later sign-in supersedes it
        self.quiet_until: dict[str, datetime] = {}  # directory URL -> no re-checks until then: it failed
        self.asking: dict[Key, tuple[datetime, Future[ldap_signin.DirectoryUser | None]]] = {}  # questions out


_VERDICTS = _Verdicts()


def still_allowed(conn: Connection, user: Account, *, now: datetime) -> Account | None:
    """``user`` (brought up to date) if the directory still lets them in, else None with their
    sessions ended and the refusal audited. Local users, and everyone while no directory is
    configured, pass untouched. The caller commits."""
    try:
        settings = ldap_signin.DirectorySettings.from_config(config.load())
    except ValueError:
        return user  # misconfigured: sign-in says so; a re-check cannot ask
    if settings is None:
        return user
    interval = timedelta(seconds=settings.recheck)
    key = (str(conn.engine.url), user.id)
    with _VERDICTS.lock:
        denied_at = _VERDICTS.denied.get(key)
        if denied_at is not None and user.last_login_at is not None and user.last_login_at > denied_at:
            denied_at = None  # signed in since: the directory let them in again
        if denied_at is not None and now - denied_at < interval:
            return None
        confirmed_at = _VERDICTS.allowed.get(key)
        if confirmed_at is not None and now - confirmed_at < interval:
            return user
        if user.last_login_at is not None and now - user.last_login_at < interval:
            return user  # the sign-in itself asked the directory
        quiet = now < _VERDICTS.quiet_until.get(settings.url, now)
    password_hash = conn.execute(select(UserRow.password_hash).where(UserRow.id == user.id)).scalar()
    if not ldap_signin.is_directory_user(password_hash):
        _remember(_VERDICTS.allowed, key, now)
        return user
    with _VERDICTS.lock:
        asked_at, answer = _VERDICTS.asking.get(key, (now, None))
        # an answer not yet applied goes by for a while, even at ENGAGE_LDAP_RECHECK_SECONDS=0
        stale = answer is not None and answer.done() and now - asked_at >= max(interval, PAUSE_AFTER_FAILURE)
        if quiet and (answer is None or stale):
            return user  # failing or slow: no new questions for now (an answer already in still counts)
        if answer is None or stale:
            directory = ldap_signin.Directory(dataclasses.replace(settings,
                                                                  timeout=min(settings.timeout, RECHECK_TIMEOUT)))
            asked_at, answer = now, _ASKING.submit(directory.standing, user.email)
            _VERDICTS.asking[key] = (asked_at, answer)
    try:
        found = answer.result(timeout=0 if quiet else ANSWER_WAIT)
    except NoAnswerYet:
        # a slow directory: its answer applies at a later request, and until then no request waits
        # for any re-check of this directory: one wait of ANSWER_WAIT per PAUSE_AFTER_FAILURE, not one per user
        with _VERDICTS.lock:
            _VERDICTS.quiet_until[settings.url] = now + PAUSE_AFTER_FAILURE
        return user
    except ldap_signin.DirectoryError as exc:
        log.warning("directory re-check of user %s: no answer (%s); access left as it was for %s", user.id, exc,
                    PAUSE_AFTER_FAILURE)
        with _VERDICTS.lock:
            _VERDICTS.quiet_until[settings.url] = now + PAUSE_AFTER_FAILURE
            _VERDICTS.asking.pop(key, None)
        return user
    with _VERDICTS.lock:
        _VERDICTS.asking.pop(key, None)
    if found is None or found.role is None:
        ended = conn.execute(delete(UserSession.__table__).where(UserSession.user_id == user.id)).rowcount
        if denied_at is not None:  # refused before (a token still in use): said once already
            _remember(_VERDICTS.denied, key, now)
            return None
        audit(conn, ldap_signin.ACTOR, "user.directory_revoked", "user", user.id, email=user.email,
              reason="not found or disabled" if found is None else "in none of the mapped groups", sessions=ended)
        log.info("directory re-check: user %s no longer let in by the directory; %d sessions ended", user.id, ended)
        _remember(_VERDICTS.denied, key, now)
        return None
    _remember(_VERDICTS.allowed, key, now)
    if (found.role, found.branch, found.name) == (user.role, user.branch, user.name):
        return user
    ldap_signin.provision(conn, user.email, found, user, now=now)
    return get_user_by_id(conn, user.id)


def _remember(verdicts: dict[Key, datetime], key: Key, now: datetime) -> None:
    with _VERDICTS.lock:
        _VERDICTS.allowed.pop(key, None)
        _VERDICTS.denied.pop(key, None)
        verdicts[key] = now
