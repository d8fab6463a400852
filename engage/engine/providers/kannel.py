"""The Kannel provider kind: Kannel's sendsms HTTP interface (and gateways that copy it), both ways.

Kannel answers a submit with no message id, so the id receipts quote is ours: it travels in
the dlr-url, which Kannel calls back (GET or POST, at /callbacks/kannel/<provider id>) with its
% escapes filled in (%d report type, %T unix time, %A the SMSC's reply). Kannel splits long
texts itself; we send the whole text in UTF-8 and say which coding the handset must get
(0 GSM-7, 2 UCS-2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from tornado.httpclient import HTTPRequest, HTTPResponse

from engage.engine.providers.base import CallbackRequest, MalformedCallback, OutboundSms, register
from engage.engine.providers.callback_fields import error_code, from_unix, message_id
from engage.engine.providers.http_base import (
    COMMON_DEFAULTS,
    HttpProvider,
    check_unknown_keys,
    common_config,
)
from engage.engine.smpp.receipts_text import parse_receipt_text
from engage.engine.sms_encoding import TextInfo

KEYS = {"url", "username", "password", "smsc", "dlr_mask", "method", "callback_base", "callback_token",
        *COMMON_DEFAULTS}
CODING = {"gsm7": "0", "ucs2": "2"}  # sendsms coding: 0 7-bit, 1 8-bit, 2 UCS-2
ACCEPTED = {"0", "3"}  # "0: Accepted for delivery", "3: Queued for later delivery"
_STATUS_LINE = re.compile(r"^\s*(-?\d+)\s*:")
# Kannel's dlr-mask bits, as the %d of a delivery report.
KANNEL_TYPES = {1: "DELIVRD", 2: "UNDELIV", 4: "ENROUTE", 8: "ACCEPTD", 16: "REJECTD"}
_NACK = re.compile(r"^NACK/([^/]*)", re.IGNORECASE)


def read_dlr(args: Mapping[str, str]) -> list[dict[str, Any]]:
    """The arguments of a Kannel dlr-url call: id (ours), status (%d), ts (%T), smsc_reply (%A)."""
    our_id = message_id(args.get("id"), "id")
    status = (args.get("status") or "").strip()
    if status.startswith("%"):
        raise MalformedCallback("status: got the unsubstituted escape %d; only Kannel should call this URL")
    if not status.isdigit() or int(status) not in KANNEL_TYPES:
        raise MalformedCallback(f"status: {status!r} is not a Kannel delivery report type "
                                f"({', '.join(map(str, KANNEL_TYPES))})")
    reply = args.get("smsc_reply") or ""
    nack = _NACK.match(reply)
    err = nack.group(1) if nack else parse_receipt_text(reply)["err"]
    return [{"id": our_id, "stat": KANNEL_TYPES[int(status)], "err": error_code(err, "smsc_reply"),
             "done_at": from_unix(args.get("ts"))}]


@register("kannel")
class KannelProvider(HttpProvider):
    callback_name = "kannel"
    callback_methods = frozenset({"GET", "POST"})  # Kannel's dlr-url is fetched, or posted as a form

    @classmethod
    def parse_callback(cls, config: dict[str, Any], request: CallbackRequest) -> list[dict[str, Any]]:
        return read_dlr(request.arguments)

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        out = common_config(config)
        check_unknown_keys(config, KEYS, "kannel")
        for key in ("username", "password"):
            if not isinstance(config.get(key), str) or not config[key]:
                raise ValueError(f"{key}: required, the sendsms-user's {key}")
        smsc = config.get("smsc")
        if smsc is not None and (not isinstance(smsc, str) or not smsc.strip()):
            raise ValueError(f"smsc: the smsc-id to route through, a non-empty text, not {smsc!r}")
        mask = config.get("dlr_mask", 31)
        if isinstance(mask, bool) or not isinstance(mask, int) or not 0 <= mask <= 31:
            raise ValueError(f"dlr_mask: a sum of Kannel report types 1, 2, 4, 8, 16 (0 to 31), not {mask!r}")
        out["dlr_mask"] = mask
        method = str(config.get("method", "GET")).upper()
        if method not in ("GET", "POST"):
            raise ValueError(f"method: GET or POST (form-encoded), not {config.get('method')!r}")
        out["method"] = method
        return out

    def dlr_url(self, our_id: str) -> str:
        """Kannel substitutes %d, %T and %A (URL-encoding what it puts in); the rest is ours and
        URL-safe by construction, so no '%' of our own can be mistaken for an escape."""
        return self.callback_url(self.callback_name, id=our_id, status="%d", ts="%T", smsc_reply="%A")

    def build_request(self, sms: OutboundSms, our_id: str, info: TextInfo) -> HTTPRequest:
        cfg = self.config
        params = [("username", cfg["username"]), ("password", cfg["password"]), ("from", sms.sender),
                  ("to", sms.to), ("text", sms.text), ("coding", CODING[info.encoding]), ("charset", "UTF-8")]
        if cfg.get("smsc"):
            params.append(("smsc", cfg["smsc"]))
        if cfg["dlr_mask"]:
            params += [("dlr-mask", str(cfg["dlr_mask"])), ("dlr-url", self.dlr_url(our_id))]
        query = urlencode(params, quote_via=quote, safe="")  # "+" in a number must not become a space
        timeout = float(cfg["timeout"])
        if cfg["method"] == "POST":
            return HTTPRequest(cfg["url"], method="POST", body=query, follow_redirects=False,
                               headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"},
                               connect_timeout=timeout, request_timeout=timeout)
        separator = "&" if "?" in cfg["url"] else "?"
        return HTTPRequest(f"{cfg['url']}{separator}{query}", method="GET", follow_redirects=False,
                           connect_timeout=timeout, request_timeout=timeout)

    def read_answer(self, response: HTTPResponse, our_id: str) -> tuple[str | None, str | None]:
        """Kannel says 202 "0: Accepted for delivery"; a compatible gateway may just say 200 OK.
        A status line with another number is Kannel refusing the message."""
        text = (response.body or b"").decode("utf-8", "replace")
        match = _STATUS_LINE.match(text)
        if match and match.group(1) not in ACCEPTED:
            return None, f"kannel:{match.group(1)}"
        return our_id, None

    def status(self) -> dict[str, Any]:
        return {**super().status(), "smsc": self.config.get("smsc"), "dlr_mask": self.config.get("dlr_mask", 31)}
