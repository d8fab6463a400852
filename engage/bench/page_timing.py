"""Pages timed as a user gets them: the real web app served in this process on a free port of
127.0.0.1, a temporary user who signs in over HTTP like a browser (the login form's _xsrf field and
cookie, then POST /login), and each page's first request and the median and max of the repeats after
it. The client is the standard library's (urllib), so the time is the server's work and the wire's;
a page that does not answer 200 fails the bench rather than timing an error page. The user, its
sessions and its sign-in attempts are removed afterwards. For any bench that has a page to time."""

from __future__ import annotations

import http.cookiejar
import re
import secrets
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, delete

from engage.engine.asyncloop import LoopThread
from engage.engine.store.schema_access import LoginAttempt, User
from engage.engine.users import create_user
from engage.web.app import make_app

TIMEOUT = 120  # seconds: a slow page is a figure to report, not a reason to give up


class PageError(RuntimeError):
    """A page answered something other than 200: there is nothing meaningful to time."""


@contextmanager
def serving(engine: Engine) -> Iterator[str]:
    """The web app on a free port of 127.0.0.1 (a one-off cookie secret, no API tokens); yields its
    base URL and stops it afterwards."""
    loop = LoopThread("bench-web")
    secret = secrets.token_urlsafe(32)

    async def listen():  # noqa: ANN202
        return make_app(engine, tokens="", secret=secret).listen(0, address="127.0.0.1")

    try:
        server = loop.run(listen(), timeout=30)
    except BaseException:
        loop.stop()
        raise
    port = next(iter(server._sockets.values())).getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.loop.call_soon_threadsafe(server.stop)
        loop.stop()


@contextmanager
def temporary_user(engine: Engine, role: str) -> Iterator[tuple[str, str]]:
    """A user of this role with a random email and password, (email, password); deleted afterwards
    with its sessions and sign-in attempts (the audit log keeps its creation, as it keeps everything)."""
    email = f"bench-{secrets.token_hex(6)}@bench.invalid"
    password = secrets.token_urlsafe(18)
    with engine.begin() as conn:
        user_id = create_user(conn, email, role, password=password, actor="bench").id
    try:
        yield email, password
    finally:
        with engine.begin() as conn:
            conn.execute(delete(User.__table__).where(User.id == user_id))  # sessions and tokens cascade
            conn.execute(delete(LoginAttempt.__table__).where(LoginAttempt.email == email))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Client:
    """Keeps cookies, does not follow redirects (a sign-in answers 303), reads whole bodies."""

    def __init__(self, base: str):
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect)

    def request(self, path: str, data: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if data is not None else {}
        req = urllib.request.Request(self.base + path, data=data, headers=headers)
        try:
            with self._opener.open(req, timeout=TIMEOUT) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def sign_in(self, email: str, password: str) -> None:
        """GET /login for the _xsrf cookie and field, then POST /login; PageError unless it answers 303."""
        status, body = self.request("/login")
        found = re.search(rb'name="_xsrf" value="([^"]+)"', body)
        if status != 200 or not found:
            raise PageError(f"GET /login answered {status} without an _xsrf field")
        form = {"_xsrf": found.group(1).decode(), "email": email, "password": password}
        status, body = self.request("/login", urllib.parse.urlencode(form).encode())
        if status != 303:
            raise PageError(f"POST /login answered {status}: {body[:200]!r}")


def time_page(client: Client, path: str, repeats: int) -> dict[str, Any]:
    """The first GET of the page and `repeats` more: seconds (first, median, max of the repeats) and
    the body's size."""
    seconds, size = [], 0
    for _ in range(repeats + 1):
        began = time.perf_counter()
        status, body = client.request(path)
        seconds.append(time.perf_counter() - began)
        if status != 200:
            raise PageError(f"GET {path} answered {status}: {body[:200]!r}")
        size = len(body)
    rest = seconds[1:]
    return {"first": round(seconds[0], 4), "median": round(statistics.median(rest), 4),
            "max": round(max(rest), 4), "bytes": size}


def time_pages(engine: Engine, paths: dict[str, str], *, role: str = "analyst", repeats: int = 10
               ) -> dict[str, Any]:
    """name -> path, each timed (time_page) as a signed-in user of this role of the app served on
    this engine; also the sign-in's own seconds."""
    if repeats < 1:
        raise ValueError("repeats >= 1")
    with temporary_user(engine, role) as (email, password), serving(engine) as base:
        client = Client(base)
        began = time.perf_counter()
        client.sign_in(email, password)
        signed_in = round(time.perf_counter() - began, 4)
        pages = {name: time_page(client, path, repeats) for name, path in paths.items()}
    return {"sign_in_seconds": signed_in, "pages": pages}
