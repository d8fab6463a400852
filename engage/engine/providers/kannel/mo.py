"""Subscribers' messages (MOs) as Kannel's smsbox hands them on: an sms-service whose get-url is
engage's /callbacks/kannel/<provider id>/mo, with Kannel's % escapes filled in:

    group = sms-service
    keyword = default
    max-messages = 0
    get-url = "https://engage.example/callbacks/kannel/7/mo?token=...&from=%p&to=%P&text=%b&coding=%c&charset=%C&smsc=%i&id=%I&time=%T"

from (%p) is the subscriber, to (%P) the number they texted; text is %b, the message's bytes as
the SMSC gave them (%a, its words joined by spaces, also does for GSM texts), read in the charset
%C names (UTF-8 for a GSM-7 text, UTF-16BE for a UCS-2 one; smsbox's mo-recode makes that UTF-8
too), else by the coding %c (0 GSM-7 in UTF-8, 1 8-bit data, 2 UCS-2). id (%I, Kannel's own id of the
MO) is kept: smsbox retrying the call (http-request-retry) at any later time is then known as the same
MO. smsc (%i) and time (%T) are checked when given and otherwise informative.

smsbox sends the body of a 200 to the subscriber as a reply, and "<Empty reply from service
provider>" for an empty one unless the service says ``max-messages = 0`` (no reply, not even its
error texts) or ``omit-empty = true``: engage answers 200 with an empty text/plain body, and the
service must say ``max-messages = 0``. smsbox has acknowledged the MO to bearerbox before it calls:
any other answer is retried only with ``http-request-retry`` (and ``http-queue-delay``) in the
smsbox group, else the MO is lost; engage answers 503 when it could not store it.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from typing import Any

from engage.engine.providers import inbound_fields
from engage.engine.providers.base import MalformedCallback
from engage.engine.providers.callback_fields import message_id

CODINGS = {"0": "UTF-8", "1": "ISO-8859-1", "2": "UTF-16BE"}  # Kannel's DC_7BIT, DC_8BIT, DC_UCS2
EIGHT_BIT = "8-BIT"  # %C for 8-bit data: its octets, kept one character each


def read_mo(args: Mapping[str, str], raw: Mapping[str, bytes]) -> list[dict[str, Any]]:
    """The MO one get-url call holds; MalformedCallback naming the field that cannot be read."""
    for field, escape in (("from", "%p"), ("to", "%P"), ("text", "%b")):
        if (args.get(field) or "").strip() == escape:
            raise MalformedCallback(f"{field}: got the unsubstituted escape {escape}; only Kannel's smsbox "
                                    "should call this URL")
    source = inbound_fields.address(args.get("from"), "from")
    destination = inbound_fields.address(args.get("to"), "to")
    if "text" not in raw and "text" not in args:
        raise MalformedCallback("text: missing; the get-url must pass the message as text=%b")
    body = raw["text"] if "text" in raw else args["text"].encode()
    text = inbound_fields.text(decode(body, args.get("charset"), args.get("coding")), "text")
    ref = message_id(args["id"], "id") if args.get("id") and args["id"] != "%I" else None
    inbound_fields.moment(args.get("time"), "time")
    return [{"source": source, "destination": destination, "text": text, "provider_ref": ref}]


def decode(body: bytes, charset: str | None, coding: str | None) -> str:
    """The text of ``body`` in the charset Kannel names, else the one its coding implies; octets that
    are not of that charset become U+FFFD (the text is the subscriber's: kept, not refused)."""
    name = (charset or "").strip().strip('"')
    coding = (coding or "").strip()
    if name.upper() == EIGHT_BIT or (not name and coding == "1"):
        return body.decode("latin-1")
    if not name:
        if coding and coding not in CODINGS and coding != "-1":
            raise MalformedCallback(f"coding: {coding[:12]!r} is not a Kannel coding (0 GSM-7, 1 8-bit, 2 UCS-2)")
        name = CODINGS.get(coding, "UTF-8")
    try:
        codecs.lookup(name)
    except LookupError:
        raise MalformedCallback(f"charset: {name[:40]!r} is not a charset engage knows") from None
    return body.decode(name, errors="replace")
