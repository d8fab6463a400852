"""Loyalty: the subscriber's tier and points balance (profile fields kept by the loyalty programme).

    {"kind": "loyalty_tier", "tiers": ["gold", "platinum"]}     the tier is one of these
    {"kind": "loyalty_points", "op": "ge", "value": 1000}        ops: eq ne lt le gt ge between

A subscriber with no points recorded has 0 points: "fewer than 100 points" includes them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, or_

from engage.engine.segments.criteria import CompileContext, Param, criterion
from engage.engine.segments.kinds._values import compare, get_str_list, get_threshold, threshold_op
from engage.engine.store.schema import Subscriber


@criterion("loyalty_tier", label="Loyalty tier is one of", params=(
    Param("tiers", "list[string]", "tiers to match (any of)", label="tiers",
          ask="enter one or more tiers, separated by commas"),
))
def loyalty_tier(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """The subscriber's loyalty tier is one of a list."""
    return Subscriber.loyalty_tier.in_(get_str_list(node, "tiers", path, max_length=32))


@criterion("loyalty_points", label="Loyalty points", params=(
    threshold_op(),
    Param("value", "integer", "points; [low, high] for between", label="points", ask="enter a number of points"),
))
def loyalty_points(node: dict[str, Any], path: str, ctx: CompileContext) -> ColumnElement[bool]:
    """The subscriber's loyalty points balance compared with a value (none recorded counts as 0)."""
    threshold = get_threshold(node, path, integer=True)
    condition = compare(Subscriber.loyalty_points, threshold)
    return or_(condition, Subscriber.loyalty_points.is_(None)) if threshold.holds_for_zero() else condition
