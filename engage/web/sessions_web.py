"""Signing in to the web UI: /login and /logout, who the current user is, and which roles may
open what.

The session cookie holds the session's random token, signed with the app's cookie_secret
(ENGAGE_COOKIE_SECRET, else one generated once into $ENGAGE_HOME/cookie_secret, mode 0600);
HttpOnly, SameSite=Lax, Secure over HTTPS. The database decides whether it is still a live session
(engine.users.sessions). XSRF protection is on for the whole app: every form and XHR that changes
something carries the _xsrf field or the X-XSRFToken header. API clients that authenticate with an
Authorization header are exempt, since their requests are never authenticated by the cookie.
"""

from __future__ import annotations

import functools
import logging
import os
import secrets
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import tornado.web
from sqlalchemy import Engine
from tornado.escape import url_escape, xhtml_escape
from tornado.ioloop import IOLoop

from engage import config
from engage.engine.users import Account, SignInError, api_tokens, authenticate, sessions, zones
from engage.engine.users.roles import CAMPAIGN_ACTION_ROLES, NUMBER_READERS, PAGE_ROLES
from engage.engine.users.scope import Scope
from engage.web import navigation
from engage.web.api_auth import bearer
from engage.web.page_data import script_json
from engage.web.security_headers import new_nonce, page_policy

log = logging.getLogger(__name__)
SESSION_COOKIE = "engage_session"
DEFAULT_NEXT = "/dashboard"
F = TypeVar("F", bound=Callable[..., Any])


def cookie_secret() -> str:
    """ENGAGE_COOKIE_SECRET, else the secret in $ENGAGE_HOME/cookie_secret, made (0600) on first use.
    Several web processes on several machines need the same ENGAGE_COOKIE_SECRET."""
    configured = os.environ.get("ENGAGE_COOKIE_SECRET", "").strip()
    if configured:
        return configured
    home = Path(os.environ.get("ENGAGE_HOME", str(config.DEFAULT_HOME)))
    path = home / "cookie_secret"
    if path.is_file() and (existing := path.read_text(encoding="ascii").strip()):
        return existing
    home.mkdir(parents=True, exist_ok=True)
    draft = home / f".cookie_secret.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_urlsafe(48))
    try:
        os.link(draft, path)  # whole and at once: a process racing us reads its secret or ours, never half
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text(encoding="ascii").strip()


def safe_next(value: str | None, default: str = DEFAULT_NEXT) -> str:
    """``value`` if it is a path on this site (so that ?next= cannot send anyone elsewhere), else default."""
    if not value or len(value) > 2000 or not value.startswith("/") or value.startswith("//"):
        return default
    if "\\" in value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return default
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.path in ("/login", "/logout"):
        return default
    return value


@dataclass(frozen=True)
class Denied:
    status: int
    message: str


class SignedInHandler(tornado.web.RequestHandler):
    """A handler that knows the signed-in user (``self.current_user``: an Account, or None)."""

    @property
    def db(self) -> Engine:
        return self.application.settings["db"]

    def session_token(self) -> str | None:
        days = sessions.max_age().total_seconds() / 86_400 + 1
        raw = self.get_signed_cookie(SESSION_COOKIE, max_age_days=days)
        return raw.decode() if raw else None

    def get_current_user(self) -> Account | None:
        token = self.session_token()
        if token is None:
            return None
        with self.db.connect() as conn:
            user = sessions.resolve(conn, token)
            conn.commit()
        return user

    def is_https(self) -> bool:
        """Whether the browser reached us over HTTPS: directly, or (ENGAGE_BEHIND_PROXY=1) through a
        proxy that says so. Without that setting anybody could send X-Forwarded-Proto."""
        if self.request.protocol == "https":
            return True
        return bool(self.settings.get("behind_proxy")) and self.request.headers.get("X-Forwarded-Proto") == "https"

    def set_cookie(self, name: str, value: str | bytes, *args: Any, **kwargs: Any) -> None:
        """Every cookie of the app (the session's, _xsrf) is SameSite=Lax, and Secure over HTTPS."""
        kwargs.setdefault("samesite", "Lax")
        if self.is_https():
            kwargs["secure"] = True
        super().set_cookie(name, value, *args, **kwargs)


class SessionApiHandler(SignedInHandler):
    """/api/v1: a bearer token (Authorization header) or a signed-in session, the latter with XSRF
    for unsafe methods. A request with an Authorization header is judged by it alone.

    Two kinds of bearer token: a deployment token of ENGAGE_API_TOKENS acts as "api" with every
    right (within its branch, if it has one), as it always has; a user's token
    (engine.users.api_tokens) acts as that user: their role decides by the same sets as a session
    (``roles``), their branch limits it, and the audit log names their email."""

    _token_user: Account | None = None
    _error_reference: str | None = None

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """An unexpected exception is logged with a reference that the answer gives, never its text."""
        if isinstance(value, tornado.web.HTTPError):
            super().log_exception(typ, value, tb)
            return
        self._error_reference = secrets.token_hex(6)
        log.error("internal error %s in %s %s", self._error_reference, self.request.method, self.request.path,
                  exc_info=(typ, value, tb))

    def error_answer(self) -> dict[str, str]:
        """The JSON of an error that no handler answered itself."""
        if self._error_reference is not None:
            return {"error": f"an internal error; its reference in the server's log is {self._error_reference}",
                    "reference": self._error_reference}
        return {"error": self._reason}

    def check_xsrf_cookie(self) -> None:
        if "Authorization" in self.request.headers or self.current_user is None:
            return  # not authenticated by the cookie: a forged cross-site request gains nothing (prepare answers 401)
        try:
            super().check_xsrf_cookie()
        except tornado.web.HTTPError:
            raise tornado.web.HTTPError(403, reason="XSRF check failed: send the _xsrf cookie's value as the "
                                                    "X-XSRFToken header") from None

    def access(self, roles: Collection[str]) -> Scope | Denied:
        """The scope the request acts in, or why not. A user's branch (session or token) limits it as a
        branch token's does; numbers are shown whole only to roles.NUMBER_READERS (a deployment token
        is shown them masked, as by /api/v1/subscribers), and whoever is shown them masked may select
        by them no further than the mask shows."""
        authorization = self.request.headers.get("Authorization")
        if authorization is not None:
            scope = self.settings["api_tokens"].scope(authorization)
            if scope is not None:
                return scope
            user = self._resolve_token(authorization)
            if user is None:
                self.set_header("WWW-Authenticate", 'Bearer realm="engage"')
                return Denied(401, "this API token is not valid (unknown, revoked or expired, or its user is disabled)")
        else:
            user = self.current_user
            if user is None:
                return Denied(401, "an API token is needed: Authorization: Bearer <token> (a user's token, or "
                                   "ENGAGE_API_TOKENS), or a signed-in session")
        if user.role not in roles:
            return Denied(403, f"the {user.role} role may not {self.request.method} {self.request.path}")
        action = self._campaign_action()
        if action is not None and user.role not in CAMPAIGN_ACTION_ROLES[action]:
            return Denied(403, f"the {user.role} role may not {action} campaigns")
        return Scope(branch=user.branch, show_numbers=user.role in NUMBER_READERS)

    def _resolve_token(self, authorization: str) -> Account | None:
        """The owner of a user's token in this header, or None; the secret is neither kept nor logged."""
        secret = bearer(authorization)
        if secret is None:
            return None
        with self.db.connect() as conn:
            user = api_tokens.resolve(conn, secret)
            conn.commit()  # last_used_at
        self._token_user = user
        return user

    def _campaign_action(self) -> str | None:
        """The action of /api/v1/campaigns/N/<action>, whose roles differ by action. The handler checks
        them itself for sessions only; asked here too, a user's token is held to them as well."""
        last = self.path_args[-1] if self.path_args else None
        if self.request.path.startswith("/api/v1/campaigns/") and last in CAMPAIGN_ACTION_ROLES:
            return last
        return None

    def request_user(self) -> Account | None:
        """The user this request acts as: a user token's owner, else (no Authorization header) the
        session's user; None for a deployment token (ENGAGE_API_TOKENS) or nobody."""
        if "Authorization" in self.request.headers:
            return self._token_user
        return self.current_user

    def actor(self) -> str:
        """Who the audit log names: the user (signed in, or owning the token), or "api" for a deployment token."""
        user = self.request_user()
        return user.email if user is not None else "api"


class PageHandler(SignedInHandler):
    """Server-rendered pages."""

    csp_nonce = ""

    def set_default_headers(self) -> None:
        self.csp_nonce = new_nonce()  # one per response: inline scripts run only with it
        self.set_header("Content-Security-Policy", page_policy(self.csp_nonce))
        self.set_header("Cache-Control", "no-store")

    def user_zone(self) -> str:
        """The zone this page shows times in: the signed-in user's own, else the installation's."""
        return zones.zone_for(self.current_user)

    def get_template_namespace(self) -> dict[str, Any]:
        """Besides Tornado's: the header's links, the CSP nonce, and ``when(moment, seconds=False)``,
        the one way a page shows a time: in the reader's zone (``user_zone``), with the zone named;
        ``installation_zone`` for the pages that must say where the installation's applies instead."""
        namespace = super().get_template_namespace()
        user = self.current_user
        zone = self.user_zone()
        namespace["nav_links"] = navigation.links(user)
        namespace["script_json"] = script_json
        namespace["csp_nonce"] = self.csp_nonce
        namespace["user_zone"] = zone
        namespace["when"] = functools.partial(zones.format_moment, zone=zone)
        namespace["installation_zone"] = config.load().default_timezone
        return namespace

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish(f'<!doctype html><html lang="en"><title>{status_code} · engage</title>'
                    '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
                    f"<main><p>{status_code}: {xhtml_escape(self._reason)}</p>"
                    '<p><a href="/campaigns">Campaigns</a> · <a href="/login">Sign in</a></p></main></html>')


def requires(*roles: str, grant: str | None = None) -> Callable[[F], F]:
    """A page method for signed-in users of these roles (no roles: any role that has pages), or holding
    this grant (engine.users.grants; the user's grants are read with their session at each request).
    Without a session a GET is sent to /login?next=<this page>; anyone else is a 403. Partners never
    get pages, whatever they hold."""
    allowed = (frozenset(roles) or PAGE_ROLES) & PAGE_ROLES

    def decorate(method: F) -> F:
        @functools.wraps(method)
        def wrapper(self: PageHandler, *args: Any, **kwargs: Any) -> Any:
            user = self.current_user
            if user is None:
                if self.request.method in ("GET", "HEAD"):
                    self.redirect("/login?next=" + url_escape(self.request.uri or DEFAULT_NEXT))
                    return None
                raise tornado.web.HTTPError(403, reason="sign in first")
            granted = grant is not None and grant in user.grants and user.role in PAGE_ROLES
            if user.role not in allowed and not granted:
                raise tornado.web.HTTPError(403, reason=f"not open to the {user.role} role" + (
                    f" without the {grant} grant (an admin gives it on the Users page)" if grant else ""))
            return method(self, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


class LoginPage(PageHandler):
    def get(self) -> None:
        next_url = safe_next(self.get_query_argument("next", None))
        if self.current_user is not None and self.current_user.role in PAGE_ROLES:
            self.redirect(next_url)
            return
        self.render("login.html", error=None, email="", next_url=next_url)

    async def post(self) -> None:
        email = self.get_body_argument("email", "")[:300]
        password = self.get_body_argument("password", "")
        next_url = safe_next(self.get_body_argument("next", None))
        try:  # argon2 takes tens of milliseconds of CPU: off the IOLoop
            token = await IOLoop.current().run_in_executor(
                None, self._sign_in, email, password, self.request.remote_ip,
                self.request.headers.get("User-Agent"), self.session_token())
        except SignInError as exc:
            self.set_status({"throttled": 429, "unavailable": 503}.get(exc.reason, 401))
            if exc.retry_after:
                self.set_header("Retry-After", str(int(exc.retry_after) + 1))
            self.render("login.html", error=str(exc), email=email, next_url=next_url)
            return
        self.set_signed_cookie(SESSION_COOKIE, token, expires_days=None, httponly=True, samesite="Lax",
                               secure=self.is_https())
        self.redirect(next_url, status=303)

    def _sign_in(self, email: str, password: str, ip: str | None, user_agent: str | None,
                 previous: str | None) -> str:
        with self.db.connect() as conn:
            user = authenticate(conn, email, password, ip=ip)
            sessions.end(conn, previous)  # a new session at each sign-in, never one chosen beforehand
            token = sessions.start(conn, user, ip=ip, user_agent=user_agent)
            conn.commit()
        return token


class LogoutHandler(PageHandler):
    def post(self) -> None:
        token = self.session_token()
        if token is not None:
            with self.db.begin() as conn:
                sessions.end(conn, token)
        self.clear_cookie(SESSION_COOKIE)
        self.redirect("/login", status=303)


SESSION_ROUTES = [(r"/login", LoginPage), (r"/logout", LogoutHandler)]
