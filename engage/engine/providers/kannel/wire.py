"""One part of a message as Kannel's sendsms takes it, and what its reply means.

engage cuts a long text itself (sms_encoding.split_text) and sends each part in a request of
its own, with the concatenation UDH and an explicit coding: Kannel then sends each as one SMS,
whatever its sendsms-user's max-messages, and asks a receipt for every part. Left to Kannel,
a long text is cut to max-messages parts (one by default) with "0: Accepted" all the same, and
only its first part gets a receipt.

GET puts everything in the query. POST is Kannel's own format: the text is the body
(text/plain with its charset) and the rest travels in X-Kannel-* headers; Kannel refuses a form.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from tornado.httpclient import HTTPRequest, HTTPResponse

from engage.engine.providers.kannel.settings import fill

CODING = {"gsm7": "0", "ucs2": "2"}  # sendsms coding: 0 7-bit, 1 8-bit, 2 UCS-2
ACCEPTED = {"0", "3"}  # "0: Accepted for delivery", "3: Queued for later delivery" (sent once the link is back)
_STATUS_LINE = re.compile(r"^\s*(-?\d+)\s*:")
_SPLITS = re.compile(r"Message splits:\s*(\d+)")
# sendsms parameter -> Kannel's POST header
HEADERS = {"username": "X-Kannel-Username", "password": "X-Kannel-Password", "to": "X-Kannel-To",
           "from": "X-Kannel-From", "coding": "X-Kannel-Coding", "udh": "X-Kannel-UDH", "smsc": "X-Kannel-SMSC",
           "dlr-mask": "X-Kannel-DLR-Mask", "dlr-url": "X-Kannel-DLR-Url", "validity": "X-Kannel-Validity",
           "priority": "X-Kannel-Priority", "mclass": "X-Kannel-MClass", "alt-dcs": "X-Kannel-Alt-DCS",
           "account": "X-Kannel-Account", "binfo": "X-Kannel-BInfo", "meta-data": "X-Kannel-Meta-Data"}


@dataclass(frozen=True)
class KannelPart:
    """One request's worth of a message: its text, its UDH (None for a message of one part) and the
    id its delivery reports will quote."""

    text: str
    udh: bytes | None
    our_id: str


def concatenation_udh(ref: int, total: int, seq: int) -> bytes:
    """The 8-bit-reference concatenation header (3GPP TS 23.040 9.2.3.24.1) of part ``seq``."""
    return bytes((0x05, 0x00, 0x03, ref & 0xFF, total, seq))


def validity_minutes(valid_until: datetime | None, default: int | None, now: datetime) -> int | None:
    """Minutes the SMSC keeps trying: up to the campaign's deadline when it has one (at least one
    minute, for a part sent in the deadline's last seconds), else the provider's default."""
    if valid_until is None:
        return default
    return max(1, math.ceil((valid_until - now).total_seconds() / 60))


def parameters(config: dict[str, Any], *, to: str, sender: str, coding: str, part: KannelPart, dlr_url: str | None,
               campaign_id: int | None, message_id: int, validity: int | None) -> list[tuple[str, str]]:
    """The sendsms parameters of one part, text and charset aside."""
    params = [("username", config["username"]), ("password", config["password"]), ("from", sender), ("to", to),
              ("coding", coding)]
    if part.udh is not None:
        params.append(("udh", quote(part.udh, safe="")))
    if config.get("smsc"):
        params.append(("smsc", config["smsc"]))
    if dlr_url is not None:
        params += [("dlr-mask", str(config["dlr_mask"])), ("dlr-url", dlr_url)]
    if validity is not None:
        params.append(("validity", str(validity)))
    for key, name in (("priority", "priority"), ("mclass", "mclass"), ("alt_dcs", "alt-dcs")):
        if config.get(key) is not None:
            params.append((name, str(config[key])))
    if campaign_id is not None:
        params.append(("account", str(campaign_id)))
    if config.get("binfo"):
        params.append(("binfo", fill(config["binfo"], campaign_id, message_id)))
    if config.get("meta_data"):
        params.append(("meta-data", meta_data(config["meta_data"], campaign_id, message_id)))
    return params


def meta_data(groups: dict[str, dict[str, str]], campaign_id: int | None, message_id: int) -> str:
    """Kannel's meta-data text: ``?group?name=value&name=value`` per group, values URL-encoded."""
    return "".join(f"?{group}?" + "&".join(f"{name}={quote(fill(value, campaign_id, message_id), safe='')}"
                                         for name, value in fields.items())
                   for group, fields in groups.items())


def request(config: dict[str, Any], params: list[tuple[str, str]], text: str) -> HTTPRequest:
    """The GET (query) or POST (Kannel's format) carrying ``params`` and the part's ``text``."""
    timeout = float(config["timeout"])
    if config["method"] == "POST":
        headers = {"Content-Type": "text/plain; charset=UTF-8", **{HEADERS[name]: value for name, value in params}}
        return HTTPRequest(config["url"], method="POST", body=text.encode("utf-8"), headers=headers,
                           follow_redirects=False, connect_timeout=timeout, request_timeout=timeout)
    # the UDH is URL-encoded once already: Kannel reads the octets from the %XX it gets back
    pairs = [(name, value) for name, value in params if name != "udh"] + [("text", text), ("charset", "UTF-8")]
    query = urlencode(pairs, quote_via=quote, safe="")  # "+" in a number must not become a space
    query += "".join(f"&udh={value}" for name, value in params if name == "udh")
    separator = "&" if "?" in config["url"] else "?"
    return HTTPRequest(f"{config['url']}{separator}{query}", method="GET", follow_redirects=False,
                       connect_timeout=timeout, request_timeout=timeout)


def refusal(response: HTTPResponse) -> str | None:
    """None when a 2xx reply accepted the part; else the error the message fails with.

    Kannel says 202 "0: Accepted for delivery" (or "3: Queued for later delivery"); with
    immediate-sendsms-reply it says "Sent." or "Sent. Message splits: N"; a compatible gateway
    may say just 200 OK. A status line with another number is Kannel refusing the part; a part
    sent as more than one SMS (the gateway cut it again, as a text it read otherwise) is
    "kannel:split", the message not delivered as engage framed it."""
    text = (response.body or b"").decode("utf-8", "replace")
    status = _STATUS_LINE.match(text)
    if status and status.group(1) not in ACCEPTED:
        return f"kannel:{status.group(1)}"
    splits = _SPLITS.search(text)
    if splits and int(splits.group(1)) != 1:
        return "kannel:split"
    return None
