"""The headers a security review expects on every answer of the web process.

Pages get a Content-Security-Policy whose scripts come from the site itself or carry the nonce of
that one response (PageHandler sets it; templates write ``nonce="{{ csp_nonce }}"`` on their inline
scripts), so that a script smuggled into a page by stored text does not run. Styles may be inline
(the pages' <style> blocks and the charts' computed widths): CSS cannot run code. Every other answer
(the API, static files, errors, /metrics, callbacks) gets a policy that allows nothing at all, since
none of them is a page. All are never framed, never sniffed, and send no referrer off the site."""

from __future__ import annotations

import secrets

import tornado.httputil
import tornado.web

NOTHING = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
ALWAYS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY"}


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def page_policy(nonce: str) -> str:
    """A page's policy. connect-src 'self' covers the page's fetch() calls and its websocket (ws/wss
    of the same host)."""
    return ("default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; "
            "connect-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


class SecurityHeaders(tornado.web.OutputTransform):
    """Adds what a handler did not set itself to the first chunk of every response."""

    def transform_first_chunk(self, status_code: int, headers: tornado.httputil.HTTPHeaders, chunk: bytes,
                              finishing: bool) -> tuple[int, tornado.httputil.HTTPHeaders, bytes]:
        for name, value in (*ALWAYS.items(), ("Content-Security-Policy", NOTHING)):
            if name not in headers:
                headers[name] = value
        return status_code, headers, chunk
