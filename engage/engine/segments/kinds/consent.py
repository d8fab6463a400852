"""Kind "opted_out": consent, per channel, from the opt-out registry (keyed by number).

    {"kind": "opted_out", "channel": "sms"}                  opted out of SMS
    {"kind": "opted_out", "channel": "ussd", "value": false} not opted out of USSD

Launching a campaign sets opted-out subscribers aside whatever the segment says; this kind lets
a segment show or study them (e.g. "opted out of SMS but not of USSD")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists

from engage.engine.consent import CHANNELS
from engage.engine.segments.criteria import CompileContext, Param, criterion
from engage.engine.segments.kinds._values import get_bool, get_choice
from engage.engine.store.schema import OptOut, Subscriber


@criterion("opted_out", label="Opted out", params=(
    Param("value", "boolean", "true (default): is opted out; false: is not", required=False, default=True,
          label="opted out or not", options=((True, "has opted out"), (False, "has not opted out"))),
    Param("channel", "string", f"one of {', '.join(CHANNELS)}; default sms", required=False, default="sms",
          label="of", options=tuple((c, c.upper()) for c in CHANNELS)),
))
def opted_out(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """The subscriber's number is (or is not) opted out of a channel."""
    channel = get_choice(node, "channel", path, CHANNELS, "sms")
    registered = (exists().where(OptOut.msisdn == Subscriber.msisdn, OptOut.channel == channel)
                  .correlate_except(OptOut))
    return registered if get_bool(node, "value", path, True) else ~registered
