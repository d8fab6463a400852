"""Whole-population kinds.

    {"kind": "all"}
        every subscriber (a campaign to everyone, or the start of an "all except ..." tree)
    {"kind": "sample", "percent": 10, "seed": 0}
        a fixed pseudo-random share of subscribers: the same people for the same seed, every
        time and on both databases, whatever else the tree says; a different seed, a different
        share. percent from 0 to 100, two decimals at most; seed 0 to 9999 (default 0).

The sample buckets each subscriber by (id * 40503 + seed) mod 10000: a multiplicative hash
that spreads consecutive ids over all buckets, in 64-bit integers on both databases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, true

from engage.engine.segments.criteria import CompileContext, Param, SegmentError, criterion
from engage.engine.segments.kinds._values import get_int, get_number
from engage.engine.store.schema import Subscriber

BUCKETS = 10000


@criterion("all", label="Everyone")
def everyone(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """Every subscriber."""
    return true()


@criterion("sample", label="A random share", params=(
    Param("percent", "number", "share of subscribers, 0 to 100", label="percent",
          ask="enter a percentage from 0 to 100"),
    Param("seed", "integer", "which share (0 to 9999; default 0)", required=False, default=0, label="share number",
          ask="enter a share number from 0 to 9999"),
))
def sample(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """A fixed pseudo-random percentage of subscribers (the same ones for the same seed)."""
    if node.get("percent") is None:
        raise SegmentError(path, "'percent' is required", param="percent")
    percent = get_number(node["percent"], "percent", path)
    if not 0 <= percent <= 100:
        raise SegmentError(path, f"'percent' must be between 0 and 100, got {percent}", param="percent")
    seed = get_int(node, "seed", path, minimum=0, maximum=BUCKETS - 1, default=0)
    return (Subscriber.id * 40503 + seed) % BUCKETS < round(percent * BUCKETS / 100)
