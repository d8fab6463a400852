"""Kind "number_prefix": the subscriber's number (E.164) starts with one of some prefixes, e.g.
an operator's or a region's number range.

    {"kind": "number_prefix", "prefixes": ["+99890", "+99891"]}     the '+' may be omitted

Prefixes are digits only (checked), matched with an escaped LIKE 'prefix%' on msisdn, which a
prefix-capable index on msisdn can serve. A requester shown numbers masked may give prefixes only as
long as the mask shows (segments.masked_numbers)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import ColumnElement, or_

from engage.engine.segments import masked_numbers
from engage.engine.segments.criteria import CompileContext, Param, SegmentError, criterion
from engage.engine.segments.kinds._values import escape_like, get_str_list
from engage.engine.store.schema import Subscriber

_PREFIX = re.compile(r"\+?[0-9]{1,15}")


@criterion("number_prefix", label="Phone number starts with", params=(
    Param("prefixes", "list[string]", "E.164 prefixes, e.g. +99890", label="prefixes",
          ask="enter one or more prefixes such as +99890, separated by commas"),
))
def number_prefix(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """The subscriber's number starts with one of a list of prefixes."""
    prefixes = []
    for prefix in get_str_list(node, "prefixes", path, max_length=16):
        if not _PREFIX.fullmatch(prefix):
            raise SegmentError(path, f"prefix {prefix!r} must be digits, with an optional leading '+'",
                               param="prefixes")
        prefixes.append(prefix if prefix.startswith("+") else "+" + prefix)
        if ctx.masked:
            masked_numbers.check_prefix(prefixes[-1], path)
    return or_(*(Subscriber.msisdn.like(escape_like(p) + "%", escape="\\") for p in sorted(set(prefixes))))
